"""The images of scanned pages that never became part of a reply (blank,
duplicate, discarded, or left in triage) are deleted on the reply scans'
schedule (messaging.retention); the rows stay as the record that the page
was received. A page in a reply shares its file with its scan: that file
goes once, with the scan, never before it."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from messaging import intake
from messaging.models import Letter, LetterScan, ScanPage, ScanRun
from messaging.retention import (
    TRIAGE_GRACE,
    purge_expired_scan_pages,
    purge_expired_scans,
)
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    activate_totp,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_dir")]

State = ScanPage.State
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def private_dir(tmp_path, settings, monkeypatch):
    """Private storage in a folder of this test's own, for every field that
    holds a page (a page in a reply and its scan name the same file)."""
    from django.core.files.storage import storages

    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    for model, name in (
        (LetterScan, "file"),
        (LetterScan, "page_image"),
        (LetterScan, "redacted_image"),
        (ScanPage, "image"),
    ):
        monkeypatch.setattr(model._meta.get_field(name), "storage", storages["private"])
    return location


@pytest.fixture
def retention():
    return timedelta(days=settings.LETTER_SCAN_RETENTION_DAYS)


@pytest.fixture
def membership(db):
    membership = LiaisonFactory()
    activate_totp(membership.user)
    return membership


@pytest.fixture
def run(membership, time_machine):
    time_machine.move_to(T0, tick=False)
    return ScanRun.objects.create(
        facility=membership.facility,
        uploaded_by=membership.user,
        idempotency_key=uuid.uuid4(),
        state=ScanRun.State.DONE,
    )


def page_jpeg(number: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (120, 160), 200 + number).save(buffer, "JPEG")
    return buffer.getvalue()


def stored_page(run: ScanRun, number: int, state: str, **fields) -> ScanPage:
    """A page as intake stores it: its image in private storage, then its state."""
    content = page_jpeg(number)
    page = ScanPage(
        run=run,
        facility_id=run.facility_id,
        number=number,
        content_hash=hashlib.sha256(content).hexdigest(),
        width=120,
        height=160,
        state=state,
        **fields,
    )
    page.image.save("page.jpg", ContentFile(content), save=False)
    page.save()
    return page


def in_triage(run: ScanRun, number: int) -> ScanPage:
    return stored_page(run, number, State.TRIAGE, triage_reason=ScanPage.TriageReason.UNREADABLE)


def stored_files(private_dir) -> set[str]:
    return {path.relative_to(private_dir).as_posix() for path in private_dir.rglob("*.jpg")}


def image_url(page: ScanPage) -> str:
    return reverse("liaison_letters:scan_page_image", args=[page.facility.slug, page.pk])


# --- Pages in no reply ------------------------------------------------------------------------


def test_it_deletes_the_images_of_pages_in_no_reply_past_the_period(
    run, membership, private_dir, retention, time_machine
):
    blank = stored_page(run, 1, State.BLANK)
    duplicate = stored_page(run, 2, State.DUPLICATE)
    discarded = in_triage(run, 3)
    intake.discard_page(membership.user, discarded)
    discarded.refresh_from_db()
    names = {page.image.name for page in (blank, duplicate, discarded)}
    assert stored_files(private_dir) == names

    time_machine.move_to(T0 + retention - MINUTE, tick=False)
    assert purge_expired_scan_pages() == 0
    assert stored_files(private_dir) == names

    time_machine.move_to(T0 + retention + MINUTE, tick=False)
    assert purge_expired_scan_pages() == 3
    assert stored_files(private_dir) == set()
    # The rows stay, as the record of what was received and what became of it.
    kept = {page.number: page for page in ScanPage.objects.filter(run=run)}
    assert {number: page.state for number, page in kept.items()} == {
        1: State.BLANK,
        2: State.DUPLICATE,
        3: State.DISCARDED,
    }
    assert all(page.image.name == "" for page in kept.values())
    assert kept[2].content_hash == duplicate.content_hash
    assert kept[3].resolved_by == membership.user
    # Nothing left to do: a second run deletes nothing and fails on nothing.
    assert purge_expired_scan_pages() == 0


def test_the_image_answers_404_once_it_is_deleted(
    client, run, membership, private_dir, retention, time_machine
):
    blank = stored_page(run, 1, State.BLANK)
    client.force_login(membership.user)
    response = client.get(image_url(blank))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == page_jpeg(1)

    time_machine.move_to(T0 + retention + MINUTE, tick=False)
    purge_expired_scan_pages()
    client.force_login(membership.user)  # the session ended months ago
    assert client.get(image_url(blank)).status_code == 404
    # The run's page still says what the page was.
    page = client.get(reverse("liaison_letters:scan_run", args=[run.facility.slug, run.pk]))
    assert page.status_code == 200


# --- Pages waiting in triage ------------------------------------------------------------------


def test_it_keeps_a_page_in_triage_while_it_waits_until_the_grace_ends(
    run, membership, private_dir, retention, time_machine
):
    waiting = in_triage(run, 1)

    time_machine.move_to(T0 + retention + TRIAGE_GRACE - MINUTE, tick=False)
    assert purge_expired_scan_pages() == 0
    waiting.refresh_from_db()
    assert waiting.state == State.TRIAGE and waiting.image
    assert list(intake.triage_pages(membership.facility)) == [waiting]

    time_machine.move_to(T0 + retention + TRIAGE_GRACE + MINUTE, tick=False)
    assert purge_expired_scan_pages() == 1
    waiting.refresh_from_db()
    # Discarded by the schedule (nobody), and out of the list to sort.
    assert (waiting.state, waiting.image.name, waiting.resolved_by) == (State.DISCARDED, "", None)
    assert waiting.resolved_at == T0 + retention + TRIAGE_GRACE + MINUTE
    assert waiting.triage_reason == ScanPage.TriageReason.UNREADABLE
    assert not intake.triage_pages(membership.facility).exists()
    assert stored_files(private_dir) == set()


def test_a_page_discarded_by_the_schedule_cannot_be_put_in_a_reply(
    client, run, membership, private_dir, retention, time_machine
):
    """The liaison's triage page was open from before: assigning the page now
    says it is no longer waiting, and makes no reply without an image."""
    correspondence = CorrespondenceFactory(
        profile=InmateProfileFactory.published(facility=membership.facility)
    )
    waiting = in_triage(run, 1)
    time_machine.move_to(T0 + retention + TRIAGE_GRACE + MINUTE, tick=False)
    purge_expired_scan_pages()

    client.force_login(membership.user)
    url = reverse("liaison_letters:triage_page", args=[membership.facility.slug, waiting.pk])
    response = client.post(
        url,
        {
            f"page-{waiting.pk}-action": "assign",
            f"page-{waiting.pk}-reference": correspondence.code,
        },
        follow=True,
    )
    assert response.status_code == 400
    assert "This page is no longer waiting to be sorted." in response.content.decode()
    assert not Letter.objects.inbound().exists()
    assert client.get(image_url(waiting)).status_code == 404


# --- Pages in a reply ---------------------------------------------------------------------------


def test_a_page_in_a_reply_goes_once_with_its_scan_and_not_before(
    client, run, membership, private_dir, retention, time_machine
):
    """A page received long ago and put in a reply only now shares its file
    with the reply's scan: the page schedule leaves it alone (the reply is
    still in review), the scans' schedule deletes it once the reply is read,
    and the page then forgets the name."""
    correspondence = CorrespondenceFactory(
        profile=InmateProfileFactory.published(facility=membership.facility)
    )
    page = in_triage(run, 1)
    time_machine.move_to(T0 + retention + TRIAGE_GRACE - MINUTE, tick=False)
    letter = intake.assign_page(membership.user, page, correspondence.code)
    page.refresh_from_db()
    scan = letter.scans.get()
    assert scan.file.name == scan.page_image.name == page.image.name
    shared = {page.image.name}

    # Years later, the reply still in review: nothing of it is deleted.
    time_machine.move_to(T0 + 4 * retention, tick=False)
    assert purge_expired_scans() == 0
    assert stored_files(private_dir) == shared
    page.refresh_from_db()
    assert page.state == State.REPLY and page.image.name in shared

    read_at = T0 + 4 * retention
    Letter.objects.filter(pk=letter.pk).update(
        status=Letter.Status.READ, approved_at=read_at, read_at=read_at
    )
    time_machine.move_to(read_at + retention - MINUTE, tick=False)
    purge_expired_scans()
    assert stored_files(private_dir) == shared

    time_machine.move_to(read_at + retention + MINUTE, tick=False)
    purge_expired_scans()
    assert stored_files(private_dir) == set()
    scan.refresh_from_db()
    page.refresh_from_db()
    assert (scan.file.name, scan.page_image.name) == ("", "")
    assert page.image.name == "" and page.state == State.REPLY and page.letter_id == letter.pk
    assert purge_expired_scans() == 0

    client.force_login(membership.user)
    assert client.get(image_url(page)).status_code == 404


def test_the_staff_image_views_answer_404_once_the_files_are_gone(
    client, run, membership, private_dir, retention, time_machine
):
    correspondence = CorrespondenceFactory(
        profile=InmateProfileFactory.published(facility=membership.facility)
    )
    in_reply = intake.assign_page(membership.user, in_triage(run, 1), correspondence.code)
    blank = stored_page(run, 2, State.BLANK)
    scan = in_reply.scans.get()
    Letter.objects.filter(pk=in_reply.pk).update(status=Letter.Status.REJECTED, rejected_at=T0)
    admin = ModeratorFactory(is_superuser=True)
    activate_totp(admin)
    client.force_login(admin)
    urls = [
        reverse("admin:messaging_letter_scan_image", args=[scan.pk]),
        image_url(ScanPage.objects.get(letter=in_reply)),
        image_url(blank),
        reverse("letters:scan", args=[scan.pk]),
    ]
    assert [client.get(url).status_code for url in urls] == [200, 200, 200, 200]

    time_machine.move_to(T0 + retention + MINUTE, tick=False)
    purge_expired_scans()
    assert stored_files(private_dir) == set()
    client.force_login(admin)  # the session ended months ago
    assert [client.get(url).status_code for url in urls] == [404, 404, 404, 404]
