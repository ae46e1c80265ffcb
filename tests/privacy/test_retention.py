"""Reply scans and rejected photos' originals are deleted on schedule
(messaging.retention, profiles.retention), and the pages say so."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse

from messaging.models import Letter, LetterScan
from messaging.retention import purge_expired_scans
from messaging.services import screen_letter
from moderation.models import ModerationItem
from moderation.services import current_version, do_decide, submit_for_review
from profiles.models import ProfilePhoto
from profiles.retention import purge_rejected_originals
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    ProfilePhotoFactory,
    activate_totp,
    add_public_photo,
    image_bytes,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_dir")]

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def reply(correspondence, *, status: str, pages: int = 1, **timestamps) -> Letter:
    """An inbound letter with `pages` stored scans (one image file each)."""
    letter = LetterFactory(
        correspondence=correspondence,
        direction="in",
        status=status,
        body="Typed out: thank you for your letter.",
        # Typed by a person, so the pen pal is shown it.
        transcription_confirmed_at=T0,
        created_by=None,
        **timestamps,
    )
    for page in range(1, pages + 1):
        scan = LetterScan(letter=letter, page=page, content_type="image/png", size=1)
        scan.file.save("page.png", ContentFile(image_bytes("PNG")), save=False)
        scan.save()
    return letter


def stored_files(private_dir) -> set[str]:
    return {str(path.relative_to(private_dir)) for path in private_dir.rglob("*") if path.is_file()}


def scan_names(*letters) -> set[str]:
    return {
        scan.file.name for letter in letters for scan in LetterScan.objects.filter(letter=letter)
    }


# --- Scans -------------------------------------------------------------------------------


def test_it_deletes_scans_past_the_period_and_keeps_the_rest(alice, time_machine, private_dir):
    time_machine.move_to(T0, tick=False)
    correspondence = CorrespondenceFactory(pen_pal=alice)
    read = reply(correspondence, status="read", pages=2, approved_at=T0 - 2 * DAY, read_at=T0)
    rejected = reply(correspondence, status="rejected", rejected_at=T0)
    never_opened = reply(correspondence, status="approved", approved_at=T0)
    read_later = reply(correspondence, status="read", approved_at=T0, read_at=T0 + 30 * DAY)
    # Still waiting for a moderator: kept, however old.
    in_review = reply(correspondence, status="in_review", created_at=T0 - 400 * DAY)
    # Left in review when the correspondence closed: it can never be delivered.
    closed = CorrespondenceFactory(pen_pal=alice, closed_at=T0, close_reason="released")
    stranded = reply(closed, status="in_review")
    expired = scan_names(read, rejected, never_opened, stranded)
    kept = scan_names(read_later, in_review)
    assert stored_files(private_dir) == expired | kept

    time_machine.move_to(T0 + 180 * DAY - MINUTE, tick=False)
    assert purge_expired_scans() == 0
    assert stored_files(private_dir) == expired | kept

    time_machine.move_to(T0 + 180 * DAY + MINUTE, tick=False)
    assert purge_expired_scans() == 5
    assert stored_files(private_dir) == kept
    # The rows stay for the audit trail, with an empty file; the letters are untouched.
    assert LetterScan.objects.count() == 7
    assert set(LetterScan.objects.filter(file="").values_list("letter", flat=True)) == {
        read.pk,
        rejected.pk,
        never_opened.pk,
        stranded.pk,
    }
    assert Letter.objects.get(pk=read.pk).body == "Typed out: thank you for your letter."

    # A second run finds nothing to do.
    assert purge_expired_scans() == 0
    assert stored_files(private_dir) == kept
    assert LetterScan.objects.filter(file="").count() == 5


def test_the_period_comes_from_the_setting(alice, settings, time_machine, private_dir):
    settings.LETTER_SCAN_RETENTION_DAYS = 7
    time_machine.move_to(T0, tick=False)
    letter = reply(CorrespondenceFactory(pen_pal=alice), status="read", read_at=T0)
    time_machine.move_to(T0 + 6 * DAY, tick=False)
    assert purge_expired_scans() == 0
    time_machine.move_to(T0 + 8 * DAY, tick=False)
    assert purge_expired_scans() == 1
    assert not stored_files(private_dir)
    assert not LetterScan.objects.get(letter=letter).file


def test_a_crash_between_file_and_row_is_finished_by_the_next_run(
    alice, monkeypatch, time_machine, private_dir
):
    """The file goes first: a crash before the row is cleared leaves a row
    naming a missing file (never a stored file nobody can find)."""
    time_machine.move_to(T0, tick=False)
    letter = reply(CorrespondenceFactory(pen_pal=alice), status="read", pages=3, read_at=T0)
    time_machine.move_to(T0 + 200 * DAY, tick=False)

    def crash(self, **kwargs):
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(QuerySet, "update", crash)
        with pytest.raises(RuntimeError):
            purge_expired_scans()
    assert not stored_files(private_dir)  # deleted...
    assert all(scan.file for scan in LetterScan.objects.filter(letter=letter))  # ...not recorded

    assert purge_expired_scans() == 3
    assert not LetterScan.objects.filter(letter=letter).exclude(file="").exists()
    assert purge_expired_scans() == 0


def test_a_file_storage_refuses_to_delete_is_kept_for_the_next_run(
    alice, monkeypatch, time_machine, private_dir
):
    time_machine.move_to(T0, tick=False)
    letter = reply(CorrespondenceFactory(pen_pal=alice), status="read", pages=2, read_at=T0)
    time_machine.move_to(T0 + 200 * DAY, tick=False)
    storage = LetterScan._meta.get_field("file").storage
    first, second = LetterScan.objects.filter(letter=letter).order_by("page")
    real_delete = storage.delete

    def flaky_delete(name):
        if name == first.file.name:
            raise PermissionError("storage said no")
        real_delete(name)

    monkeypatch.setattr(storage, "delete", flaky_delete)
    assert purge_expired_scans() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.file and storage.exists(first.file.name)
    assert not second.file
    monkeypatch.setattr(storage, "delete", real_delete)
    assert purge_expired_scans() == 1
    assert not stored_files(private_dir)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_delete_each_scan_once(alice, monkeypatch, private_dir):
    correspondence = CorrespondenceFactory(pen_pal=alice)
    long_ago = datetime.now(UTC) - 400 * DAY
    for _ in range(12):
        reply(correspondence, status="read", pages=2, read_at=long_ago)
    storage = LetterScan._meta.get_field("file").storage
    real_delete = storage.delete
    deleted: list[str] = []

    def counting_delete(name):
        deleted.append(name)
        real_delete(name)

    monkeypatch.setattr(storage, "delete", counting_delete)
    start = threading.Barrier(2, timeout=30)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            start.wait()
            results.append(purge_expired_scans(batch_size=3))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    assert sum(results) == 24
    assert len(deleted) == len(set(deleted)) == 24
    assert not stored_files(private_dir)
    assert not LetterScan.objects.exclude(file="").exists()


def test_the_pages_say_the_scan_was_removed(client, alice, moderator_with_mfa, time_machine):
    """The pen pal's thread, the scan's URL and the staff pages after a purge:
    words instead of a broken image, 404 instead of a 500."""
    time_machine.move_to(T0, tick=False)
    correspondence = CorrespondenceFactory(pen_pal=alice)
    letter = reply(correspondence, status="submitted", pages=2)
    screen_letter(letter.pk)
    item = ModerationItem.objects.for_object(letter).get()
    do_decide(item.pk, moderator_with_mfa, approve=True, seen_version=current_version(item))
    scans = list(LetterScan.objects.filter(letter=letter).order_by("page"))
    client.force_login(alice)
    thread_url = reverse("letters:thread", args=[correspondence.pk])
    page = client.get(thread_url).content.decode()
    assert reverse("letters:scan", args=[scans[0].pk]) in page
    assert "was deleted" not in page

    time_machine.move_to(T0 + 181 * DAY, tick=False)
    assert purge_expired_scans() == 2
    client.force_login(alice)  # the earlier session has expired by now
    response = client.get(thread_url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Scanned page 1 was deleted: we keep scans for 180 days" in page
    assert "Scanned page 2 was deleted" in page
    assert "Typed out: thank you for your letter." in page
    for scan in scans:
        assert reverse("letters:scan", args=[scan.pk]) not in page  # no broken image
        assert client.get(reverse("letters:scan", args=[scan.pk])).status_code == 404

    client.force_login(moderator_with_mfa)
    response = client.get(reverse("admin:moderation_moderationitem_change", args=[item.pk]))
    assert response.status_code == 200
    assert "Page 1: deleted after 180 days" in response.content.decode()
    response = client.get(reverse("admin:messaging_letter_change", args=[letter.pk]))
    assert response.status_code == 200
    assert "Deleted after 180 days" in response.content.decode()
    assert client.get(reverse("letters:scan", args=[scans[0].pk])).status_code == 404


# --- Rejected photos -----------------------------------------------------------------------


def test_it_deletes_rejected_originals_after_their_period(moderator, time_machine, private_dir):
    time_machine.move_to(T0 - 40 * DAY, tick=False)
    profile = InmateProfileFactory.published()
    # Processed 40 days before a moderator rejected it: the clock starts at the decision.
    reviewed = ProfilePhotoFactory(profile=profile, status="ready", processed_at=T0 - 40 * DAY)
    failed = ProfilePhotoFactory(profile=profile, status="failed", processed_at=T0 - 40 * DAY)
    time_machine.move_to(T0, tick=False)
    refused = ProfilePhotoFactory(
        profile=profile, status="rejected", status_reason="Not an image.", processed_at=T0
    )
    item = submit_for_review(reviewed, ModerationItem.Kind.PHOTO, facility=profile.facility)
    do_decide(
        item.pk,
        moderator,
        approve=False,
        seen_version=current_version(item),
        reason_code="other",
        note="Not a clear photo.",
    )
    public = add_public_photo(profile, is_primary=False)
    expired = {refused.original.name, reviewed.original.name}
    kept = {failed.original.name, public.original.name}
    assert stored_files(private_dir) == expired | kept

    time_machine.move_to(T0 + 30 * DAY - MINUTE, tick=False)
    assert purge_rejected_originals() == 0
    assert stored_files(private_dir) == expired | kept

    time_machine.move_to(T0 + 30 * DAY + MINUTE, tick=False)
    assert purge_rejected_originals() == 2
    assert stored_files(private_dir) == kept
    refused.refresh_from_db()
    reviewed.refresh_from_db()
    assert (refused.original.name, refused.status, refused.status_reason) == (
        "",
        "rejected",
        "Not an image.",
    )
    assert (reviewed.original.name, reviewed.review_status) == ("", "rejected")
    assert purge_rejected_originals() == 0
    assert ProfilePhoto.objects.count() == 4


def test_the_liaison_page_says_the_original_was_deleted(client, liaison, settings, time_machine):
    settings.REJECTED_PHOTO_RETENTION_DAYS = 10
    facility = liaison.facility_memberships.get().facility
    activate_totp(liaison)
    client.force_login(liaison)
    time_machine.move_to(T0, tick=False)
    profile = InmateProfileFactory.published(facility=facility)
    photo = ProfilePhotoFactory(profile=profile, status="rejected", processed_at=T0)
    original_url = reverse("liaison:photo_original", args=[photo.pk])
    assert client.get(original_url).status_code == 200

    time_machine.move_to(T0 + 11 * DAY, tick=False)
    assert purge_rejected_originals() == 1
    client.force_login(liaison)
    response = client.get(reverse("liaison:profile_detail", args=[profile.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "The original was deleted 10 days after it was rejected." in page
    assert original_url not in page
    assert client.get(original_url).status_code == 404


# --- Configuration -------------------------------------------------------------------------


def test_beat_runs_both_purges_daily(settings):
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["messaging.tasks.purge_expired_scans"] == 24 * 60 * 60
    assert schedule["profiles.tasks.purge_rejected_photo_originals"] == 24 * 60 * 60


def test_a_period_under_one_day_stops_the_process(monkeypatch):
    from penpals.settings import env_days

    monkeypatch.setenv("LETTER_SCAN_RETENTION_DAYS", "0")
    with pytest.raises(ImproperlyConfigured, match="LETTER_SCAN_RETENTION_DAYS"):
        env_days("LETTER_SCAN_RETENTION_DAYS", 180)
    monkeypatch.setenv("LETTER_SCAN_RETENTION_DAYS", "90")
    assert env_days("LETTER_SCAN_RETENTION_DAYS", 180) == 90
