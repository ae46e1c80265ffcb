"""The mail server down while a real worker sends, then back.

tests/messaging/test_outbox_worker.py stops and restarts a real SMTP server
with tasks run in-process; here a real worker meets the dead server, and
Celery's own retry (published to the broker with its countdown) sends the
email once the server is back.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from messaging.models import Notification
from messaging.notifications import backoff_seconds, message_id, sweep_outbox
from messaging.services import notify
from tests.factories import LetterFactory
from tests.faults.conftest import wait_for
from tests.messaging.test_outbox_worker import LocalSmtpServer
from tests.utils import closed_port

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("faults"),
    pytest.mark.django_db(transaction=True),
]

State = Notification.State


@pytest.fixture
def stopped_smtp():
    """An SMTP server that is not running yet; the worker is pointed at its port."""
    server = LocalSmtpServer(closed_port())
    yield server
    server.stop()


def test_the_email_waits_in_the_outbox_and_goes_out_once_the_server_is_back(
    own_redis, start_worker, stopped_smtp, alice
):
    worker = start_worker(
        own_redis.url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(stopped_smtp.port),
        EMAIL_USE_TLS="false",
        EMAIL_USE_SSL="false",
    )
    letter = LetterFactory(correspondence__pen_pal=alice)
    with transaction.atomic():
        notification = notify(alice, Notification.Kind.LETTER_APPROVED, letter)

    def row() -> Notification:
        return Notification.objects.get(pk=notification.pk)

    wait_for(lambda: row().attempts == 1 and row().state == State.PENDING, "the first attempt")
    assert "Connection refused" in row().last_error
    assert row().sent_at is None

    stopped_smtp.start()
    # The task's retry comes after its backoff (30 s), from the broker; no sweep is needed.
    wait_for(
        lambda: row().state == State.SENT,
        "the retry to send the email",
        timeout=backoff_seconds(1) + 30,
    )
    (received,) = stopped_smtp.messages
    assert received["Message-ID"] == message_id(notification)
    sent = row()
    assert (sent.attempts, sent.last_error) == (2, "")
    task = "messaging.tasks.send_notification"
    # One retry, then one run that sent it.
    assert worker.log().count("retry: Retry in 30s") == 1
    assert worker.results(task) == ["'sent'"]
    assert sweep_outbox() == 0
