"""A moderator blacks out regions of a reply's page before approval
(messaging.redaction): the copy the pen pal gets has black pixels there and
nothing else changed; refused boxes, after approval, and to anyone but staff
who decide letters; undo; the files go with the scan on the retention schedule."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image, PngImagePlugin

from messaging.models import Letter, LetterScan
from messaging.redaction import (
    MAX_REDACTIONS_PER_PAGE,
    RedactionRefused,
    clear_redactions,
    redact,
)
from messaging.retention import purge_expired_scans
from messaging.services import screen_letter
from moderation.models import ModerationItem
from moderation.services import current_version, do_decide
from tests.factories import (
    CorrespondenceFactory,
    LetterFactory,
    LiaisonFactory,
    UserFactory,
    activate_totp,
)

pytestmark = pytest.mark.django_db

WIDTH, HEIGHT = 400, 200
BACKGROUND = (230, 225, 210)
INK = (20, 40, 120)
# What a phone or scanner writes into a file, and must not reach the pen pal.
METADATA_TEXT = "Scanned at Northgate mailroom, inmate 12345"


def page_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A page of paper colour with lines of "ink", carrying a text chunk and EXIF."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    for top in range(20, height - 20, 30):
        image.paste(INK, (20, top, width - 20, top + 8))
    exif = Image.Exif()
    exif[0x010E] = METADATA_TEXT  # ImageDescription
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", METADATA_TEXT)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, exif=exif, dpi=(200, 200))
    return buffer.getvalue()


def pixels(field) -> Image.Image:
    with field.storage.open(field.name, "rb") as stored:
        image = Image.open(io.BytesIO(stored.read()))
        image.load()
    return image


def add_read_page(
    letter: Letter, page: int, *, ocr: dict | None = None, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> LetterScan:
    """A page as the reading of a reply leaves it: the scan, its page image
    (the same PNG here), its size and what OCR read."""
    content = page_png(*size)
    scan = LetterScan(letter=letter, page=page, content_type="image/png", size=len(content))
    scan.file.save("page.png", ContentFile(content), save=False)
    scan.page_image.save("page.png", ContentFile(content), save=False)
    scan.width, scan.height = size
    scan.ocr = ocr or {"text": "", "mean_confidence": 0.0, "languages": ["en", "es"], "words": []}
    scan.ocr_at = timezone.now()
    scan.save()
    return scan


def reply_in_review(
    correspondence=None,
    *,
    pages: int = 1,
    machine_transcription: str = "",
    ocr=None,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Letter:
    """An inbound reply with read pages, screened through the real service:
    in review, with its moderation item pending."""
    letter = LetterFactory(
        correspondence=correspondence or CorrespondenceFactory(),
        direction="in",
        status="submitted",
        body="",
        created_by=None,
        machine_transcription=machine_transcription,
    )
    for page in range(1, pages + 1):
        add_read_page(letter, page, ocr=(ocr or {}).get(page), size=size)
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    return letter


def item_of(letter: Letter) -> ModerationItem:
    return ModerationItem.objects.for_object(letter).get()


def decide(letter: Letter, moderator, **decision) -> ModerationItem:
    """Decide the reply's item on the version a moderator would read on its page."""
    item = item_of(letter)
    return do_decide(item.pk, moderator, seen_version=current_version(item), **decision)


@pytest.fixture
def reply() -> Letter:
    return reply_in_review()


@pytest.fixture
def scan(reply) -> LetterScan:
    return reply.scans.get()


# --- The pixels ----------------------------------------------------------------------------


def test_it_blacks_out_the_box_and_changes_nothing_else(
    scan, moderator, django_capture_on_commit_callbacks
):
    original_bytes = page_png()
    with django_capture_on_commit_callbacks(execute=True):
        redact(scan, [(0.25, 0.5, 0.25, 0.25)], moderator)
    scan.refresh_from_db()
    assert scan.redactions == [[0.25, 0.5, 0.25, 0.25]]
    assert scan.redacted_image and scan.redacted_image.name != scan.page_image.name

    redacted = pixels(scan.redacted_image).convert("RGB")
    original = Image.open(io.BytesIO(original_bytes)).convert("RGB")
    assert redacted.size == original.size == (WIDTH, HEIGHT)
    # Pixels 100-199 across and 100-149 down: a quarter of the width from a
    # quarter in, a quarter of the height from halfway down.
    inside = {(x, y) for x in range(100, 200) for y in range(100, 150)}
    for y in range(HEIGHT):
        for x in range(WIDTH):
            if (x, y) in inside:
                assert redacted.getpixel((x, y)) == (0, 0, 0), (x, y)
            else:
                assert redacted.getpixel((x, y)) == original.getpixel((x, y)), (x, y)

    # The page image itself is kept as it was, for staff, under retention.
    with scan.page_image.storage.open(scan.page_image.name, "rb") as stored:
        assert stored.read() == original_bytes


def test_the_redacted_copy_carries_no_metadata(scan, moderator):
    redact(scan, [(0, 0, 0.5, 0.5)], moderator)
    scan.refresh_from_db()
    with scan.redacted_image.storage.open(scan.redacted_image.name, "rb") as stored:
        content = stored.read()
    assert content.startswith(b"\x89PNG")
    assert METADATA_TEXT.encode() not in content
    image = Image.open(io.BytesIO(content))
    assert "Comment" not in image.info and "exif" not in image.info and "dpi" not in image.info
    assert not image.getexif()


def test_it_adds_regions_keeps_one_of_a_repeat_and_replaces_the_copy(
    scan, moderator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        redact(scan, [(0, 0, 0.25, 0.25)], moderator)
    scan.refresh_from_db()
    first_copy = scan.redacted_image.name
    storage = scan.redacted_image.storage
    with django_capture_on_commit_callbacks(execute=True):
        redact(scan, [(0, 0, 0.25, 0.25), (0.75, 0.75, 0.25, 0.25)], moderator)
    scan.refresh_from_db()
    assert scan.redactions == [[0, 0, 0.25, 0.25], [0.75, 0.75, 0.25, 0.25]]
    assert not storage.exists(first_copy)  # the copy before is deleted
    redacted = pixels(scan.redacted_image).convert("RGB")
    assert redacted.getpixel((0, 0)) == redacted.getpixel((WIDTH - 1, HEIGHT - 1)) == (0, 0, 0)
    assert redacted.getpixel((WIDTH // 2, HEIGHT // 2)) != (0, 0, 0)

    # The same region again (a second submit) changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        redact(scan, [(0.75, 0.75, 0.25, 0.25)], moderator)
    unchanged = LetterScan.objects.get(pk=scan.pk)
    assert unchanged.redacted_image.name == scan.redacted_image.name
    assert len(unchanged.redactions) == 2


def test_it_records_who_redacted(reply, scan, moderator):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)
    entry = LogEntry.objects.get(object_id=str(reply.pk))
    assert entry.user == moderator
    assert entry.content_type.model == "letter"
    assert '"page": 1' in entry.change_message


# --- Refused boxes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "words"),
    [
        ((-0.1, 0.2, 0.3, 0.3), "goes off the page"),
        ((0.2, -0.01, 0.3, 0.3), "goes off the page"),
        ((0.8, 0.2, 0.3, 0.3), "goes off the page"),
        ((0.2, 0.8, 0.3, 0.3), "goes off the page"),
        ((1.5, 0.2, 0.1, 0.1), "goes off the page"),
        ((0.2, 0.2, 0, 0.3), "has no size"),
        ((0.2, 0.2, 0.3, 0), "has no size"),
        ((0.2, 0.2, -0.1, 0.3), "has no size"),
        ((0.2, 0.2, float("nan"), 0.3), "is not four numbers"),
        ((0.2, 0.2, 0.3), "is not four numbers"),
        (("a", 0.2, 0.3, 0.3), "is not four numbers"),
    ],
)
def test_a_box_that_is_not_a_region_of_the_page_is_refused(scan, moderator, box, words):
    with pytest.raises(RedactionRefused) as refused:
        redact(scan, [box], moderator)
    assert words in " ".join(refused.value.messages)
    scan.refresh_from_db()
    assert scan.redactions == [] and not scan.redacted_image


def test_no_box_at_all_is_refused(scan, moderator):
    with pytest.raises(RedactionRefused, match="Mark a region"):
        redact(scan, [], moderator)


def test_more_regions_than_a_page_takes_are_refused(scan, moderator):
    boxes = [(i / 40, 0, 1 / 80, 0.5) for i in range(MAX_REDACTIONS_PER_PAGE)]
    redact(scan, boxes, moderator)
    with pytest.raises(RedactionRefused, match=f"at most {MAX_REDACTIONS_PER_PAGE}"):
        redact(scan, [(0.9, 0.9, 0.05, 0.05)], moderator)
    with pytest.raises(RedactionRefused, match=f"at most {MAX_REDACTIONS_PER_PAGE}"):
        redact(
            LetterScan.objects.get(pk=scan.pk),
            [(0.5, 0.5 + i / 100, 0.1, 0.005) for i in range(MAX_REDACTIONS_PER_PAGE + 1)],
            moderator,
        )
    assert len(LetterScan.objects.get(pk=scan.pk).redactions) == MAX_REDACTIONS_PER_PAGE


def test_a_page_not_read_yet_cannot_be_redacted(moderator):
    letter = reply_in_review()
    scan = letter.scans.get()
    LetterScan.objects.filter(pk=scan.pk).update(page_image="")
    scan.refresh_from_db()
    with pytest.raises(RedactionRefused, match="has not been read yet"):
        redact(scan, [(0.1, 0.1, 0.1, 0.1)], moderator)


# --- Before approval only, and undo --------------------------------------------------------


def test_it_is_refused_after_approval(reply, scan, moderator):
    decide(reply, moderator, approve=True)
    with pytest.raises(RedactionRefused, match="already approved"):
        redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)
    scan.refresh_from_db()
    assert scan.redactions == [] and not scan.redacted_image


def test_it_is_refused_after_a_rejection(reply, scan, moderator):
    decide(reply, moderator, approve=False, reason_code="money")
    with pytest.raises(RedactionRefused, match="already decided"):
        redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)


def test_undo_clears_the_regions_and_deletes_the_copy(
    reply, scan, moderator, django_capture_on_commit_callbacks
):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)
    scan.refresh_from_db()
    copy = scan.redacted_image.name
    storage = scan.redacted_image.storage
    with django_capture_on_commit_callbacks(execute=True):
        clear_redactions(scan, moderator)
    scan.refresh_from_db()
    assert scan.redactions == [] and not scan.redacted_image
    assert not storage.exists(copy)
    assert scan.page_image and storage.exists(scan.page_image.name)
    assert LogEntry.objects.filter(object_id=str(reply.pk), user=moderator).count() == 2


def test_undo_is_refused_after_approval(reply, scan, moderator):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)
    decide(reply, moderator, approve=True)
    with pytest.raises(RedactionRefused, match="already approved"):
        clear_redactions(LetterScan.objects.get(pk=scan.pk), moderator)
    scan.refresh_from_db()
    assert scan.redactions and scan.redacted_image


# --- The pages -----------------------------------------------------------------------------


def redact_url(scan) -> str:
    return reverse("admin:messaging_letter_scan_redact", args=[scan.pk])


def image_url(scan, version: str = "") -> str:
    url = reverse("admin:messaging_letter_scan_image", args=[scan.pk])
    return f"{url}?version={version}" if version else url


def test_a_moderator_redacts_through_the_form_and_returns_to_the_item(
    client, moderator_with_mfa, reply, scan
):
    item = item_of(reply)
    client.force_login(moderator_with_mfa)
    response = client.post(
        redact_url(scan), {"item": item.pk, "x": "25", "y": "50", "width": "25", "height": "25"}
    )
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("admin:moderation_moderationitem_change", args=[item.pk]) + "#scan-page-1"
    )
    scan.refresh_from_db()
    assert scan.redactions == [[0.25, 0.5, 0.25, 0.25]]
    page = client.get(response["Location"]).content.decode()
    assert "Region blacked out on page 1." in page


def test_a_refused_region_comes_back_with_its_numbers_and_the_reason(
    client, moderator_with_mfa, reply, scan
):
    client.force_login(moderator_with_mfa)
    response = client.post(
        redact_url(scan),
        {"item": item_of(reply).pk, "x": "90", "y": "10", "width": "20", "height": "5"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "goes off the page" in page
    assert 'value="90"' in page and 'value="20"' in page
    response = client.post(redact_url(scan), {"x": "10", "y": "10", "width": "0", "height": "5"})
    assert response.status_code == 200
    assert "greater than or equal to 0.01" in response.content.decode()
    scan.refresh_from_db()
    assert scan.redactions == []


def test_the_form_says_why_after_approval(client, moderator_with_mfa, reply, scan):
    decide(reply, moderator_with_mfa, approve=True)
    client.force_login(moderator_with_mfa)
    response = client.post(redact_url(scan), {"x": "10", "y": "10", "width": "20", "height": "5"})
    assert response.status_code == 200
    assert "already approved" in response.content.decode()
    page = client.get(
        reverse("admin:moderation_moderationitem_change", args=[item_of(reply).pk])
    ).content.decode()
    assert "This reply is decided: its pages can no longer be redacted." in page
    assert redact_url(scan) not in page


def test_undo_through_the_page(client, moderator_with_mfa, reply, scan):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator_with_mfa)
    client.force_login(moderator_with_mfa)
    response = client.post(redact_url(scan), {"action": "clear", "item": item_of(reply).pk})
    assert response.status_code == 302
    scan.refresh_from_db()
    assert scan.redactions == [] and not scan.redacted_image


def test_staff_get_the_page_image_and_the_redacted_copy_never_cached(
    client, moderator_with_mfa, scan
):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator_with_mfa)
    client.force_login(moderator_with_mfa)
    response = client.get(image_url(scan))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == page_png()
    redacted = client.get(image_url(scan, "redacted"))
    assert redacted.status_code == 200
    content = b"".join(redacted.streaming_content)
    assert Image.open(io.BytesIO(content)).convert("RGB").getpixel((60, 30)) == (0, 0, 0)


@pytest.mark.parametrize("who", ["anonymous", "pen_pal", "liaison", "staff_without_rights"])
def test_nobody_else_reaches_the_images_or_the_forms(client, reply, scan, moderator, who):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)
    if who == "pen_pal":
        # The reply is to this pen pal: they still only get it through their
        # thread, once approved, never through the staff pages.
        client.force_login(reply.correspondence.pen_pal)
    elif who == "liaison":
        liaison = LiaisonFactory(facility=reply.correspondence.profile.facility).user
        activate_totp(liaison)
        client.force_login(liaison)
    elif who == "staff_without_rights":
        staff = UserFactory(is_staff=True)
        activate_totp(staff)
        client.force_login(staff)
    expected = (404,) if who == "staff_without_rights" else (302,)
    admin_login = reverse("admin:login")
    for response in (
        client.get(image_url(scan)),
        client.get(image_url(scan, "redacted")),
        client.get(redact_url(scan)),
        client.post(redact_url(scan), {"x": "0", "y": "0", "width": "50", "height": "50"}),
        client.post(redact_url(scan), {"action": "clear"}),
    ):
        assert response.status_code in expected
        if response.status_code == 302:
            assert response["Location"].startswith(admin_login)
    scan.refresh_from_db()
    assert scan.redactions == [[0.1, 0.1, 0.2, 0.2]]


def test_an_unknown_scan_is_not_found(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    assert client.get(redact_url(LetterScan(pk=999_999))).status_code == 404


# --- Retention -----------------------------------------------------------------------------


def test_the_page_image_and_the_copy_go_with_the_scan(reply, scan, moderator, time_machine):
    redact(scan, [(0.1, 0.1, 0.2, 0.2)], moderator)
    decide(reply, moderator, approve=False, reason_code="money")
    scan.refresh_from_db()
    storage = scan.file.storage
    names = [scan.file.name, scan.page_image.name, scan.redacted_image.name]
    assert all(storage.exists(name) for name in names)
    time_machine.move_to(timezone.now() + timedelta(days=181), tick=False)
    assert purge_expired_scans() == 3
    assert not any(storage.exists(name) for name in names)
    scan.refresh_from_db()
    assert not scan.file and not scan.page_image and not scan.redacted_image
    assert scan.redactions  # the record of what was blacked out stays
    assert purge_expired_scans() == 0


def test_a_photographed_page_gives_a_jpeg_copy_black_in_the_box(moderator):
    """A JPEG page image (a phone photo of the page) is redacted into a JPEG:
    black where the box is, the page elsewhere, no metadata."""
    letter = reply_in_review()
    scan = letter.scans.get()
    photo = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    exif = Image.Exif()
    exif[0x010E] = METADATA_TEXT
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=95, exif=exif)
    scan.page_image.save("page.jpg", ContentFile(buffer.getvalue()), save=True)

    redact(scan, [(0.5, 0, 0.5, 0.5)], moderator)
    scan.refresh_from_db()
    assert scan.redacted_image.name.endswith(".jpg")
    with scan.redacted_image.storage.open(scan.redacted_image.name, "rb") as stored:
        content = stored.read()
    assert METADATA_TEXT.encode() not in content
    redacted = Image.open(io.BytesIO(content))
    assert redacted.format == "JPEG" and not redacted.getexif()
    redacted = redacted.convert("RGB")
    # JPEG blurs an edge by a pixel or two: look a few pixels in from it.
    for x in range(204, WIDTH, 7):
        for y in range(0, 96, 7):
            assert max(redacted.getpixel((x, y))) <= 6, (x, y)
    for x, y in [(10, 10), (150, 150), (300, 150), (150, 50)]:
        assert all(
            abs(got - wanted) <= 6
            for got, wanted in zip(redacted.getpixel((x, y)), BACKGROUND, strict=True)
        ), (x, y)
