"""Reading reply scans (messaging.ocr, messaging.reading) with the real
Tesseract, the screening of what was read, and what the pen pal sees of a
reply: the scan first (only its redacted copy when a moderator redacted it),
then the transcription once a person confirmed it; never what OCR read."""

from __future__ import annotations

import io
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from messaging import ocr
from messaging.models import Letter, LetterScan
from messaging.ocr import OcrFailed, boxes_for_span, ocr_image, stack_readings
from messaging.reading import PDF_PAGE_GAP, read_reply
from messaging.replies import check_upload_reply
from messaging.services import screen_letter, sweep_unscreened_letters
from moderation.alerts import OCR_FAILED, alert
from moderation.models import ModerationItem
from profiles.models import Facility
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    PenPalFactory,
    activate_totp,
)
from tests.security.urls_walk import all_routes

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DPI = 200

ENGLISH = [
    "Dear Rosa,",
    "Thank you for your letter and the photographs of the garden.",
    "The library opened again on Tuesday and I borrowed three books.",
    "Please write soon and tell me about the tomatoes you planted.",
]
SPANISH = [
    "Querida Rosa,",
    "Gracias por tu carta. Aquí el invierno ha sido frío y largo.",
    "Pedí prestados tres libros sobre jardinería en la biblioteca.",
    "Escríbeme pronto y cuéntame cómo están tus tomates.",
]
MONEY = [
    "Dear Rosa,",
    "The weather is cold here and the food is the same as always.",
    "Could you please send me some money on Venmo this week?",
    "I hope your garden is doing well.",
]


# --- Pages typed with Pillow --------------------------------------------------------------------


def typed_page(lines: list[str], *, dpi: int = DPI, size: int = 12):
    """A letter-size page at `dpi` with `lines` typed in DejaVu Sans, and where
    each word was drawn: {word: [(x0, y0, x1, y1), ...]} in page pixels."""
    page = Image.new("RGB", (round(8.5 * dpi), 11 * dpi), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, round(size * dpi / 72))
    drawn: dict[str, list[tuple[int, int, int, int]]] = {}
    top = dpi
    for line in lines:
        draw.text((dpi, top), line, font=font, fill="black")
        left = dpi
        for word in line.split(" "):
            box = draw.textbbox((left, top), word, font=font)
            drawn.setdefault(word.strip(",.?"), []).append(box)
            left += draw.textlength(f"{word} ", font=font)
        top += round(size * dpi / 72 * 1.6)
    return page, drawn


def encoded(image: Image.Image, image_format: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


def pdf_of(*pages: Image.Image) -> bytes:
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=DPI, save_all=True, append_images=list(pages[1:]))
    return out.getvalue()


def lies_over(box: list[int], drawn: tuple[int, int, int, int]) -> bool:
    """Whether an OCR box [x, y, w, h] covers a drawn word (x0, y0, x1, y1):
    most of each lies inside the other."""
    x, y, w, h = box
    x0, y0, x1, y1 = drawn
    overlap_w = min(x + w, x1) - max(x, x0)
    overlap_h = min(y + h, y1) - max(y, y0)
    if overlap_w <= 0 or overlap_h <= 0:
        return False
    overlap = overlap_w * overlap_h
    return overlap >= 0.6 * w * h and overlap >= 0.6 * (x1 - x0) * (y1 - y0)


def word_in(reading: dict, text: str) -> dict:
    found = [word for word in reading["words"] if word["text"].strip(",.?") == text]
    assert found, f"{text!r} not read in {reading['text']!r}"
    return found[0]


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def scan_storage(tmp_path, settings, monkeypatch):
    """Private storage of this test's own for every file of a scan: the file
    as received, the page image and the redacted copy."""
    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    for name in ("file", "page_image", "redacted_image"):
        monkeypatch.setattr(LetterScan._meta.get_field(name), "storage", storages["private"])
    return location


@pytest.fixture
def correspondence(liaison):
    facility = liaison.facility_memberships.get().facility
    profile = InmateProfileFactory.published(facility=facility, display_name="Marcus")
    return CorrespondenceFactory(
        pen_pal=PenPalFactory(display_name="Rosa", email="rosa@example.org"), profile=profile
    )


def upload_reply(liaison, correspondence, *files: tuple[str, bytes], transcription: str = ""):
    return check_upload_reply(
        liaison,
        correspondence,
        [SimpleUploadedFile(name, content) for name, content in files],
        transcription,
        uuid.uuid4(),
    )


# --- messaging.ocr ------------------------------------------------------------------------------


def test_it_reads_a_typed_english_page_with_its_words_and_boxes():
    page, drawn = typed_page(ENGLISH)
    reading = ocr_image(page)
    assert reading["languages"] == ["en", "es"]
    assert reading["mean_confidence"] > 80
    for text in ("library", "Tuesday", "borrowed", "tomatoes", "photographs"):
        word = word_in(reading, text)
        # The offsets index the text, and the box lies over the word on the page.
        assert reading["text"][word["start"] : word["end"]] == word["text"]
        assert lies_over(word["box"], drawn[text][0]), (text, word["box"], drawn[text])
        assert word["confidence"] > 60
    # Lines are lines of the text; the greeting stands apart, as its own paragraph.
    assert "of the garden.\nThe library" in reading["text"]
    assert reading["text"].startswith("Dear Rosa,\n")


def test_it_reads_a_typed_spanish_page_with_its_accents_and_boxes():
    page, drawn = typed_page(SPANISH)
    reading = ocr_image(page)
    for text in ("Pedí", "jardinería", "biblioteca", "Escríbeme", "cuéntame", "cómo", "están"):
        word = word_in(reading, text)
        assert reading["text"][word["start"] : word["end"]] == word["text"]
        assert lies_over(word["box"], drawn[text][0]), (text, word["box"], drawn[text])


def test_a_blank_page_reads_as_no_words():
    reading = ocr_image(Image.new("L", (1700, 2200), 255))
    assert reading == {"text": "", "mean_confidence": 0.0, "languages": ["en", "es"], "words": []}


def test_a_missing_tesseract_raises_ocr_failed(monkeypatch):
    monkeypatch.setattr(ocr.pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(OcrFailed):
        ocr_image(Image.new("L", (100, 100), 255))


def test_boxes_for_span_are_the_boxes_of_the_words_it_covers():
    reading = {
        "text": "send me\nmoney",
        "words": [
            {"text": "send", "confidence": 90.0, "box": [0, 0, 40, 10], "start": 0, "end": 4},
            {"text": "me", "confidence": 90.0, "box": [45, 0, 20, 10], "start": 5, "end": 7},
            {"text": "money", "confidence": 80.0, "box": [0, 20, 50, 10], "start": 8, "end": 13},
        ],
    }
    assert boxes_for_span(reading, 0, 7) == [[0, 0, 40, 10], [45, 0, 20, 10]]
    assert boxes_for_span(reading, 6, 10) == [[45, 0, 20, 10], [0, 20, 50, 10]]
    assert boxes_for_span(reading, 4, 5) == []  # the space between two words
    assert boxes_for_span(reading, 9, 9) == [[0, 20, 50, 10]]


def test_stacked_readings_move_offsets_and_boxes_to_the_stacked_image():
    first = {
        "text": "one",
        "words": [{"text": "one", "confidence": 90.0, "box": [1, 2, 3, 4], "start": 0, "end": 3}],
    }
    second = {
        "text": "two",
        "words": [{"text": "two", "confidence": 70.0, "box": [1, 2, 3, 4], "start": 0, "end": 3}],
    }
    empty = {"text": "", "words": []}
    stacked = stack_readings([(first, 0, 0), (empty, 0, 100), (second, 10, 200)])
    assert stacked["text"] == "one\n\ntwo"
    assert stacked["words"][1] == {
        "text": "two",
        "confidence": 70.0,
        "box": [11, 202, 3, 4],
        "start": 5,
        "end": 8,
    }
    assert stacked["mean_confidence"] == 80.0


# --- messaging.reading --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_a_money_request_in_the_handwriting_is_highlighted_on_the_page(
    liaison, correspondence, default_screening_rules
):
    page, drawn = typed_page(MONEY)
    letter = upload_reply(liaison, correspondence, ("reply.png", encoded(page)))
    read_reply(letter.pk)
    letter.refresh_from_db()
    scan = letter.scans.get()
    # The page image is the page, upright, in private storage; OCR read it.
    assert scan.page_image and scan.page_image.name != scan.file.name
    assert (scan.width, scan.height) == page.size
    assert scan.ocr_at is not None
    assert "send me some money on Venmo" in scan.ocr["text"]
    assert letter.machine_transcription == scan.ocr["text"]
    # Screened: the reply's money request found in the OCR text, with its boxes.
    assert letter.status == Letter.Status.IN_REVIEW
    assert "money" in letter.screening["categories"]
    assert letter.screening["hits"] == []  # nothing was typed
    venmo = [hit for hit in letter.screening["ocr_hits"] if hit["match"] == "Venmo"]
    assert len(venmo) == 1
    hit = venmo[0]
    assert set(hit) == {"scan", "page", "category", "rule", "match", "confidence", "boxes"}
    assert (hit["scan"], hit["page"], hit["category"]) == (scan.pk, 1, "money")
    assert hit["confidence"] > 60
    assert len(hit["boxes"]) == 1
    assert lies_over(hit["boxes"][0], drawn["Venmo"][0])
    # The request itself spans words over the line: each box lies over one of them.
    request = next(h for h in letter.screening["ocr_hits"] if h["rule"] == "Money requests")
    for box in request["boxes"]:
        assert any(lies_over(box, where) for boxes in drawn.values() for where in boxes)
    item = ModerationItem.objects.for_object(letter).get()
    assert (item.kind, item.status) == ("letter_in", "pending")
    assert "money" in item.flags


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_a_photographed_page_is_read_upright(liaison, correspondence, default_screening_rules):
    """A phone's JPEG stored on its side with an EXIF turn: the page image is
    the page as the camera meant it, and OCR reads it."""
    page, _ = typed_page(ENGLISH)
    sideways = page.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90° clockwise to view"
    out = io.BytesIO()
    sideways.save(out, "JPEG", quality=90, exif=exif)
    letter = upload_reply(liaison, correspondence, ("photo.jpg", out.getvalue()))
    read_reply(letter.pk)
    scan = letter.scans.get()
    assert (scan.width, scan.height) == page.size
    assert scan.page_image.name.endswith(".jpg")
    assert "borrowed three books" in scan.ocr["text"]
    with scan.page_image.open("rb") as stored:
        assert not Image.open(stored).getexif()  # no metadata on the page image


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_a_pdf_scan_is_read_page_by_page_on_one_page_image(
    liaison, correspondence, default_screening_rules
):
    first, _ = typed_page(ENGLISH)
    second, drawn = typed_page(SPANISH)
    letter = upload_reply(liaison, correspondence, ("reply.pdf", pdf_of(first, second)))
    read_reply(letter.pk)
    letter.refresh_from_db()
    scan = letter.scans.get()
    # The two pages, one under the other, on one page image at the scan's DPI.
    assert scan.width == first.width
    assert scan.height == first.height + PDF_PAGE_GAP + second.height
    with scan.page_image.open("rb") as stored:
        assert Image.open(stored).size == (scan.width, scan.height)
    text = scan.ocr["text"]
    assert text.index("borrowed three books") < text.index("jardinería")
    # A word of the second page has its box on the second page of the image.
    word = word_in(scan.ocr, "jardinería")
    x, y, w, h = word["box"]
    x0, y0, x1, y1 = drawn["jardinería"][0]
    assert lies_over([x, y - first.height - PDF_PAGE_GAP, w, h], (x0, y0, x1, y1))
    assert letter.machine_transcription == text
    assert letter.status == Letter.Status.IN_REVIEW


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_when_ocr_fails_the_reply_is_still_screened_with_an_alert(
    liaison, correspondence, default_screening_rules, monkeypatch
):
    """Tesseract missing (or crashing): no page is read, the letter is
    screened anyway (its transcription), names the pages, and waits for a
    person even where only flagged letters are read."""
    facility = correspondence.profile.facility
    facility.screening_mode = Facility.ScreeningMode.FLAGGED_ONLY
    facility.save()
    page, _ = typed_page(MONEY)
    letter = upload_reply(
        liaison,
        correspondence,
        ("one.png", encoded(page)),
        ("two.png", encoded(page)),
        transcription="Send me money via cashapp",
    )
    monkeypatch.setattr(ocr.pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    read_reply(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert not letter.scans.filter(ocr_at__isnull=False).exists()
    assert letter.scans.exclude(page_image="").count() == 2  # made before OCR failed
    assert letter.machine_transcription == ""
    not_read = alert(OCR_FAILED, pages="1, 2")
    assert not_read in letter.screening["alerts"]
    assert letter.screening["ocr_hits"] == []
    assert "money" in letter.screening["categories"]  # the typed transcription was screened
    item = ModerationItem.objects.for_object(letter).get()
    assert item.status == "pending"
    assert not_read in item.alerts


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_a_scan_that_cannot_be_made_a_page_is_named_and_the_rest_is_read(
    liaison, correspondence, default_screening_rules
):
    page, _ = typed_page(ENGLISH)
    letter = upload_reply(
        liaison, correspondence, ("one.png", encoded(page)), ("two.png", encoded(page))
    )
    gone = letter.scans.get(page=1)
    gone.file.storage.delete(gone.file.name)  # lost from storage
    read_reply(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert alert(OCR_FAILED, pages="1") in letter.screening["alerts"]
    assert "borrowed three books" in letter.machine_transcription


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_reading_twice_changes_nothing(
    liaison, correspondence, default_screening_rules, scan_storage
):
    page, _ = typed_page(MONEY)
    letter = upload_reply(liaison, correspondence, ("reply.png", encoded(page)))
    read_reply(letter.pk)
    scan = letter.scans.get()
    letter.refresh_from_db()
    files = sorted(path for path in scan_storage.rglob("*") if path.is_file())
    before = (scan.page_image.name, scan.ocr, scan.ocr_at, letter.screening, letter.screened_at)
    read_reply(letter.pk)
    scan.refresh_from_db()
    letter.refresh_from_db()
    after = (scan.page_image.name, scan.ocr, scan.ocr_at, letter.screening, letter.screened_at)
    assert after == before
    assert sorted(path for path in scan_storage.rglob("*") if path.is_file()) == files
    assert ModerationItem.objects.for_object(letter).count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_a_reading_cut_short_reads_only_the_pages_left(
    liaison, correspondence, default_screening_rules
):
    """A worker killed mid-reply: the sweep's second run keeps the pages read."""
    english, _ = typed_page(ENGLISH)
    spanish, _ = typed_page(SPANISH)
    letter = upload_reply(
        liaison, correspondence, ("one.png", encoded(english)), ("two.png", encoded(spanish))
    )
    first = letter.scans.get(page=1)
    LetterScan.objects.filter(pk=first.pk).update(
        ocr={
            "text": "already read",
            "mean_confidence": 90.0,
            "languages": ["en", "es"],
            "words": [],
        },
        ocr_at=timezone.now(),
    )
    read_reply(letter.pk)
    letter.refresh_from_db()
    assert letter.machine_transcription.startswith("already read\n\n")
    assert "jardinería" in letter.machine_transcription
    assert letter.status == Letter.Status.IN_REVIEW


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_a_clean_reply_still_goes_to_a_person_where_only_flagged_letters_are_read(
    liaison, correspondence, default_screening_rules
):
    facility = correspondence.profile.facility
    facility.screening_mode = Facility.ScreeningMode.FLAGGED_ONLY
    facility.save()
    page, _ = typed_page(ENGLISH)
    letter = upload_reply(
        liaison, correspondence, ("reply.png", encoded(page)), transcription=" ".join(ENGLISH)
    )
    read_reply(letter.pk)
    letter.refresh_from_db()
    assert letter.screening["categories"] == []
    assert letter.screening["ocr_hits"] == []
    assert letter.status == Letter.Status.IN_REVIEW
    assert ModerationItem.objects.for_object(letter).get().status == "pending"


@pytest.mark.django_db
def test_outbound_letters_are_screened_as_before_without_ocr_hits(alice, profile):
    letter = LetterFactory(correspondence=CorrespondenceFactory(pen_pal=alice, profile=profile))
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert "ocr_hits" not in letter.screening


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_only_a_typed_transcription_counts_as_confirmed(liaison, correspondence):
    page = encoded(Image.new("RGB", (64, 48), "white"))
    typed = upload_reply(liaison, correspondence, ("a.png", page), transcription="Dear Rosa")
    assert (typed.transcription_confirmed_by, bool(typed.transcription_confirmed_at)) == (
        liaison,
        True,
    )
    untyped = upload_reply(liaison, correspondence, ("a.png", page))
    assert (untyped.transcription_confirmed_by, untyped.transcription_confirmed_at) == (None, None)


@pytest.mark.django_db
@pytest.mark.usefixtures("scan_storage")
def test_an_upload_queues_reading_not_screening(
    liaison, correspondence, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("messaging.tasks.read_reply.delay", sent.append)
    monkeypatch.setattr("messaging.tasks.screen_letter.delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        letter = upload_reply(liaison, correspondence, ("a.png", encoded(typed_page([])[0])))
    assert sent == [letter.pk]


@pytest.mark.django_db
def test_the_sweep_resends_reading_for_replies_left_unread(monkeypatch):
    read, screened = [], []
    monkeypatch.setattr("messaging.tasks.read_reply.delay", read.append)
    monkeypatch.setattr("messaging.tasks.screen_letter.delay", screened.append)
    long_ago = timezone.now() - timedelta(minutes=30)
    stuck = LetterFactory(direction="in", created_by=None, created_at=long_ago)
    # Probably still being read, or waiting behind a scanning run's other replies.
    LetterFactory(direction="in", created_by=None, created_at=timezone.now() - timedelta(minutes=5))
    LetterFactory(direction="in", created_by=None, status="in_review", created_at=long_ago)
    outbound = LetterFactory(created_at=timezone.now() - timedelta(minutes=10))
    assert sweep_unscreened_letters() == 2
    assert (read, screened) == ([stuck.pk], [outbound.pk])


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reads_and_screens_an_uploaded_reply(
    celery_worker_process, liaison, default_screening_rules
):
    facility = liaison.facility_memberships.get().facility
    correspondence = CorrespondenceFactory(
        profile=InmateProfileFactory.published(facility=facility)
    )
    page, drawn = typed_page(MONEY)
    letter = upload_reply(liaison, correspondence, ("reply.png", encoded(page)))
    scan = letter.scans.get()
    try:
        deadline = time.monotonic() + 120
        while True:
            letter.refresh_from_db()
            if letter.status != Letter.Status.SUBMITTED:
                break
            assert time.monotonic() < deadline, "the worker did not read the reply"
            assert celery_worker_process.poll() is None, "the worker died"
            time.sleep(0.5)
        scan.refresh_from_db()
        assert letter.status == Letter.Status.IN_REVIEW
        assert "Venmo" in letter.machine_transcription
        venmo = next(hit for hit in letter.screening["ocr_hits"] if hit["match"] == "Venmo")
        assert lies_over(venmo["boxes"][0], drawn["Venmo"][0])
        assert ModerationItem.objects.for_object(letter).get().status == "pending"
    finally:
        scan.refresh_from_db()
        for stored in (scan.file, scan.page_image):
            if stored:
                stored.storage.delete(stored.name)


# --- What the pen pal sees ----------------------------------------------------------------------


def scan_url(scan: LetterScan) -> str:
    return reverse("letters:scan", args=[scan.pk])


def served(response) -> bytes:
    if response.streaming:
        content = b"".join(response.streaming_content)
        response.close()
        return content
    return response.content


@pytest.fixture
def original_page() -> bytes:
    page, _ = typed_page(["Call me at 555 0199, my cousin Dana lives at 12 Elm Street."])
    return encoded(page)


@pytest.fixture
def redacted_reply(alice, profile, original_page, scan_storage):
    """An approved reply to alice whose page a moderator redacted: the scan as
    received, its page image, and the redacted copy."""
    letter = LetterFactory(
        correspondence=CorrespondenceFactory(pen_pal=alice, profile=profile),
        direction="in",
        status="approved",
        body="",
        created_by=None,
        approved_at=timezone.now(),
    )
    scan = LetterScan(letter=letter, page=1, content_type="image/png", size=len(original_page))
    scan.file.save("page.png", ContentFile(original_page), save=False)
    page_image = Image.open(io.BytesIO(original_page)).convert("L")
    scan.page_image.save("page.png", ContentFile(encoded(page_image)), save=False)
    ImageDraw.Draw(page_image).rectangle((200, 190, 900, 260), fill=0)
    scan.redacted_image.save("redacted.png", ContentFile(encoded(page_image)), save=False)
    scan.redactions = [[0.1, 0.08, 0.4, 0.03]]
    scan.width, scan.height = page_image.size
    scan.save()
    return letter


def unredacted_copies(scan: LetterScan) -> list[bytes]:
    copies = []
    for stored in (scan.file, scan.page_image):
        with stored.open("rb") as handle:
            copies.append(handle.read())
    return copies


@pytest.mark.django_db
def test_the_pen_pal_gets_only_the_redacted_copy_of_a_redacted_page(client, alice, redacted_reply):
    scan = redacted_reply.scans.get()
    with scan.redacted_image.open("rb") as handle:
        redacted = handle.read()
    client.force_login(alice)
    response = client.get(scan_url(scan))
    assert response.status_code == 200
    assert served(response) == redacted
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
def test_a_liaison_of_the_facility_gets_the_scan_as_received(client, redacted_reply, original_page):
    liaison = LiaisonFactory(facility=redacted_reply.correspondence.profile.facility).user
    activate_totp(liaison)
    client.force_login(liaison)
    assert served(client.get(scan_url(redacted_reply.scans.get()))) == original_page


@pytest.mark.django_db
def test_no_url_or_parameter_gives_the_pen_pal_the_unredacted_page(client, alice, redacted_reply):
    """As an attacker would: the scan URL with every parameter a view might
    read, other methods, and every URL of the site that takes numbers, each filled
    with the scan's, the letter's and the correspondence's ids."""
    scan = redacted_reply.scans.get()
    secrets = unredacted_copies(scan)
    client.force_login(alice)
    tried = []
    for query in (
        "",
        "?original=1",
        "?variant=original",
        "?file=original",
        "?page_image=1",
        "?redacted=0",
        "?download=1",
        "?raw=1",
    ):
        tried.append(client.get(scan_url(scan) + query))
    tried.append(client.head(scan_url(scan)))
    tried.append(client.post(scan_url(scan), {"original": "1"}))
    ids = {scan.pk, redacted_reply.pk, redacted_reply.correspondence_id}
    for route in all_routes():
        converters = route.pattern.pattern.converters
        if not converters or any(c.regex != "[0-9]+" for c in converters.values()):
            continue
        for value in ids:
            try:
                url = reverse(route.key, kwargs=dict.fromkeys(converters, value))
            except NoReverseMatch:
                continue
            tried.append(client.get(url))
    assert len(tried) > 20
    for response in tried:
        body = served(response)
        for secret in secrets:
            assert secret not in body, response.request["PATH_INFO"]


@pytest.mark.django_db
def test_a_redacted_page_without_its_copy_yet_shows_nothing(client, alice, redacted_reply):
    scan = redacted_reply.scans.get()
    scan.redacted_image.storage.delete(scan.redacted_image.name)
    LetterScan.objects.filter(pk=scan.pk).update(redacted_image="")
    client.force_login(alice)
    assert client.get(scan_url(scan)).status_code == 404
    html = client.get(reverse("letters:thread", args=[redacted_reply.correspondence_id]))
    page = html.content.decode()
    assert "Scanned page 1 is not ready to show yet." in page
    assert scan_url(scan) not in page


@pytest.mark.django_db
def test_a_redacted_pdf_is_shown_as_its_redacted_image(client, alice, redacted_reply):
    scan = redacted_reply.scans.get()
    LetterScan.objects.filter(pk=scan.pk).update(content_type="application/pdf")
    client.force_login(alice)
    response = client.get(scan_url(scan))
    assert response["Content-Type"] == "image/png"
    page = client.get(reverse("letters:thread", args=[redacted_reply.correspondence_id]))
    assert f'<img src="{scan_url(scan)}"' in page.content.decode()


@pytest.mark.django_db
def test_the_thread_shows_the_scan_first_and_only_a_confirmed_transcription(
    client, alice, redacted_reply, liaison
):
    Letter.objects.filter(pk=redacted_reply.pk).update(
        body="Typed from the page by a person.",
        machine_transcription="WHAT OCR READ",
    )
    LetterScan.objects.filter(letter=redacted_reply).update(
        ocr={"text": "OCR TEXT OF THE PAGE", "mean_confidence": 91.5, "languages": ["en"],
             "words": [{"text": "OCR", "confidence": 91.5, "box": [1, 2, 3, 4],
                        "start": 0, "end": 3}]},
        ocr_at=timezone.now(),
    )  # fmt: skip
    url = reverse("letters:thread", args=[redacted_reply.correspondence_id])
    client.force_login(alice)
    page = client.get(url).content.decode()
    assert "Page 1, with parts blacked out by the Penpals team" in page
    assert "Typed from the page by a person." not in page  # not confirmed yet
    Letter.objects.filter(pk=redacted_reply.pk).update(
        transcription_confirmed_at=timezone.now(), transcription_confirmed_by=liaison
    )
    page = client.get(url).content.decode()
    assert "Typed from the page by a person." in page
    assert page.index(scan_url(redacted_reply.scans.get())) < page.index("Typed from the page")
    # What the machine read is for moderators only.
    for machine in ("WHAT OCR READ", "OCR TEXT OF THE PAGE", "91.5", "mean_confidence"):
        assert machine not in page


@pytest.mark.django_db
def test_the_thread_page_queries_do_not_grow_with_replies_and_scans(
    client, alice, profile, scan_storage, django_assert_max_num_queries
):
    correspondence = CorrespondenceFactory(pen_pal=alice, profile=profile)
    url = reverse("letters:thread", args=[correspondence.pk])
    client.force_login(alice)

    def add_replies(count: int) -> None:
        for _ in range(count):
            letter = LetterFactory(
                correspondence=correspondence,
                direction="in",
                status="approved",
                body="Confirmed words",
                transcription_confirmed_at=timezone.now(),
                created_by=None,
            )
            for page in (1, 2):
                scan = LetterScan(letter=letter, page=page, content_type="image/png", size=1)
                scan.file.save("p.png", ContentFile(b"x"), save=False)
                scan.redactions = [[0, 0, 0.5, 0.5]] if page == 2 else []
                if page == 2:
                    scan.redacted_image.save("r.png", ContentFile(b"y"), save=False)
                scan.save()

    add_replies(1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    add_replies(5)
    with django_assert_max_num_queries(len(one)):
        response = client.get(url)
    assert len(one) <= 12
    assert response.content.decode().count("Confirmed words") == 6
