"""Redis (cache and broker) killed while people use the site, then back.

tests/penpals/test_cache_outage.py proves pages and logins survive a dead
cache; this proves the work itself survives a dead broker: what was written
while Redis was down is saved, the person is told it worked, and once Redis
is back the beat sweeps hand it to a real worker, which does it once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.test import Client
from django.urls import reverse

from messaging.models import Letter
from messaging.services import sweep_unscreened_letters
from moderation.models import ModerationItem
from profiles.models import ProfilePhoto
from profiles.photos import sweep_unprocessed_photos
from tests.factories import image_bytes
from tests.faults.conftest import stored_copies, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("faults"),
    pytest.mark.django_db(transaction=True),
]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class Timed:
    """The longest time any request through `client` took."""

    def __init__(self, client: Client):
        self.client = client
        self.longest = 0.0

    def __getattr__(self, method: str):
        def request(*args, **kwargs):
            started = time.monotonic()
            try:
                return getattr(self.client, method)(*args, **kwargs)
            finally:
                self.longest = max(self.longest, time.monotonic() - started)

        return request


def test_work_done_while_redis_is_down_is_done_once_when_it_is_back(
    own_redis, start_worker, alice, liaison, facility, profile, default_screening_rules
):
    own_redis.kill()

    # A visitor browses.
    visitor = Timed(Client())
    for url in ("/", reverse("directory:list"), reverse("directory:profile", args=[profile.slug])):
        assert visitor.get(url).status_code == 200, url

    # A pen pal writes a letter and is told it was sent.
    pen_pal = Timed(logged_in(alice))
    write_url = reverse("letters:write", args=[profile.slug])
    assert pen_pal.get(write_url).status_code == 200
    form = {"body": "Hello Marcus, I hope your week went well.", "idempotency_key": "1" * 32}
    thread = pen_pal.post(write_url, form, follow=True)
    assert thread.status_code == 200
    assert "Your letter to Marcus was sent." in thread.content.decode()

    # A liaison uploads a photo and is told it was uploaded.
    portal = Timed(logged_in(liaison))
    upload = SimpleUploadedFile("marcus.jpg", image_bytes("JPEG", (800, 600)))
    page = portal.post(
        reverse("liaison:photo_upload", args=[profile.pk]), {"photos": [upload]}, follow=True
    )
    assert page.status_code == 200
    assert "Uploaded 1 photo." in page.content.decode()

    # Nobody waited long for the dead Redis (its failures are refused connections).
    print(
        "longest request while Redis was down (s):",
        [round(c.longest, 2) for c in (visitor, pen_pal, portal)],
    )
    assert max(visitor.longest, pen_pal.longest, portal.longest) < 5

    # Saved, waiting for the tasks that never reached the broker.
    letter = Letter.objects.get()
    photo = ProfilePhoto.objects.get()
    assert (letter.status, photo.status) == (Letter.Status.SUBMITTED, ProfilePhoto.Status.UPLOADED)
    assert not ModerationItem.objects.exists()

    own_redis.start()
    worker = start_worker(own_redis.url)
    # A few minutes later (the sweeps leave fresh rows to their own tasks),
    # beat runs each sweep; twice, as if two beats overlapped.
    Letter.objects.update(created_at=F("created_at") - timedelta(minutes=3))
    ProfilePhoto.objects.update(created_at=F("created_at") - timedelta(minutes=3))
    assert [sweep_unscreened_letters(), sweep_unscreened_letters()] == [1, 1]
    assert [sweep_unprocessed_photos(), sweep_unprocessed_photos()] == [1, 1]

    screen, process = "messaging.tasks.screen_letter", "profiles.tasks.process_photo"

    def all_four_tasks_ran() -> bool:
        return len(worker.results(screen) + worker.results(process)) == 4

    wait_for(all_four_tasks_ran, "the worker to run the swept tasks")
    assert own_redis.queued() == 0
    letter.refresh_from_db()
    photo.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert photo.status == ProfilePhoto.Status.READY
    assert stored_copies(photo.display) == stored_copies(photo.thumbnail) == 1
    # Each done once: one review each, and the second task of each found nothing to do.
    assert ModerationItem.objects.for_object(letter).count() == 1
    assert ModerationItem.objects.for_object(photo).count() == 1
    assert ModerationItem.objects.count() == 2
    assert worker.results(process) == ["'ready'", "'skipped'"]
    assert (sweep_unscreened_letters(), sweep_unprocessed_photos()) == (0, 0)
