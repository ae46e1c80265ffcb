"""Who may see a scanned reply (GET /letters/scan/<pk>/): the pen pal it was sent
to (once approved), a liaison of the letter's facility, staff; 404 for everyone else."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from messaging.models import Letter, LetterScan
from profiles.models import LiaisonAction
from tests.factories import (
    MINIMAL_PDF,
    CorrespondenceFactory,
    LetterFactory,
    LiaisonFactory,
    activate_totp,
    image_bytes,
)

pytestmark = pytest.mark.django_db

PNG = image_bytes("PNG")


def add_scan(letter: Letter, page: int, content: bytes, content_type: str) -> LetterScan:
    scan = LetterScan(letter=letter, page=page, content_type=content_type, size=len(content))
    suffix = ".pdf" if content_type == "application/pdf" else ".png"
    scan.file.save(f"page{suffix}", ContentFile(content), save=True)
    return scan


def scan_url(scan: LetterScan) -> str:
    return reverse("letters:scan", args=[scan.pk])


@pytest.fixture
def reply(alice, profile) -> Letter:
    """An approved reply to alice, with two scanned pages: an image and a PDF."""
    letter = LetterFactory(
        correspondence=CorrespondenceFactory(pen_pal=alice, profile=profile),
        direction="in",
        status="approved",
        body="",
        created_by=None,
        approved_at=timezone.now(),
    )
    add_scan(letter, 1, PNG, "image/png")
    add_scan(letter, 2, MINIMAL_PDF, "application/pdf")
    return letter


@pytest.fixture
def image_scan(reply) -> LetterScan:
    return reply.scans.get(page=1)


def liaison_of(facility, *, with_mfa: bool = True):
    user = LiaisonFactory(facility=facility).user
    if with_mfa:
        activate_totp(user)
    return user


def test_the_pen_pal_sees_their_approved_reply_inline(client, alice, image_scan):
    client.force_login(alice)
    response = client.get(scan_url(image_scan))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_a_pdf_page_is_served_as_a_pdf(client, alice, reply):
    client.force_login(alice)
    response = client.get(scan_url(reply.scans.get(page=2)))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == MINIMAL_PDF
    assert response["Content-Type"] == "application/pdf"


def test_the_pen_pal_can_still_see_a_reply_once_read(client, alice, reply, image_scan):
    Letter.objects.filter(pk=reply.pk).update(status="read")
    client.force_login(alice)
    assert client.get(scan_url(image_scan)).status_code == 200


@pytest.mark.parametrize("status", ["submitted", "in_review", "rejected"])
def test_the_pen_pal_cannot_see_a_reply_before_approval(client, alice, reply, image_scan, status):
    Letter.objects.filter(pk=reply.pk).update(status=status)
    client.force_login(alice)
    assert client.get(scan_url(image_scan)).status_code == 404


def test_another_pen_pal_gets_404(client, bob, image_scan):
    client.force_login(bob)
    assert client.get(scan_url(image_scan)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, image_scan):
    response = client.get(scan_url(image_scan))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={scan_url(image_scan)}"


def test_a_liaison_of_the_facility_sees_it_at_any_status(client, reply, image_scan, profile):
    Letter.objects.filter(pk=reply.pk).update(status="in_review")
    client.force_login(liaison_of(profile.facility))
    response = client.get(scan_url(image_scan))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    # Every look by facility staff is on the audit trail.
    action = LiaisonAction.objects.get(kind="scan_downloaded")
    assert (action.facility, action.detail) == (profile.facility, {"scan": image_scan.pk})


def test_a_liaison_of_another_facility_gets_404(client, image_scan):
    client.force_login(liaison_of(LiaisonFactory().facility))
    assert client.get(scan_url(image_scan)).status_code == 404


def test_a_liaison_without_mfa_is_refused(client, image_scan, profile):
    client.force_login(liaison_of(profile.facility, with_mfa=False))
    assert client.get(scan_url(image_scan)).status_code == 403


def test_staff_with_mfa_see_it(client, moderator_with_mfa, image_scan):
    client.force_login(moderator_with_mfa)
    assert client.get(scan_url(image_scan)).status_code == 200


def test_staff_without_mfa_are_refused(client, moderator, image_scan):
    client.force_login(moderator)
    assert client.get(scan_url(image_scan)).status_code == 403


def test_an_unknown_scan_is_404(client, alice, image_scan):
    client.force_login(alice)
    assert client.get(reverse("letters:scan", args=[image_scan.pk + 1000])).status_code == 404


def test_a_file_missing_from_storage_is_404_not_500(client, alice, image_scan):
    image_scan.file.storage.delete(image_scan.file.name)
    client.force_login(alice)
    assert client.get(scan_url(image_scan)).status_code == 404


def test_an_unexpected_content_type_is_only_offered_as_a_download(client, alice, image_scan):
    LetterScan.objects.filter(pk=image_scan.pk).update(content_type="text/html")
    client.force_login(alice)
    response = client.get(scan_url(image_scan))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_the_thread_shows_images_inline_and_pdfs_as_links(client, alice, reply):
    image, pdf = reply.scans.order_by("page")
    client.force_login(alice)
    html = client.get(reverse("letters:thread", args=[reply.correspondence_id])).content.decode()
    assert f'<img src="{scan_url(image)}" alt="Scanned page 1 of the reply"' in html
    assert f'<a href="{scan_url(pdf)}">Page 2 (PDF)</a>' in html
    # Never a storage path: the files are reached only through the view.
    assert image.file.name not in html
