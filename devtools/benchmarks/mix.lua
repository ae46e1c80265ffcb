-- wrk script for the load run of `make bench` (devtools/benchmarks/load.py).
--
--   wrk ... -s devtools/benchmarks/mix.lua URL -- MIX_FILE COOKIE
--
-- MIX_FILE has one request a line, "anon<TAB>/path" for a visitor or
-- "session<TAB>/path" for the signed-in pen pal, whose COOKIE
-- ("sessionid=...") is sent with those requests only. Every thread walks the
-- whole file round-robin, from its own offset, so the share of each kind of
-- page is the file's. done() prints one line for the Python side to read.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 1

function init(args)
  local mix_path, cookie = args[1], args[2]
  if not mix_path or not cookie then
    error("usage: wrk ... -s mix.lua URL -- MIX_FILE COOKIE")
  end
  local file = assert(io.open(mix_path, "r"))
  for line in file:lines() do
    local kind, path = line:match("^(%a+)\t(/%S*)$")
    if kind == "anon" then
      table.insert(requests, wrk.format("GET", path))
    elseif kind == "session" then
      table.insert(requests, wrk.format("GET", path, { Cookie = cookie }))
    elseif line ~= "" then
      error("mix file " .. mix_path .. ": cannot read line: " .. line)
    end
  end
  file:close()
  if #requests == 0 then
    error("mix file " .. mix_path .. " has no requests")
  end
  position = (id * 7919) % #requests + 1
  -- Globals, so done() can read them through thread:get().
  redirects = 0
end

function request()
  local next_request = requests[position]
  position = position % #requests + 1
  return next_request
end

-- wrk counts 4xx/5xx and socket errors itself; a 3xx is not an error, but
-- here it would mean a page we did not mean to measure (a lost session
-- redirected to the login page), so it is counted and reported.
function response(status, headers, body)
  if status >= 300 and status < 400 then
    redirects = redirects + 1
  end
end

function done(summary, latency, requests)
  local redirected = 0
  for _, thread in ipairs(threads) do
    redirected = redirected + (thread:get("redirects") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    "penpals-load requests=%.0f duration_us=%.0f bytes=%.0f"
      .. " p50_us=%.0f p90_us=%.0f p95_us=%.0f p99_us=%.0f max_us=%.0f"
      .. " connect_errors=%.0f read_errors=%.0f write_errors=%.0f timeout_errors=%.0f"
      .. " status_errors=%.0f redirects=%.0f\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status, redirected
  ))
end
