"""The pieces of `make bench`'s load run that could break without anyone noticing:
the request mix, the wrk script and the reading of its output, the choice of
level, and the process memory readings. The 60-second load itself runs only
in `make bench` (devtools/benchmarks/load.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from devtools.benchmarks import load
from devtools.benchmarks.load import LevelResult

SLUGS = [f"person-{number}-s{number}" for number in range(50)]

WRK_OUTPUT = """\
Running 1m test @ http://127.0.0.1:40123/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    84.12ms   40.55ms 612.02ms   71.20%
    Req/Sec   382.91     52.10   500.00     70.00%
  22941 requests in 1.00m, 1.02GB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    382.12
Transfer/sec:     17.40MB
penpals-load requests=22941 duration_us=60036512 bytes=1095432110 p50_us=80211 \
p90_us=131004 p95_us=152330 p99_us=240118 max_us=612020 connect_errors=0 read_errors=2 \
write_errors=0 timeout_errors=1 status_errors=4 redirects=0
"""


def level(connections: int, p95_ms: float) -> LevelResult:
    return LevelResult(connections, 1000, 60.0, 10, 20, p95_ms, 300, 400, 0, 0, 0)


def test_it_builds_the_mix_in_the_planned_shares():
    mix = load.build_mix(SLUGS, size=1000)

    def kind_of(entry):
        session, path = entry
        if session == "session":
            return "inbox"
        if path.startswith("/inmates/?q="):
            return "search"
        if path == "/inmates/" or path.startswith("/inmates/?"):
            return "directory"
        return "profile"

    assert Counter(map(kind_of, mix)) == {
        "directory": 350,
        "search": 200,
        "profile": 350,
        "inbox": 100,
    }
    # Only the inbox carries the pen pal's cookie; every profile is a real slug.
    assert {path for kind, path in mix if kind == "session"} == {load.INBOX_PATH}
    assert {path for kind, path in mix if kind_of((kind, path)) == "profile"} <= {
        f"/inmates/{slug}/" for slug in SLUGS
    }
    assert any("page=" in path for _, path in mix)
    assert load.build_mix(SLUGS, size=1000) == mix  # repeatable


def test_it_spreads_a_mix_over_many_pages_and_profiles():
    slugs = [f"person-{number}-s{number}" for number in range(5000)]
    hot = load.build_mix(slugs[:50], size=3000)
    spread = load.build_mix(slugs, size=3000, is_spread=True)
    # Most visitors' requests of the spread mix are pages of their own; the
    # hot mix repeats a few dozen directory and search pages.
    spread_pages = [path for kind, path in spread if kind == "anon"]
    hot_pages = [path for kind, path in hot if kind == "anon"]
    assert len(set(spread_pages)) > 0.75 * len(spread_pages)
    assert len(set(hot_pages)) < 0.1 * len(hot_pages)
    assert len({path for _, path in spread if load._is_profile_page(path)}) > 900
    # Misspelt searches are part of it.
    assert any(f"q={typo}" in path for typo in load.MISSPELLINGS for _, path in spread)


def test_it_signs_in_the_share_of_requests_asked_for():
    mix = load.build_mix(SLUGS, size=900, is_spread=True, signed_in_share=1 / 3)
    signed_in = [path for kind, path in mix if kind == "session"]
    assert len(signed_in) == 300
    # Not only the inbox: directory, search and profile pages as the pen pal.
    assert {path for path in signed_in if path != load.INBOX_PATH}
    assert any(path.startswith("/inmates/?q=") for path in signed_in)
    assert any(load._is_profile_page(path) for path in signed_in)
    assert load._expected_marker("session", "/inmates/?q=chess") == b'class="profile-card"'
    assert load._expected_marker("session", load.INBOX_PATH) == b'class="inbox-item'


def test_it_plans_a_hot_a_spread_and_a_signed_in_mix():
    plans = {plan.name: plan for plan in load.MIXES}
    assert set(plans) == {"hot", "spread", "signed_in"}
    assert plans["spread"].profile_sample >= 10_000
    assert plans["signed_in"].signed_in_share == pytest.approx(1 / 3)


def test_it_checks_a_sample_of_a_spread_mix():
    mix = load.build_mix(SLUGS, size=2000, is_spread=True)
    checked = load.pages_to_check(mix, profiles=5, others=40)
    assert len(checked) == 45


def test_it_checks_every_distinct_page_but_few_profiles():
    mix = load.build_mix(SLUGS, size=1000)
    checked = load.pages_to_check(mix, profiles=5)
    profiles = [path for _, path in checked if not path.startswith("/inmates/?")]
    assert ("session", load.INBOX_PATH) in checked
    assert {entry for entry in set(mix) if "?" in entry[1]} <= set(checked)
    assert (
        len([path for path in profiles if path.startswith("/inmates/") and path != "/inmates/"])
        == 5
    )


def test_it_reads_the_result_line_of_wrk_output():
    result = load.parse_wrk_output(WRK_OUTPUT, connections=32)

    assert result.connections == 32
    assert result.requests == 22941
    assert result.rps == pytest.approx(382.12, abs=0.01)
    assert result.p50_ms == pytest.approx(80.211)
    assert result.p95_ms == pytest.approx(152.33)
    assert result.p99_ms == pytest.approx(240.118)
    # Socket errors (read, timeout) and 4xx/5xx answers are all errors.
    assert result.errors == 7


def test_it_refuses_wrk_output_without_the_result_line():
    with pytest.raises(RuntimeError, match="no result line"):
        load.parse_wrk_output(WRK_OUTPUT.split("penpals-load")[0], connections=32)


def test_it_picks_the_highest_level_that_keeps_p95_under_the_limit():
    results = [level(8, 40), level(16, 90), level(32, 199), level(64, 350)]
    assert load.pick_level(results).connections == 32
    # Counting up stops at the first level over the limit: a lucky higher one does not count.
    assert load.pick_level([level(8, 40), level(16, 250), level(32, 150)]).connections == 8
    # None under the limit: the lowest level, whose p95 shows the miss.
    assert load.pick_level([level(16, 300), level(8, 210)]).connections == 8


def test_it_reads_the_memory_of_a_process_and_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in load.child_pids(os.getpid())
        assert 1 < load.rss_mb(child.pid) < 1000
    finally:
        child.kill()
        child.wait(timeout=10)


def test_its_environment_is_production_over_plain_http(tmp_path):
    env = load.production_env(os.environ, tmp_path / "static")
    probe = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.STORAGES['staticfiles']['BACKEND'].rsplit('.', 1)[1], len(s.SECRET_KEY) >= 50)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {probe}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "penpals.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout.split() == [
        "False",
        "False",
        "False",
        "CompressedManifestStaticFilesStorage",
        "True",
    ]


class _StubSite(BaseHTTPRequestHandler):
    """Answers like the app would, and records who asked for what."""

    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's gthread workers do
    seen: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        cookie = self.headers.get("Cookie", "")
        self.seen.append((self.path, cookie))
        status = {"/moved/": 302, "/broken/": 500}.get(self.path, 200)
        if self.path == "/letters/" and cookie != "sessionid=abc":
            status = 302  # to the login page
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/accounts/login/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (ensure_wrk)")
def test_the_lua_script_replays_the_mix_and_reports_errors_and_redirects(tmp_path):
    mix = [
        ("anon", "/inmates/"),
        ("session", "/letters/"),
        ("anon", "/moved/"),
        ("anon", "/broken/"),
    ]
    mix_file = tmp_path / "mix.tsv"
    load.write_mix(mix * 5, mix_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubSite)
    _StubSite.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = load.run_wrk(
            f"http://127.0.0.1:{server.server_address[1]}",
            mix_file,
            "sessionid=abc",
            connections=2,
            seconds=1,
        )
    finally:
        server.shutdown()
        server.server_close()

    assert result.requests > 20
    seen_paths = Counter(path for path, _ in _StubSite.seen)
    assert set(seen_paths) == {"/inmates/", "/letters/", "/moved/", "/broken/"}
    # Only the inbox carries the cookie, and it always does (so no inbox 302s).
    assert {cookie for path, cookie in _StubSite.seen if path == "/letters/"} == {"sessionid=abc"}
    assert {cookie for path, cookie in _StubSite.seen if path != "/letters/"} == {""}
    # A quarter of the answers are 500s (errors) and a quarter 302s (redirects).
    assert result.status_errors == pytest.approx(result.requests / 4, abs=3)
    assert result.redirects == pytest.approx(result.requests / 4, abs=3)
    assert result.socket_errors == 0
