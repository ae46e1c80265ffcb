"""The load run of `make bench`: the production web stack under concurrent load.

gunicorn runs the app with production settings (DEBUG off, manifest static
files, a generated secret key; only the HTTPS redirect and Secure cookies are
off, for plain HTTP on loopback) on the 100,000-profile data set, with a
Celery worker beside it. `wrk`, a second process on loopback, replays a mix
of pages (`devtools/benchmarks/mix.lua`):

- directory: the list, filters and page numbers    35%
- search: full-text and name queries, some page 2  20%
- profile pages of random people                   35%
- the inbox of a signed-in pen pal (demo Alex)     10%

in three mixes (MIXES), one after the other:

- `hot`: 2,000 requests over 2,000 profiles and a few searches. After the
  first pass nearly every visitor's page is a hit of the public page cache
  (profiles.public_cache): the best case.
- `spread`: 60,000 requests over 40,000 profiles, hundreds of searches
  (misspelt ones too) and thousands of filter and page combinations, so
  within a run almost no page is asked for twice: the cache rarely helps.
- `signed_in`: the spread mix with a third of all requests made by the
  signed-in pen pal, whose pages are never cached.

Each mix runs for LOAD_SECONDS at each of LOAD_LEVELS open connections, rising. wrk is a
closed loop: each connection sends its next request when the last one is
answered, so requests per second is what the stack sustains at that
concurrency. Errors are 4xx/5xx answers and socket errors (connect, read,
write, 2 s timeout); 3xx answers are reported too, since none is expected.

Printed for each mix: each level's figures (`load.<mix>.c<N>.*`), then
`load.<mix>.rps`, `.p95_ms` and `.errors` of the highest level whose p95
stayed under 200 ms (levels stop rising at the first that does not); then
the resident memory of each gunicorn worker and of the Celery worker's
processes.

Run alone: `bash scripts/bench.sh -k load`. 10 to 15 minutes, plus 1 to 4
minutes to seed the profiles when they are missing (the directory
benchmark, which runs after this one, reuses them). LOAD_MIXES=hot,spread
runs only those mixes.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management import call_command

from devtools.benchmarks.directory import PROFILES
from devtools.demo.accounts import DEMO_PASSWORD
from devtools.demo.profiles import FIRST_NAMES, INTERESTS, seed_scale
from profiles import search_words
from profiles.models import InmateProfile

Figure = tuple[str, float | int, str]

LUA_SCRIPT = Path(__file__).resolve().parent / "mix.lua"

LEVELS = tuple(int(n) for n in os.environ.get("LOAD_LEVELS", "8,16,32,64").split(","))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
WARMUP_SECONDS = 10
P95_LIMIT_MS = 200.0
REQUEST_TIMEOUT_S = 2
# Two cores run gunicorn, Postgres, Redis, the Celery worker and wrk. Four
# single-threaded (sync) workers: a sync worker closes the connection after
# each answer, so the next request goes to whichever process is free. With
# threads (gthread), a kept-alive connection stays with the process that took
# it, several land on one process and its GIL holds them to one core: 2x4
# threads gave 54 req/s at 8 connections, 3x2 52, 4x1 86 (README).
WEB_WORKERS = int(os.environ.get("LOAD_WEB_WORKERS", "4"))
WEB_THREADS = int(os.environ.get("LOAD_WEB_THREADS", "1"))

PEN_PAL_EMAIL = "alex@example.org"
MIX_SIZE = 2_000
PROFILE_SAMPLE = 2_000


@dataclass(frozen=True)
class MixPlan:
    """One request mix of the load run (see the module docstring)."""

    name: str
    size: int  # requests in the mix file
    profile_sample: int  # distinct profiles visited
    is_spread: bool  # many distinct searches, filters and pages
    signed_in_share: float  # of all requests, the inbox included


MIXES = (
    MixPlan("hot", MIX_SIZE, PROFILE_SAMPLE, is_spread=False, signed_in_share=0.1),
    MixPlan("spread", 60_000, 40_000, is_spread=True, signed_in_share=0.1),
    MixPlan("signed_in", 60_000, 40_000, is_spread=True, signed_in_share=1 / 3),
)
SELECTED_MIXES = [name for name in os.environ.get("LOAD_MIXES", "").split(",") if name] or [
    plan.name for plan in MIXES
]
# Share of requests (out of 100) for each kind of page.
SHARES = {"directory": 35, "search": 20, "profile": 35, "inbox": 10}
INBOX_PATH = "/letters/"

DIRECTORY_FILTERS = [
    "",
    "gender=female",
    "gender=male&state=CA&seeking=education",
    "state=TX",
    "seeking=romance&accepting=on",
    "age_min=25&age_max=40&language=es",
    "release=2&photo=on",
    "sort=name",
    "sort=release&seeking=friendship",
    "new=on",
]
SEARCHES = [
    "chess",
    "poetry+guitar",
    "Marcus",
    "basketball+cooking",
    "%22bible+study%22",
    "gardening",
    "Maria",
    "jazz+history",
    "law",
    "science+fiction",
]


@dataclass(frozen=True)
class LevelResult:
    """What wrk measured at one concurrency level."""

    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    status_errors: int
    redirects: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors


# --- The request mix ---------------------------------------------------------------------


def _directory_path(rng: random.Random) -> str:
    query = rng.choice(DIRECTORY_FILTERS)
    # Most visitors stay on the first pages; a few go deep.
    page = rng.choice([1, 1, 1, 2, 3, 5, 10, rng.randint(11, 200)])
    if page > 1 and query:
        # Narrow filters have fewer pages: stay within the first few.
        page = min(page, 5)
    params = "&".join(part for part in (query, f"page={page}" if page > 1 else "") if part)
    return f"/inmates/?{params}" if params else "/inmates/"


def _search_path(rng: random.Random) -> str:
    page = "&page=2" if rng.random() < 0.2 else ""
    return f"/inmates/?q={rng.choice(SEARCHES)}{page}"


# The spread mixes combine these into thousands of distinct directory pages.
# Each filter's pages stay within what it has at 100,000 profiles, so that no
# page is past the end.
BROAD_FILTERS = [
    "gender=female", "gender=male", "seeking=friendship", "seeking=education",
    "seeking=faith", "language=en", "language=es", "accepting=on", "photo=on",
    "release=5", "age_min=30", "age_max=45",
]  # fmt: skip
SORTS = ["", "sort=name", "sort=updated", "sort=release"]
STATES = ["CA", "TX", "FL", "NY", "GA", "OH", "PA", "IL", "MI", "NC"]
# Misspellings that the vocabulary corrects (see profiles.search_words).
MISSPELLINGS = ["Marcis", "Pamla", "calligrafy", "gardning", "chees", "Jonh", "Micheal"]


def _spread_directory_path(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.3:  # no filter: any of the first 200 pages
        parts, page = [rng.choice(SORTS)], rng.randint(1, 200)
    elif shape < 0.7:  # one broad filter
        parts, page = [rng.choice(BROAD_FILTERS), rng.choice(SORTS)], rng.randint(1, 40)
    elif shape < 0.85:  # a state
        parts, page = [f"state={rng.choice(STATES)}", rng.choice(SORTS)], rng.randint(1, 10)
    else:  # two filters on different fields
        first = rng.choice(BROAD_FILTERS)
        field = first.split("=")[0]
        second = rng.choice([other for other in BROAD_FILTERS if not other.startswith(field)])
        parts, page = [first, second], rng.randint(1, 3)
    if page > 1:
        parts.append(f"page={page}")
    params = "&".join(part for part in parts if part)
    return f"/inmates/?{params}" if params else "/inmates/"


def _spread_search_path(rng: random.Random) -> str:

    shape = rng.random()
    if shape < 0.4:
        term, pages = rng.choice(INTERESTS), 10
    elif shape < 0.8:
        term, pages = rng.choice(rng.choice(list(FIRST_NAMES.values()))), 2
    elif shape < 0.9:
        term, pages = rng.choice(MISSPELLINGS), 1
    else:  # a letter left out of an interest: corrected from the vocabulary
        word = rng.choice([word for word in INTERESTS if len(word) >= 6 and " " not in word])
        cut = rng.randint(1, len(word) - 2)
        term, pages = word[:cut] + word[cut + 1 :], 1
    page = rng.randint(1, pages)
    return f"/inmates/?{urlencode({'q': term, **({'page': page} if page > 1 else {})})}"


def build_mix(
    slugs: Sequence[str],
    *,
    size: int = MIX_SIZE,
    seed: str = "penpals-load",
    is_spread: bool = False,
    signed_in_share: float = 0.0,
) -> list:
    """`size` (kind, path) requests in SHARES proportions, shuffled. Kind is
    "anon" (a visitor) or "session" (the signed-in pen pal). Spread mixes
    draw directory and search pages from many more combinations. Requests
    other than the inbox are made signed in until `signed_in_share` of all
    requests are."""
    if not slugs:
        raise ValueError("The mix needs profile slugs.")
    rng = random.Random(seed)  # noqa: S311 - a repeatable mix, not a secret
    directory_path = _spread_directory_path if is_spread else _directory_path
    search_path = _spread_search_path if is_spread else _search_path
    total_share = sum(SHARES.values())
    mix: list[tuple[str, str]] = []
    for kind, share in SHARES.items():
        for _ in range(size * share // total_share):
            if kind == "directory":
                mix.append(("anon", directory_path(rng)))
            elif kind == "search":
                mix.append(("anon", search_path(rng)))
            elif kind == "profile":
                mix.append(("anon", f"/inmates/{rng.choice(slugs)}/"))
            else:
                mix.append(("session", INBOX_PATH))
    signed_in = sum(kind == "session" for kind, _ in mix)
    visitors = [index for index, (kind, _) in enumerate(mix) if kind == "anon"]
    for index in rng.sample(visitors, max(0, round(len(mix) * signed_in_share) - signed_in)):
        mix[index] = ("session", mix[index][1])
    rng.shuffle(mix)
    return mix


def write_mix(mix: Sequence[tuple[str, str]], path: Path) -> None:
    path.write_text("".join(f"{kind}\t{url_path}\n" for kind, url_path in mix))


# --- wrk -----------------------------------------------------------------------------------

RESULT_LINE = re.compile(r"^penpals-load (?P<pairs>.+)$", re.MULTILINE)


def parse_wrk_output(output: str, connections: int) -> LevelResult:
    """Read the line that devtools/benchmarks/mix.lua's done() prints."""
    match = RESULT_LINE.search(output)
    if match is None:
        raise RuntimeError(f"wrk printed no result line:\n{output}")
    values = {}
    for pair in match["pairs"].split():
        key, _, value = pair.partition("=")
        values[key] = int(value)
    return LevelResult(
        connections=connections,
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p90_ms=values["p90_us"] / 1000,
        p95_ms=values["p95_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        max_ms=values["max_us"] / 1000,
        socket_errors=sum(
            values[f"{kind}_errors"] for kind in ("connect", "read", "write", "timeout")
        ),
        status_errors=values["status_errors"],
        redirects=values["redirects"],
    )


def run_wrk(
    base_url: str, mix_file: Path, cookie: str, *, connections: int, seconds: int
) -> LevelResult:
    """One bounded wrk run (one thread: it needs a few percent of a core)."""
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_S}s",
        "--script",
        str(LUA_SCRIPT),
        f"{base_url}/",
        "--",
        str(mix_file),
        cookie,
    ]
    completed = subprocess.run(  # noqa: S603 - fixed command, loopback only
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout, connections)


def pick_level(results: Sequence[LevelResult], p95_limit_ms: float = P95_LIMIT_MS) -> LevelResult:
    """The highest concurrency that keeps p95 under the limit, counting up from
    the lowest and stopping at the first level over it; the lowest level when
    none stays under."""
    ordered = sorted(results, key=lambda result: result.connections)
    if not ordered:
        raise ValueError("No level was run.")
    chosen = ordered[0]
    for result in ordered:
        if result.p95_ms >= p95_limit_ms:
            break
        chosen = result
    return chosen


# --- Processes ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"No VmRSS for process {pid}")


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, in start order."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited while we looked
            continue
        # "pid (comm) state ppid ... starttime(22nd)": comm may hold spaces.
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid:
            children.append((int(fields[19]), int(entry.name)))
    return [child for _, child in sorted(children)]


def production_env(base: Mapping[str, str], static_root: Path) -> dict[str, str]:
    """The environment of a production deployment, served over plain HTTP on loopback."""
    env = dict(base)
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        # No TLS on loopback: no redirect to https, cookies not marked Secure, no HSTS.
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_HSTS_SECONDS="0",
        STATIC_ROOT=str(static_root),
        LOG_LEVEL="WARNING",
    )
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], env: dict[str, str], log: Path, stack: ExitStack):
    log_file = stack.enter_context(log.open("wb"))
    process = subprocess.Popen(  # noqa: S603 - our own commands
        command,
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(_stop, process)
    return process


def _stop(process: subprocess.Popen) -> None:
    """TERM the process group we started, then KILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class _KeepEveryStatus(urllib.request.HTTPErrorProcessor):
    """Hand back 3xx/4xx/5xx responses instead of following or raising."""

    def http_response(self, request, response):
        return response

    https_response = http_response


def _opener(jar: http.cookiejar.CookieJar | None = None) -> urllib.request.OpenerDirector:
    # Not `jar or ...`: an empty CookieJar is falsy.
    if jar is None:
        jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _KeepEveryStatus)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_healthy(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    opener = _opener()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{_tail(log)}")
        try:
            with opener.open(f"{base_url}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz in 60 s:\n{_tail(log)}")


def sign_in(base_url: str, email: str, password: str) -> str:
    """Log in through the real login form; return the session cookie ("sessionid=...")."""
    jar = http.cookiejar.CookieJar()
    opener = _opener(jar)
    with opener.open(f"{base_url}/accounts/login/", timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("The login page has no CSRF token.")
    body = urlencode({"login": email, "password": password, "csrfmiddlewaretoken": token[1]})
    # base_url is our own http://127.0.0.1 server.
    request = urllib.request.Request(f"{base_url}/accounts/login/", data=body.encode())  # noqa: S310
    with opener.open(request, timeout=10) as response:
        if response.status != 302:
            raise RuntimeError(f"Logging in {email} answered {response.status}, not a redirect.")
    session = next((cookie for cookie in jar if cookie.name == settings.SESSION_COOKIE_NAME), None)
    if session is None:
        raise RuntimeError(f"Logging in {email} set no session cookie.")
    return f"{session.name}={session.value}"


def check_page(base_url: str, path: str, cookie: str | None, marker: bytes) -> None:
    """The page answers 200 and shows what the mix means to measure."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{base_url}{path}", headers={"Cookie": cookie or ""}
    )
    with _opener().open(request, timeout=30) as response:
        body = response.read()
        if response.status != 200 or marker not in body:
            raise RuntimeError(f"{path} answered {response.status} without {marker!r}")


def pages_to_check(
    mix: Sequence[tuple[str, str]], profiles: int = 20, others: int | None = None
) -> list:
    """Every distinct directory, search and inbox request of the mix (or an
    even sample of `others` of them), and a few profiles (they share one
    template; checking 2,000 would take a minute)."""
    distinct = sorted(set(mix))
    profile_pages = [entry for entry in distinct if _is_profile_page(entry[1])]
    other_pages = [entry for entry in distinct if not _is_profile_page(entry[1])]
    if others is not None and len(other_pages) > others:
        step = len(other_pages) / others
        other_pages = [other_pages[int(number * step)] for number in range(others)]
    return other_pages + profile_pages[:profiles]


def _is_profile_page(path: str) -> bool:
    return (
        path.startswith("/inmates/") and not path.startswith("/inmates/?") and path != "/inmates/"
    )


def _expected_marker(kind: str, path: str) -> bytes:
    if path == INBOX_PATH:
        return b'class="inbox-item'
    if path.startswith("/inmates/?") or path == "/inmates/":
        return b'class="profile-card"'
    return b'id="profile-name"'


# --- Data ----------------------------------------------------------------------------------


def ensure_data() -> Iterator[Figure]:
    """The demo accounts and letters, and 100,000 published profiles (reused when present)."""

    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    listed = InmateProfile.objects.published().count()
    if listed < PROFILES:
        yield "load.seed_scale.seconds", seed_scale(PROFILES - listed), "s"
    # Bulk seeding bypasses the refresh that saves schedule.
    search_words.refresh()


def _profile_slugs(count: int = PROFILE_SAMPLE) -> list[str]:

    return list(
        InmateProfile.objects.published().order_by("?").values_list("slug", flat=True)[:count]
    )


# --- The benchmark ----------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"load: {message}", file=sys.stderr, flush=True)


def bench_load() -> Iterator[Figure]:
    if shutil.which("wrk") is None:
        _say("SKIPPED: wrk is not installed (scripts/lib.sh ensure_wrk, or apt-get install wrk)")
        return

    yield from ensure_data()
    yield "load.machine_loadavg_1m", os.getloadavg()[0], "load"
    with ExitStack() as stack:
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="penpals-load-")))
        env = production_env(os.environ, run_dir / "static")
        subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            timeout=300,
        )
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        worker = _start(
            [sys.executable, "-m", "celery", "-A", "penpals", "worker", "--loglevel=WARNING"],
            env,
            run_dir / "worker.log",
            stack,
        )
        web_log = run_dir / "gunicorn.log"
        web = _start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "penpals.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WEB_WORKERS),
                "--threads",
                str(WEB_THREADS),
                "--graceful-timeout",
                "5",
            ],
            env,
            web_log,
            stack,
        )
        wait_until_healthy(base_url, web, web_log)
        cookie = sign_in(base_url, PEN_PAL_EMAIL, DEMO_PASSWORD)

        yield "load.web_workers", WEB_WORKERS, "processes"
        yield "load.web_threads", WEB_THREADS, "threads"
        for plan in MIXES:
            if plan.name in SELECTED_MIXES:
                yield from _run_mix(plan, base_url, cookie, run_dir)

        # Measured while everything is still up, after the heaviest level.
        for number, pid in enumerate(child_pids(web.pid), start=1):
            yield f"load.web_rss_mb.{number}", rss_mb(pid), "MB"
        yield "load.web_master_rss_mb", rss_mb(web.pid), "MB"
        if worker.poll() is not None:
            raise RuntimeError(f"The Celery worker exited:\n{_tail(run_dir / 'worker.log')}")
        yield "load.worker_rss_mb", rss_mb(worker.pid), "MB"
        for number, pid in enumerate(child_pids(worker.pid), start=1):
            yield f"load.worker_pool_rss_mb.{number}", rss_mb(pid), "MB"

        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited during the run:\n{_tail(web_log)}")


def _run_mix(plan: MixPlan, base_url: str, cookie: str, run_dir: Path) -> Iterator[Figure]:
    """Check the mix's pages, warm up, then run it at rising concurrency."""
    mix = build_mix(
        _profile_slugs(plan.profile_sample),
        size=plan.size,
        seed=f"penpals-load-{plan.name}",
        is_spread=plan.is_spread,
        signed_in_share=plan.signed_in_share,
    )
    mix_file = run_dir / f"mix-{plan.name}.tsv"
    write_mix(mix, mix_file)
    for kind, path in pages_to_check(mix, others=None if not plan.is_spread else 60):
        check_page(
            base_url, path, cookie if kind == "session" else None, _expected_marker(kind, path)
        )
    name = f"load.{plan.name}"
    yield f"{name}.requests_in_mix", len(mix), "requests"
    yield f"{name}.distinct_pages", len({path for _, path in mix}), "pages"
    yield f"{name}.signed_in_share", sum(kind == "session" for kind, _ in mix) / len(mix), "share"
    _say(f"{plan.name}: warming up for {WARMUP_SECONDS} s")
    run_wrk(base_url, mix_file, cookie, connections=LEVELS[0], seconds=WARMUP_SECONDS)
    results = []
    for connections in LEVELS:
        _say(f"{plan.name}: {connections} connections for {SECONDS} s")
        result = run_wrk(base_url, mix_file, cookie, connections=connections, seconds=SECONDS)
        results.append(result)
        yield f"{name}.c{connections}.rps", result.rps, "req/s"
        yield f"{name}.c{connections}.p50_ms", result.p50_ms, "ms"
        yield f"{name}.c{connections}.p95_ms", result.p95_ms, "ms"
        yield f"{name}.c{connections}.p99_ms", result.p99_ms, "ms"
        yield f"{name}.c{connections}.errors", result.errors, "errors"
        yield f"{name}.c{connections}.redirects", result.redirects, "responses"
        if result.p95_ms >= P95_LIMIT_MS:
            break
    chosen = pick_level(results)
    yield f"{name}.concurrency", chosen.connections, "connections"
    yield f"{name}.rps", chosen.rps, "req/s"
    yield f"{name}.p95_ms", chosen.p95_ms, "ms"
    yield f"{name}.errors", chosen.errors, "errors"
