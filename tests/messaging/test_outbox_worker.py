"""The outbox under failure: a real SMTP server that stops and comes back,
retries with backoff, giving up, the sweep, concurrent sends, a real worker.

The SMTP server is aiosmtpd on loopback, started and stopped by the tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import cast

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from messaging.models import Letter, Notification
from messaging.notifications import (
    SENDING_STALE,
    SendFailed,
    _claim,
    backoff_seconds,
    deliver_notification,
    message_id,
    sweep_outbox,
)
from messaging.services import notify
from messaging.tasks import send_notification
from penpals.celery import app as celery_app
from tests.factories import CorrespondenceFactory, LetterFactory
from tests.utils import closed_port

Kind = Notification.Kind
State = Notification.State


# --- A real SMTP server ----------------------------------------------------------------


class LocalSmtpServer:
    """An SMTP server on 127.0.0.1:`port` that keeps what it receives; stop and start at will."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[Message] = []
        self.refused: set[str] = set()  # recipients answered "550 no such mailbox"
        self.data_started = threading.Event()
        self.data_delay = 0.0  # seconds to wait before accepting a message
        self._controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_started.set()
        await asyncio.sleep(self.data_delay)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server(settings):
    """A running SMTP server, and Django's SMTP backend pointed at it."""
    server = LocalSmtpServer(closed_port())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    yield server
    server.stop()


@pytest.fixture
def eager_tasks():
    """Tasks the sweep enqueues run here, at once (the real worker is tested at the end)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def new_notification(pen_pal, kind: str = Kind.LETTER_APPROVED) -> Notification:
    """An outbox row as notify() records it, without enqueueing its task (as if it were lost)."""
    letter = cast(Letter, LetterFactory(correspondence=CorrespondenceFactory(pen_pal=pen_pal)))
    return Notification.objects.create(
        recipient=pen_pal,
        kind=kind,
        key=f"{kind}:{letter.pk}",
        context={"letter_id": letter.pk, "correspondence_id": letter.correspondence_id},
    )


def row(notification: Notification) -> Notification:
    notification.refresh_from_db()
    return notification


# --- Through a real SMTP server --------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_one_multipart_email_through_smtp(alice, smtp_server):
    notification = new_notification(alice)
    assert deliver_notification(notification.pk) == "sent"
    assert deliver_notification(notification.pk) == "skipped"
    (received,) = smtp_server.messages
    assert received["To"] == "alice@example.org"
    assert received["Subject"] == "[Penpals] Your letter was approved"
    assert received["Message-ID"] == message_id(notification)
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.get_payload()] == [
        "text/plain",
        "text/html",
    ]
    assert row(notification).state == State.SENT


@pytest.mark.django_db
def test_a_refused_connection_puts_the_row_back_to_pending(alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = False
    notification = new_notification(alice)
    with pytest.raises(SendFailed) as failure:
        deliver_notification(notification.pk)
    assert failure.value.retry_in == 30
    notification = row(notification)
    assert (notification.state, notification.attempts) == (State.PENDING, 1)
    assert "ConnectionRefusedError" in notification.last_error
    assert notification.sent_at is None and notification.attempted_at


@pytest.mark.django_db
def test_the_task_retries_after_its_backoff(alice, settings, time_machine):
    """Run the task as a worker does and read the retry it publishes to the broker."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = False
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    # A queue no worker reads, so that the retry stays there for this test to read.
    queue = f"outbox-test-retries-{uuid.uuid4().hex}"
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)

    def run_as_worker(attempt: int) -> Retry:
        task_id = f"{queue}-{attempt}"
        send_notification.push_request(
            id=task_id,
            args=[notification.pk],
            kwargs={},
            retries=attempt - 1,
            called_directly=False,
            delivery_info={"exchange": "", "routing_key": queue},
        )
        try:
            with pytest.raises(Retry) as retry:
                send_notification.run(notification.pk)
        finally:
            send_notification.pop_request()
        return retry.value

    try:
        for attempt, countdown in [(1, 30), (2, 60), (3, 120)]:
            started = timezone.now()
            retry = run_as_worker(attempt)
            assert retry.when == countdown == backoff_seconds(attempt)
            (published,) = [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]
            broker.delete(queue)
            headers = published["headers"]
            assert headers["task"] == "messaging.tasks.send_notification"
            assert headers["retries"] == attempt
            eta = datetime.fromisoformat(headers["eta"])
            assert timedelta(seconds=countdown) <= eta - started < timedelta(seconds=countdown + 5)
            assert (row(notification).state, row(notification).attempts) == (State.PENDING, attempt)
            time_machine.shift(timedelta(seconds=countdown))
    finally:
        broker.delete(queue)


@pytest.mark.django_db
def test_after_the_last_attempt_the_row_is_failed(alice, settings, time_machine):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = False
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)
    for attempt in (1, 2):
        with pytest.raises(SendFailed):
            deliver_notification(notification.pk)
        # A duplicate task that arrives during the backoff does not spend an attempt.
        time_machine.shift(timedelta(seconds=backoff_seconds(attempt) - 1))
        assert deliver_notification(notification.pk) == "skipped"
        assert row(notification).attempts == attempt
        time_machine.shift(timedelta(seconds=1))
    assert deliver_notification(notification.pk) == "failed"
    notification = row(notification)
    assert (notification.state, notification.attempts) == (State.FAILED, 3)
    assert "ConnectionRefusedError" in notification.last_error
    time_machine.shift(timedelta(days=1))
    assert sweep_outbox() == 0
    assert deliver_notification(notification.pk) == "skipped"


@pytest.mark.django_db
def test_a_recipient_refused_for_good_is_failed_at_once(alice, smtp_server):
    smtp_server.refused.add("alice@example.org")
    notification = new_notification(alice)
    assert deliver_notification(notification.pk) == "failed"
    notification = row(notification)
    assert (notification.state, notification.attempts) == (State.FAILED, 1)
    assert "550" in notification.last_error and "No such mailbox" in notification.last_error
    assert smtp_server.messages == []


@pytest.mark.django_db
def test_when_the_server_comes_back_the_sweep_sends_the_email_once(
    alice, bob, smtp_server, eager_tasks, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    assert deliver_notification(new_notification(bob).pk) == "sent"
    assert len(smtp_server.messages) == 1

    smtp_server.stop()
    notification = new_notification(alice)
    with pytest.raises(SendFailed):
        deliver_notification(notification.pk)
    assert row(notification).state == State.PENDING
    assert "Connection refused" in row(notification).last_error

    smtp_server.start()
    # The task's own retry comes after 30 s; the sweep waits a minute longer for it.
    time_machine.shift(timedelta(seconds=89))
    assert sweep_outbox() == 0
    time_machine.shift(timedelta(seconds=2))
    assert sweep_outbox() == 1
    assert sweep_outbox() == 0
    assert len(smtp_server.messages) == 2
    received = smtp_server.messages[1]
    assert received["To"] == "alice@example.org"
    assert received["Message-ID"] == message_id(notification)
    notification = row(notification)
    assert (notification.state, notification.attempts, notification.last_error) == (
        State.SENT,
        2,
        "",
    )


# --- The sweep -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_sends_a_row_whose_task_was_lost_after_a_minute(alice, eager_tasks, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)
    time_machine.shift(timedelta(seconds=59))
    assert sweep_outbox() == 0  # its task is probably on the way
    assert mail.outbox == []
    time_machine.shift(timedelta(seconds=2))
    assert sweep_outbox() == 1
    assert len(mail.outbox) == 1
    assert (row(notification).state, row(notification).attempts) == (State.SENT, 1)


@pytest.mark.django_db
def test_the_sweep_respects_the_backoff(alice, eager_tasks, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)
    Notification.objects.filter(pk=notification.pk).update(
        attempts=3, attempted_at=timezone.now(), last_error="timed out"
    )
    # Three failures: the retry is due after 2 minutes, the sweep steps in a minute later.
    time_machine.shift(timedelta(seconds=backoff_seconds(3) + 59))
    assert sweep_outbox() == 0
    time_machine.shift(timedelta(seconds=2))
    assert sweep_outbox() == 1
    assert (row(notification).state, row(notification).attempts) == (State.SENT, 4)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_sweep_waits_at_most_an_hour_between_attempts(
    alice, settings, eager_tasks, time_machine
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 20
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)
    Notification.objects.filter(pk=notification.pk).update(attempts=12, attempted_at=timezone.now())
    time_machine.shift(timedelta(minutes=60))
    assert sweep_outbox() == 0
    time_machine.shift(timedelta(minutes=1, seconds=1))
    assert sweep_outbox() == 1


@pytest.mark.django_db
def test_the_sweep_resets_a_row_left_sending_by_a_dead_worker(alice, eager_tasks, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)
    assert _claim(notification.pk) is not None  # the worker claimed it, then died
    time_machine.shift(timedelta(minutes=5))
    assert sweep_outbox() == 0
    assert row(notification).state == State.SENDING  # that worker may still be at it
    time_machine.shift(SENDING_STALE)
    assert sweep_outbox() == 1
    notification = row(notification)
    assert (notification.state, notification.attempts) == (State.SENT, 2)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_row_that_kills_its_worker_every_time_is_given_up(
    alice, settings, eager_tasks, time_machine
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    time_machine.move_to(timezone.now(), tick=False)
    notification = new_notification(alice)
    Notification.objects.filter(pk=notification.pk).update(
        state=State.SENDING, attempts=2, attempted_at=timezone.now()
    )
    time_machine.shift(SENDING_STALE + timedelta(seconds=1))
    assert sweep_outbox() == 0
    notification = row(notification)
    assert notification.state == State.FAILED
    assert notification.last_error == "the worker sending it stopped"
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_sweep_leaves_finished_rows_alone(alice, eager_tasks, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    for state in (State.SENT, State.FAILED, State.CANCELLED):
        Notification.objects.filter(pk=new_notification(alice).pk).update(state=state)
    time_machine.shift(timedelta(days=2))
    assert sweep_outbox() == 0
    assert mail.outbox == []


def test_a_sending_row_is_stale_only_after_any_task_would_have_been_killed():
    assert timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) < SENDING_STALE


def test_beat_runs_the_sweep_every_two_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-outbox"]
    assert entry == {"task": "messaging.tasks.sweep_outbox", "schedule": 120.0}
    assert entry["task"] in celery_app.tasks


# --- Concurrency -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_row_at_once_send_one_email(alice, smtp_server):
    smtp_server.data_delay = 1.0
    notification = new_notification(alice)
    outcomes: list[str] = []

    def first_worker() -> None:
        try:
            outcomes.append(deliver_notification(notification.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        # The first worker is talking to the mail server: the second finds nothing to do.
        assert smtp_server.data_started.wait(timeout=10)
        assert deliver_notification(notification.pk) == "skipped"
    finally:
        worker.join(timeout=30)
    assert outcomes == ["sent"]
    assert len(smtp_server.messages) == 1
    assert row(notification).state == State.SENT


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_claim_is_skipped_not_waited_for(alice):
    notification = new_notification(alice)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=notification.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        assert deliver_notification(notification.pk) == "skipped"
    finally:
        release.set()
        holder.join(timeout=30)
    assert row(notification).attempts == 0
    assert deliver_notification(notification.pk) == "sent"
    assert len(mail.outbox) == 1


# --- A real worker ---------------------------------------------------------------------


def sent_copies(notification: Notification, since: float) -> int:
    """How many copies of `notification` the worker wrote to EMAIL_FILE_PATH (file backend)."""
    header = f"Message-ID: {message_id(notification)}"
    return sum(
        path.read_text(errors="replace").count(header)
        for path in Path(settings.EMAIL_FILE_PATH).glob("*.log")
        if path.stat().st_mtime >= since - 1
    )


def wait_until_sent(notification: Notification, worker) -> None:
    deadline = time.monotonic() + 60
    while row(notification).state != State.SENT:
        assert time.monotonic() < deadline, f"not sent: {row(notification).state}"
        assert worker.poll() is None, "the worker died"
        time.sleep(0.2)


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_email_once(celery_worker_process):
    # Without EMAIL_HOST, the worker (like `make run`) uses the console-and-file backend.
    assert not settings.EMAIL_HOST, "the worker would send real email"
    started = time.time()
    correspondence = CorrespondenceFactory(pen_pal__email=f"pen-pal-{uuid.uuid4().hex}@example.org")
    first, second = LetterFactory.create_batch(2, correspondence=correspondence)
    with transaction.atomic():
        notification = notify(correspondence.pen_pal, Kind.LETTER_DELIVERED, first)
    wait_until_sent(notification, celery_worker_process)
    assert sent_copies(notification, started) == 1

    # The same task again (a duplicate delivery): the worker runs it and sends nothing.
    send_notification.delay(notification.pk)
    # The worker runs one task at a time, in order: once this one is sent, the duplicate ran.
    with transaction.atomic():
        marker = notify(correspondence.pen_pal, Kind.LETTER_APPROVED, second)
    wait_until_sent(marker, celery_worker_process)
    assert sent_copies(notification, started) == 1
    assert sent_copies(marker, started) == 1
    notification = row(notification)
    assert (notification.state, notification.attempts) == (State.SENT, 1)
