"""Errors reach a person, and nothing private goes with them.

A request error and a task that fails for good are sent, by real processes
with SENTRY_DSN set, to a local HTTP endpoint standing in for Sentry; the
raw envelopes must hold the exception and the request id, and none of the
private values the request or task carried. The emails to ADMINS likewise.
"""

from __future__ import annotations

import email
import email.message
import gzip
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from penpals import error_reports, request_ids
from tests.utils import database_url

ROOT = Path(__file__).resolve().parents[2]

# Private values a request or task carries; none may leave in a report.
PLANTED = {
    "legal_name": "Zebedee Quillfeather-Ormsby",
    "date_of_birth": "1961-04-17",
    "inmate_number": "QX-7730412",
    "email": "marguerite.privately@example.org",
    "body": "Dear Sam, the blue heron came back to the pond today.",
    "password": "hunter2-correct-staple-9431",
}
SESSION_ID = "sessionvalue0123456789abcdefghijklmnop"
CSRF_TOKEN = "csrfvalue0123456789abcdefghijklmnopqrs"
QUERY = {"q": "Quillfeather", "dob": "17/04/1961"}


def leaked_values(text: str) -> list[str]:
    """The planted values found in `text`, as written or URL-encoded."""
    values = [*PLANTED.values(), SESSION_ID, CSRF_TOKEN, *QUERY.values()]
    forms = {
        form
        for value in values
        for form in (value, urllib.parse.quote(value), urllib.parse.quote_plus(value))
    }
    return sorted(form for form in forms if form in text)


# --- A local endpoint standing in for Sentry ----------------------------------------------


class SentryStandIn:
    """Records every envelope posted to /api/<project>/envelope/, decompressed."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        recorded = self.envelopes

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    raw = gzip.decompress(raw)
                elif encoding == "br":  # sentry-sdk's choice when brotli is installed
                    raw = brotli.decompress(raw)
                elif encoding == "deflate":
                    raw = zlib.decompress(raw)
                else:
                    assert encoding == "", f"unexpected Content-Encoding {encoding}"
                if re.fullmatch(r"/api/\d+/envelope/", self.path):
                    recorded.append(raw)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_port}/1"

    def events(self) -> list[dict]:
        """The event items of every envelope so far."""
        events = []
        for envelope in self.envelopes:
            _header, _, rest = envelope.partition(b"\n")
            while rest.strip():
                item_line, _, rest = rest.partition(b"\n")
                item = json.loads(item_line)
                if "length" in item:
                    payload, rest = rest[: item["length"]], rest[item["length"] + 1 :]
                else:
                    payload, _, rest = rest.partition(b"\n")
                if item.get("type") == "event":
                    events.append(json.loads(payload))
        return events

    def wait_for_events(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count:
            assert time.monotonic() < deadline, f"Sentry got {len(self.events())} events"
            time.sleep(0.1)
        return self.events()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentry():
    stand_in = SentryStandIn()
    yield stand_in
    stand_in.stop()


def frames_of(event: dict) -> list[dict]:
    return [
        frame
        for exception in event["exception"]["values"]
        for frame in exception["stacktrace"]["frames"]
    ]


# --- A request error ------------------------------------------------------------------------

SERVER = """
import django
django.setup()
from wsgiref.simple_server import WSGIRequestHandler, make_server
from django.core.wsgi import get_wsgi_application

class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
print(f"listening on {server.server_port}", flush=True)
server.serve_forever()
"""


def start_server(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, int]:
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (found := re.search(r"listening on (\d+)", log_path.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    return process, int(found.group(1))


def post_failing_letter(port: int) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/failing/write/?{urllib.parse.urlencode(QUERY)}",
        data=urllib.parse.urlencode(PLANTED).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"sessionid={SESSION_ID}; csrftoken={CSRF_TOKEN}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (local)
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.django_db
def test_a_request_error_reaches_sentry_scrubbed(sentry, tmp_path):
    from django.db import connection

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.penpals.failing_settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "SENTRY_DSN": sentry.dsn,
        "SENTRY_ENVIRONMENT": "test",
        "SENTRY_RELEASE": "penpals@test",
    }
    server, port = start_server(env, tmp_path / "server.log")
    try:
        status, headers = post_failing_letter(port)
        events = sentry.wait_for_events(1)
        time.sleep(1)  # a second event would have come by now
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert status == 500
    request_id = headers["X-Request-ID"]
    assert len(sentry.events()) == 1
    [event] = events
    assert event["exception"]["values"][-1]["type"] == "LetterServiceDown"
    assert "write_and_fail" in [frame["function"] for frame in frames_of(event)]
    assert all("vars" not in frame for frame in frames_of(event))
    assert event["tags"]["request_id"] == request_id
    assert (event["environment"], event["release"]) == ("test", "penpals@test")
    # The email address in the exception's message is masked, the message kept.
    assert "reply to [email]" in event["exception"]["values"][-1]["value"]
    raw = b"".join(sentry.envelopes).decode()
    assert leaked_values(raw) == []
    # The server's own log line of the error names the same request.
    logged = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()
              if line.startswith("{")]  # fmt: skip
    errors = [line for line in logged if line["message"].startswith("Internal Server Error")]
    assert [line["request_id"] for line in errors] == [request_id]


# --- A task that fails for good -------------------------------------------------------------


@pytest.fixture
def reporting_worker(sentry, _celery_worker_env, monkeypatch, tmp_path, request):
    """A real worker with Sentry, ADMINS and the failing task, debug off."""
    env = _celery_worker_env[1]
    mail_dir = tmp_path / "mail"
    for name, value in {
        "DJANGO_SETTINGS_MODULE": "tests.penpals.failing_settings",
        "SENTRY_DSN": sentry.dsn,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_ADMINS": "Ops <ops@example.net>",
        "EMAIL_FILE_PATH": str(mail_dir),
    }.items():
        monkeypatch.setitem(env, name, value)
    worker = request.getfixturevalue("celery_worker_process")
    return worker, mail_dir


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_task_that_fails_for_good_reaches_sentry_and_admins_once(
    sentry, reporting_worker, _celery_worker_env
):
    from tests.penpals.failing_parts import ATTEMPTS, fail_for_good

    worker, mail_dir = reporting_worker
    log_path = _celery_worker_env[0]
    log_start = log_path.stat().st_size
    request_id = "task-test-" + secrets.token_hex(8)
    fail_for_good.apply_async(
        args=[7],
        kwargs={
            "legal_name": PLANTED["legal_name"],
            "body": PLANTED["body"],
            "email": PLANTED["email"],
        },
        headers={request_ids.TASK_HEADER: request_id},
    )

    def worker_log() -> str:
        with open(log_path) as log:
            log.seek(log_start)
            return log.read()

    deadline = time.monotonic() + 60
    while "failed after" not in worker_log():
        assert time.monotonic() < deadline, f"the task did not fail:\n{worker_log()}"
        assert worker.poll() is None, "the worker died"
        time.sleep(0.2)
    events = sentry.wait_for_events(1)
    time.sleep(2)  # a second event (a retry reported) would have come by now

    assert worker_log().count("retry: Retry in 0s") == ATTEMPTS - 1
    assert len(sentry.events()) == 1
    [event] = events
    assert event["exception"]["values"][-1]["type"] == "ConnectionError"
    assert "fail_for_good" in [frame["function"] for frame in frames_of(event)]
    assert event["tags"]["request_id"] == request_id
    assert event["extra"]["celery-job"]["task_name"] == "tests.penpals.failing_parts.fail_for_good"
    assert leaked_values(b"".join(sentry.envelopes).decode()) == []

    # One email to ADMINS, for the failure and not for the retries.
    [message] = mailed(mail_dir)
    assert message["To"] == "ops@example.net"
    assert f"failed after {ATTEMPTS - 1} retries" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert f"Request id: {request_id}" in body
    assert "ConnectionError" in body
    assert leaked_values(message.as_string() + body) == []


def mailed(mail_dir: Path) -> list[email.message.Message]:
    """The messages Django's file backend wrote (each followed by a line of dashes)."""
    return [
        email.message_from_string(text.strip())
        for path in sorted(mail_dir.glob("*.log"))
        for text in path.read_text().split("-" * 79)
        if text.strip()
    ]


# --- The email to ADMINS for a 500 ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls("tests.penpals.failing_parts")
def test_a_500_is_mailed_to_admins_without_private_values(client, settings):
    settings.ADMINS = [("Ops", "ops@example.net")]
    client.raise_request_exception = False
    client.cookies["sessionid"] = SESSION_ID
    client.cookies["csrftoken"] = CSRF_TOKEN
    response = client.post(f"/failing/write/?{urllib.parse.urlencode(QUERY)}", PLANTED)

    assert response.status_code == 500
    [message] = mail.outbox
    assert message.to == ["ops@example.net"]
    assert message.subject.startswith("[Penpals] ERROR")
    assert "/failing/write/" in message.subject
    assert message.alternatives == []  # no HTML report: it would show more
    assert "LetterServiceDown" in message.body
    assert "reply to [email]" in message.body
    assert f"Request id: {response['X-Request-ID']}" in message.body
    # The report still says which fields came, not what they held.
    assert "legal_name = '********************'" in message.body
    assert leaked_values(message.subject + message.body) == []


@pytest.mark.django_db
@pytest.mark.urls("tests.penpals.failing_parts")
def test_no_email_goes_out_without_admins(client, settings):
    settings.ADMINS = []
    client.raise_request_exception = False
    assert client.post("/failing/write/", PLANTED).status_code == 500
    assert mail.outbox == []


# --- The rules themselves ------------------------------------------------------------------


def test_it_filters_private_keys_at_any_depth_and_masks_addresses():
    event = {
        "extra": {"letter": {"body": "hello", "id": 3}, "note": "x", "count": 2},
        "contexts": {"form": [{"date_of_birth": "1961-04-17", "kind": "letter_out"}]},
        "message": "sent to a.person@example.org",
    }
    assert error_reports.scrub(event) == {
        "extra": {"letter": "[Filtered]", "note": "[Filtered]", "count": 2},
        "contexts": {"form": [{"date_of_birth": "[Filtered]", "kind": "letter_out"}]},
        "message": "sent to [email]",
    }


def test_it_keeps_only_harmless_request_parts_for_sentry():
    event = {
        "request": {
            "url": "http://127.0.0.1/letters/write/sam/?q=Quillfeather",
            "query_string": "q=Quillfeather",
            "data": {"body": "Dear Sam"},
            "cookies": {"sessionid": SESSION_ID},
            "env": {"REMOTE_ADDR": "203.0.113.9"},
            "headers": {"User-Agent": "Firefox", "Cookie": "x", "X-Forwarded-For": "203.0.113.9"},
        },
        "user": {"id": "4", "email": PLANTED["email"], "ip_address": "203.0.113.9"},
    }
    scrubbed = error_reports.scrub_sentry_event(event, {})
    assert scrubbed["request"] == {
        "url": "http://127.0.0.1/letters/write/sam/",
        "headers": {"User-Agent": "Firefox"},
    }
    assert scrubbed["user"] == {"id": "4"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ops Team <ops@example.net>, dev@example.org", [("Ops Team", "ops@example.net"),
                                                         ("dev@example.org", "dev@example.org")]),
        ("", []),
    ],
)  # fmt: skip
def test_it_reads_admins_from_the_environment(monkeypatch, raw, expected):
    from penpals.settings import env_admins

    monkeypatch.setenv("DJANGO_ADMINS", raw)
    assert env_admins("DJANGO_ADMINS") == expected


def test_it_refuses_admins_that_are_not_addresses(monkeypatch):
    from penpals.settings import env_admins

    monkeypatch.setenv("DJANGO_ADMINS", "Ops Team")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_ADMINS"):
        env_admins("DJANGO_ADMINS")


def test_it_refuses_a_dsn_that_is_not_one():
    with pytest.raises(ImproperlyConfigured, match="SENTRY_DSN"):
        error_reports.init_sentry("not-a-dsn", environment="test", release=None)
