"""A worker killed with SIGKILL in the middle of a task, then restarted.

Celery acknowledges a task only after it finished (acks_late), and gives a
task whose pool process died back to the queue (reject_on_worker_lost); each
task is idempotent; the beat sweeps find what is left half-done. So after the
kill the photo is processed once and the email sent once.

Each test holds its task at a known point with something real the task
waits for (a database lock the test holds; a mail server that has not yet
answered), so nothing in the code knows it is being tested, then kills the
process running it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F

from messaging.models import Notification
from messaging.notifications import SENDING_STALE, message_id, sweep_outbox
from messaging.services import notify
from messaging.tasks import send_notification
from moderation.models import ModerationItem
from profiles.models import ProfilePhoto
from profiles.photos import PROCESSING_GRACE, sweep_unprocessed_photos, variant_names
from profiles.services import check_upload_photo
from profiles.tasks import process_photo
from tests.factories import LetterFactory, image_bytes
from tests.faults.conftest import (
    LockHolder,
    backends_waiting_on_a_lock,
    stored_copies,
    wait_for,
)
from tests.messaging.test_outbox_worker import LocalSmtpServer
from tests.utils import closed_port

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("faults"),
    pytest.mark.django_db(transaction=True),
]


# The photo task writes the public files, then waits to open the photo's
# review: a SHARE lock lets it read the table but not insert into it.
REVIEW_TABLE_LOCK = "LOCK TABLE moderation_moderationitem IN SHARE MODE"


def upload_photo_held_before_its_review(liaison, profile) -> ProfilePhoto:
    """Upload a photo and wait until its task is held at the review insert
    (call inside `LockHolder(REVIEW_TABLE_LOCK)`)."""
    photo, _ = check_upload_photo(
        liaison, profile, SimpleUploadedFile("marcus.jpg", image_bytes("JPEG", (900, 700)))
    )
    wait_for(
        lambda: backends_waiting_on_a_lock('INSERT INTO "moderation_moderationitem"') == 1,
        "the task to reach the review insert",
    )
    return photo


def test_a_photo_task_killed_midway_is_run_again_and_done_once(
    own_redis, start_worker, liaison, facility, profile
):
    worker = start_worker(own_redis.url, pool="prefork")
    with LockHolder(REVIEW_TABLE_LOCK) as lock:
        photo = upload_photo_held_before_its_review(liaison, profile)
        display_name, thumbnail_name = variant_names(photo)
        storage = ProfilePhoto._meta.get_field("display").storage
        assert storage.exists(display_name), "the files are written before the row commits"
        victim = worker.pool_child()
        os.kill(victim, signal.SIGKILL)  # as the kernel's OOM killer would
        wait_for(lambda: worker.pool_child() != victim, "the pool to replace its process")
        photo.refresh_from_db()
        assert photo.status == ProfilePhoto.Status.PROCESSING  # nothing of the run committed
        lock.release()

    wait_for(
        lambda: ProfilePhoto.objects.get(pk=photo.pk).status == ProfilePhoto.Status.READY,
        "the photo to be processed again",
    )
    wait_for(lambda: own_redis.queued() == 0, "the queue to drain")
    assert "WorkerLostError" in worker.log()
    photo.refresh_from_db()
    assert (photo.display.name, photo.thumbnail.name) == (display_name, thumbnail_name)
    assert ModerationItem.objects.for_object(photo).count() == 1
    # The second run replaced the first run's files rather than adding copies beside them.
    assert stored_copies(photo.display) == stored_copies(photo.thumbnail) == 1


def test_a_photo_whose_whole_worker_was_killed_is_done_once_after_the_sweep(
    own_redis, start_worker, liaison, facility, profile
):
    """The whole worker dies (a solo pool: the process that holds the broker
    connection), so nothing gives the task back: it waits for the broker's
    visibility timeout (an hour), and the beat sweep is what recovers it."""
    worker = start_worker(own_redis.url)
    with LockHolder(REVIEW_TABLE_LOCK) as lock:
        photo = upload_photo_held_before_its_review(liaison, profile)
        worker.kill()
        lock.release()
    photo.refresh_from_db()
    assert photo.status == ProfilePhoto.Status.PROCESSING  # nothing of the run committed
    # Held by the broker for the dead worker.
    assert own_redis.unacked("profiles.tasks.process_photo") == 1

    worker.start()
    # A photo processing for less than the grace period may still have a live run.
    assert sweep_unprocessed_photos() == 0
    ProfilePhoto.objects.filter(pk=photo.pk).update(
        created_at=F("created_at") - PROCESSING_GRACE - timedelta(seconds=1)
    )
    assert sweep_unprocessed_photos() == 1
    task = "profiles.tasks.process_photo"
    wait_for(lambda: worker.results(task) == ["'ready'"], "the sweep's run to finish")
    # The killed task, when the broker gives it back (a copy sent now stands
    # in for it), finds the photo done.
    process_photo.delay(photo.pk)
    wait_for(lambda: len(worker.results(task)) == 2, "the redelivered copy to run")
    assert worker.results(task) == ["'ready'", "'skipped'"]
    photo.refresh_from_db()
    assert photo.status == ProfilePhoto.Status.READY
    assert ModerationItem.objects.for_object(photo).count() == 1
    assert stored_copies(photo.display) == stored_copies(photo.thumbnail) == 1


class GatedSmtpServer(LocalSmtpServer):
    """Holds each client at RCPT TO until `release` is set: a send caught in mid-flight."""

    def __init__(self, port: int):
        super().__init__(port)
        self.rcpt_reached = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.rcpt_reached.set()
        deadline = time.monotonic() + 60
        while not self.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def gated_smtp():
    server = GatedSmtpServer(closed_port())
    server.start()
    yield server
    server.release.set()
    server.stop()


def test_an_email_whose_worker_was_killed_is_sent_once_after_a_restart(
    own_redis, start_worker, gated_smtp, alice
):
    smtp = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(gated_smtp.port)}
    worker = start_worker(own_redis.url, EMAIL_USE_TLS="false", EMAIL_USE_SSL="false", **smtp)
    letter = LetterFactory(correspondence__pen_pal=alice)
    with transaction.atomic():
        notification = notify(alice, Notification.Kind.LETTER_APPROVED, letter)
    assert gated_smtp.rcpt_reached.wait(timeout=60), "the worker never reached the mail server"
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (Notification.State.SENDING, 1)

    worker.kill()
    gated_smtp.release.set()
    worker.start()
    # The killed task is not redelivered before the broker's visibility
    # timeout (an hour), and the row says "sending": the restarted worker
    # leaves it alone until the sweep decides that worker is dead.
    assert sweep_outbox() == 0
    Notification.objects.filter(pk=notification.pk).update(
        attempted_at=F("attempted_at") - SENDING_STALE - timedelta(seconds=1)
    )
    assert sweep_outbox() == 1
    wait_for(
        lambda: Notification.objects.get(pk=notification.pk).state == Notification.State.SENT,
        "the email to be sent",
    )
    # The killed task is still held for redelivery; when it comes (here, a
    # duplicate sent now stands in for it) it finds nothing to send.
    assert own_redis.unacked("messaging.tasks.send_notification") == 1
    send_notification.delay(notification.pk)
    task = "messaging.tasks.send_notification"
    wait_for(lambda: len(worker.results(task)) == 2, "the duplicate to run")
    assert worker.results(task) == ["'sent'", "'skipped'"]
    (received,) = gated_smtp.messages
    assert received["Message-ID"] == message_id(notification)
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (Notification.State.SENT, 2)
