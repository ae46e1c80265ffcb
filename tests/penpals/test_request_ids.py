"""Request ids: each request gets one, returns it, logs it, and hands it to the
Celery tasks it enqueues, so one letter can be followed from the form to the
print batch through the web and worker logs."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable

import pytest
from django.db import transaction
from django.urls import reverse

from penpals import request_ids
from penpals.tasks import enqueue_on_commit
from profiles.models import Facility
from tests.factories import InmateProfileFactory, activate_totp

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_it_gives_each_request_a_new_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


def test_it_ignores_the_header_unless_the_proxy_is_trusted(client, settings):
    settings.REQUEST_ID_TRUST_HEADER = False
    response = client.get("/healthz", headers={"X-Request-ID": "chosen-by-anyone-123"})
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_it_takes_the_trusted_proxys_id(client, settings):
    settings.REQUEST_ID_TRUST_HEADER = True
    response = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.91_Bc"})
    assert response["X-Request-ID"] == "edge-7f3a.91_Bc"


@pytest.mark.parametrize(
    "offered",
    [
        "short",  # under 8 characters
        "x" * 65,
        "has space in it",
        "line\\nbreak-injected",
        "quote\"in-json'",
        "ünïcode-request",
        "",
    ],
)
def test_it_replaces_a_malformed_id_even_from_the_proxy(client, settings, offered):
    settings.REQUEST_ID_TRUST_HEADER = True
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_the_default_trusts_the_header_only_behind_a_proxy():
    from tests.penpals.test_settings import production_env, run_python

    code = "from django.conf import settings; print(settings.REQUEST_ID_TRUST_HEADER)"
    assert run_python(code, **production_env()).stdout.strip() == "False"
    behind = run_python(code, **production_env(DJANGO_BEHIND_PROXY="true"))
    assert behind.stdout.strip() == "True"


@pytest.fixture
def web_log():
    """What the root's JSON handler (LOGGING's "stdout") writes, as parsed lines."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "stdout"]
    stream = io.StringIO()
    previous = handler.setStream(stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    handler.setStream(previous)


@pytest.mark.django_db
def test_it_writes_the_id_in_the_requests_log_lines(client, web_log):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    [line] = [line for line in web_log() if line["message"] == "Not Found: /no-such-page/"]
    assert line["request_id"] == response["X-Request-ID"]
    # Outside a request a line says so, rather than borrowing an old id.
    logging.getLogger("penpals.test").warning("between requests")
    assert web_log()[-1]["request_id"] is None


@pytest.mark.django_db
def test_a_task_enqueued_outside_a_request_gets_an_id_of_its_own(
    django_capture_on_commit_callbacks,
):
    """Beat and management commands enqueue outside any request."""
    published = []

    def record(headers=None, **kwargs):
        published.append(headers[request_ids.TASK_HEADER])

    from celery import signals

    signals.before_task_publish.connect(record, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            enqueue_on_commit("penpals.tasks.record_worker_heartbeat")
            enqueue_on_commit("penpals.tasks.record_worker_heartbeat")
    finally:
        signals.before_task_publish.disconnect(record)
    assert len(published) == 2
    assert all(GENERATED.fullmatch(request_id) for request_id in published)
    assert published[0] != published[1]


# --- One letter followed through a real worker ------------------------------------------------


class WorkerLog:
    """The worker's JSON log lines written since the test began."""

    def __init__(self, path, process):
        self.path = path
        self.process = process
        self.start = path.stat().st_size

    def lines(self) -> list[dict]:
        with open(self.path) as log:
            log.seek(self.start)
            text = log.read()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def succeeded(self, task_name: str) -> list[dict]:
        return [
            line
            for line in self.lines()
            if line["message"].startswith(f"Task {task_name}[")
            and " succeeded in " in line["message"]
        ]

    def wait_for(self, what: Callable[[], list], doing: str, timeout: float = 90) -> list:
        deadline = time.monotonic() + timeout
        while not (found := what()):
            assert time.monotonic() < deadline, f"the worker did not {doing}"
            assert self.process.poll() is None, "the worker died"
            time.sleep(0.2)
        return found


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_one_letter_is_followed_from_the_form_to_the_print_batch(
    celery_worker_process, _celery_worker_env, client, alice, liaison, default_screening_rules
):
    worker_log = WorkerLog(_celery_worker_env[0], celery_worker_process)
    facility = liaison.facility_memberships.get().facility
    # Letters without flags are approved by the screening task itself, which
    # then enqueues the letter's PDF: a task enqueued by a task.
    facility.screening_mode = Facility.ScreeningMode.FLAGGED_ONLY
    facility.save()
    profile = InmateProfileFactory.published(facility=facility)

    client.force_login(alice)
    written = client.post(
        reverse("letters:write", args=[profile.slug]),
        {"body": "Hello Sam, how was your week?", "idempotency_key": str(uuid.uuid4())},
    )
    assert written.status_code == 302
    letter_request = written["X-Request-ID"]

    [screened] = worker_log.wait_for(
        lambda: worker_log.succeeded("messaging.tasks.screen_letter"), "screen the letter"
    )
    assert screened["request_id"] == letter_request
    [rendered] = worker_log.wait_for(
        lambda: worker_log.succeeded("messaging.tasks.render_letter_pdf"), "render the letter"
    )
    assert rendered["request_id"] == letter_request
    # The task's own lines between its start and end carry it too (the
    # worker's "received" line is written before the task starts).
    assert all(
        line["request_id"] == letter_request
        for line in worker_log.lines()
        if "screen_letter" in line["message"] and "received" not in line["message"]
    )

    activate_totp(liaison)
    client.force_login(liaison)
    printed = client.post(
        reverse("liaison_letters:queue", args=[facility.slug]),
        {"scope": "all", "idempotency_key": str(uuid.uuid4())},
    )
    assert printed.status_code == 302
    print_request = printed["X-Request-ID"]
    assert print_request != letter_request
    [merged] = worker_log.wait_for(
        lambda: worker_log.succeeded("messaging.tasks.render_print_batch_pdf"),
        "merge the print batch",
    )
    assert merged["request_id"] == print_request

    # A task enqueued outside any request (as beat does) gets an id of its
    # own, not the one the worker's last task had.
    with transaction.atomic():
        enqueue_on_commit("penpals.tasks.record_worker_heartbeat")
    [heartbeat] = worker_log.wait_for(
        lambda: worker_log.succeeded("penpals.tasks.record_worker_heartbeat"), "beat"
    )
    assert heartbeat["request_id"] not in (None, letter_request, print_request)
