"""Screening runs after commit on a real worker; a lost task is found by the sweep."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Letter
from messaging.services import sweep_unscreened_letters
from moderation.models import ModerationItem
from tests.factories import InmateProfileFactory, LetterFactory, write_letter


@pytest.mark.django_db
def test_writing_enqueues_screening_only_after_commit(
    alice, profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        write_letter(alice, profile)
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_the_sweep_resends_letters_left_unscreened(monkeypatch):
    sent = []
    monkeypatch.setattr("messaging.tasks.screen_letter.delay", sent.append)
    old = LetterFactory(created_at=timezone.now() - timedelta(minutes=10))
    LetterFactory()  # just written: its own task is probably still on the way
    LetterFactory(status="in_review", created_at=timezone.now() - timedelta(minutes=10))
    assert sweep_unscreened_letters() == 1
    assert sent == [old.pk]


def test_the_sweeps_are_scheduled():
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"messaging.tasks.sweep_unscreened_letters", "messaging.tasks.sweep_outbox"} <= tasks


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_screens_a_letter_once(celery_worker_process, alice, default_screening_rules):
    profile = InmateProfileFactory.published()
    letter = write_letter(alice, profile, "Send me your Venmo and I'll send the rest.")
    deadline = time.monotonic() + 60
    while True:
        letter.refresh_from_db()
        if letter.status != Letter.Status.SUBMITTED:
            break
        assert time.monotonic() < deadline, "the worker did not screen the letter"
        assert celery_worker_process.poll() is None, "the worker died"
        time.sleep(0.2)
    assert letter.status == Letter.Status.IN_REVIEW
    assert "money" in letter.screening["categories"]
    item = ModerationItem.objects.for_object(letter).get()
    assert (item.kind, item.status) == ("letter_out", "pending")
