"""The load run of `make bench`: the production web stack under concurrent load.

gunicorn runs the app with production settings (DEBUG off, manifest static
files, a generated secret key; only the HTTPS redirect and Secure cookies are
off, for plain HTTP on loopback) on the 100,000-profile data set, with a
Celery worker beside it. `wrk`, a second process on loopback, replays a mix
of pages (`scripts/load/mix.lua`):

- directory: the list, filters and page numbers    35%
- search: full-text and name queries, some page 2  20%
- profile pages of 2,000 random people             35%
- the inbox of a signed-in pen pal (demo Alex)     10%

for LOAD_SECONDS at each of LOAD_LEVELS open connections, rising. wrk is a
closed loop: each connection sends its next request when the last one is
answered, so requests per second is what the stack sustains at that
concurrency. Errors are 4xx/5xx answers and socket errors (connect, read,
write, 2 s timeout); 3xx answers are reported too, since none is expected.

Printed: each level's figures (`load.c<N>.*`), then `load.rps`,
`load.p95_ms` and `load.errors` of the highest level whose p95 stayed under
200 ms (levels stop rising at the first that does not), and the resident
memory of each gunicorn worker and of the Celery worker's processes.

Run alone: `bash scripts/bench.sh -k load`. 3 to 6 minutes, plus 1 to 4 minutes
to seed the profiles when they are missing (the directory benchmark, which
runs after this one, reuses them).
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

Figure = tuple[str, float | int, str]

LUA_SCRIPT = Path(settings.BASE_DIR) / "scripts" / "load" / "mix.lua"

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


def build_mix(slugs: Sequence[str], *, size: int = MIX_SIZE, seed: str = "penpals-load") -> list:
    """`size` (kind, path) requests in SHARES proportions, shuffled. Kind is
    "anon" (a visitor) or "session" (the signed-in pen pal)."""
    if not slugs:
        raise ValueError("The mix needs profile slugs.")
    rng = random.Random(seed)  # noqa: S311 - a repeatable mix, not a secret
    total_share = sum(SHARES.values())
    mix: list[tuple[str, str]] = []
    for kind, share in SHARES.items():
        for _ in range(size * share // total_share):
            if kind == "directory":
                mix.append(("anon", _directory_path(rng)))
            elif kind == "search":
                mix.append(("anon", _search_path(rng)))
            elif kind == "profile":
                mix.append(("anon", f"/inmates/{rng.choice(slugs)}/"))
            else:
                mix.append(("session", INBOX_PATH))
    rng.shuffle(mix)
    return mix


def write_mix(mix: Sequence[tuple[str, str]], path: Path) -> None:
    path.write_text("".join(f"{kind}\t{url_path}\n" for kind, url_path in mix))


# --- wrk -----------------------------------------------------------------------------------

RESULT_LINE = re.compile(r"^penpals-load (?P<pairs>.+)$", re.MULTILINE)


def parse_wrk_output(output: str, connections: int) -> LevelResult:
    """Read the line that scripts/load/mix.lua's done() prints."""
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


def pages_to_check(mix: Sequence[tuple[str, str]], profiles: int = 20) -> list:
    """Every distinct directory, search and inbox request of the mix, and a few
    profiles (they share one template; checking 2,000 would take a minute)."""
    distinct = sorted(set(mix))
    profile_pages = [
        entry
        for entry in distinct
        if not entry[1].startswith("/inmates/?") and entry[1] != "/inmates/" and entry[0] == "anon"
    ]
    others = [entry for entry in distinct if entry not in set(profile_pages)]
    return others + profile_pages[:profiles]


def _expected_marker(kind: str, path: str) -> bytes:
    if kind == "session":
        return b'class="inbox-item'
    if path.startswith("/inmates/?") or path == "/inmates/":
        return b'class="profile-card"'
    return b'id="profile-name"'


# --- Data ----------------------------------------------------------------------------------


def ensure_data() -> Iterator[Figure]:
    """The demo accounts and letters, and 100,000 published profiles (reused when present)."""
    from django.core.management import call_command

    from profiles.benchmarks import PROFILES
    from profiles.demo import seed_scale
    from profiles.models import InmateProfile

    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    listed = InmateProfile.objects.published().count()
    if listed < PROFILES:
        yield "load.seed_scale.seconds", seed_scale(PROFILES - listed), "s"


def _profile_slugs() -> list[str]:
    from profiles.models import InmateProfile

    return list(
        InmateProfile.objects.published()
        .order_by("?")
        .values_list("slug", flat=True)[:PROFILE_SAMPLE]
    )


# --- The benchmark ----------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"load: {message}", file=sys.stderr, flush=True)


def bench_load() -> Iterator[Figure]:
    if shutil.which("wrk") is None:
        _say("SKIPPED: wrk is not installed (scripts/lib.sh ensure_wrk, or apt-get install wrk)")
        return
    from penpals.management.commands.seed_demo import DEMO_PASSWORD

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

        mix = build_mix(_profile_slugs())
        mix_file = run_dir / "mix.tsv"
        write_mix(mix, mix_file)
        for kind, path in pages_to_check(mix):
            check_page(
                base_url,
                path,
                cookie if kind == "session" else None,
                (_expected_marker(kind, path)),
            )
        _say(f"warming up for {WARMUP_SECONDS} s")
        run_wrk(base_url, mix_file, cookie, connections=LEVELS[0], seconds=WARMUP_SECONDS)

        yield "load.web_workers", WEB_WORKERS, "processes"
        yield "load.web_threads", WEB_THREADS, "threads"
        results = []
        for connections in LEVELS:
            _say(f"{connections} connections for {SECONDS} s")
            result = run_wrk(base_url, mix_file, cookie, connections=connections, seconds=SECONDS)
            results.append(result)
            yield f"load.c{connections}.rps", result.rps, "req/s"
            yield f"load.c{connections}.p50_ms", result.p50_ms, "ms"
            yield f"load.c{connections}.p95_ms", result.p95_ms, "ms"
            yield f"load.c{connections}.p99_ms", result.p99_ms, "ms"
            yield f"load.c{connections}.errors", result.errors, "errors"
            yield f"load.c{connections}.redirects", result.redirects, "responses"
            if result.p95_ms >= P95_LIMIT_MS:
                break

        # Measured while everything is still up, after the heaviest level.
        for number, pid in enumerate(child_pids(web.pid), start=1):
            yield f"load.web_rss_mb.{number}", rss_mb(pid), "MB"
        yield "load.web_master_rss_mb", rss_mb(web.pid), "MB"
        if worker.poll() is not None:
            raise RuntimeError(f"The Celery worker exited:\n{_tail(run_dir / 'worker.log')}")
        yield "load.worker_rss_mb", rss_mb(worker.pid), "MB"
        for number, pid in enumerate(child_pids(worker.pid), start=1):
            yield f"load.worker_pool_rss_mb.{number}", rss_mb(pid), "MB"

        chosen = pick_level(results)
        yield "load.concurrency", chosen.connections, "connections"
        yield "load.rps", chosen.rps, "req/s"
        yield "load.p95_ms", chosen.p95_ms, "ms"
        yield "load.errors", chosen.errors, "errors"
        if web.poll() is not None:
            raise RuntimeError(f"gunicorn exited during the run:\n{_tail(web_log)}")
