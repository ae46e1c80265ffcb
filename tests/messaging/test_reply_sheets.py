"""Reply sheets: every printed letter is followed by a page whose QR code says
its reply reference and page 1 (messaging.reply_sheets), read back here as
scan intake will: the real batch PDF rasterised with pypdfium2, the codes
found with zxing-cpp, also turned and JPEG-compressed like a rough scan."""

from __future__ import annotations

import io
import re
import uuid

import pypdfium2
import pytest
import zxingcpp
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext
from PIL import Image

from messaging import printing
from messaging.models import new_correspondence_code
from messaging.reply_sheets import (
    MARK_PREFIX,
    ReplyMark,
    parse_reply_mark,
    reply_mark_payload,
    reply_mark_svg,
)
from messaging.services import check_create_print_batch
from tests.factories import CorrespondenceFactory, InmateProfileFactory, LetterFactory

pytestmark = pytest.mark.django_db

# What a mailroom scanner does by default; a QR module is then about 8 px.
SCAN_DPI = 150
ROUGH_JPEG_QUALITY = 40
WRITE_ON_THE_SHEET = (
    "Write your reply on this sheet. If you need more room, use more pages and write the "
    "reply reference at the top of each one."
)
KEEP_THE_CODE_CLEAR = (
    "Keep the square code and the reply reference clear: do not write on them, cover them or "
    "cut them off."
)
HAND_IT_IN = "Hand this sheet and any extra pages to the staff member who handles Penpals mail."


def approved_letter(facility, body="Dear Sam,\nHow was your week?", **profile_fields):
    profile = InmateProfileFactory.published(facility=facility, **profile_fields)
    correspondence = CorrespondenceFactory(profile=profile)
    return LetterFactory(
        correspondence=correspondence, status="approved", approved_at=timezone.now(), body=body
    )


@pytest.fixture
def batch(liaison, facility):
    """Four letters in print order: English, Spanish, a long English one that
    runs on to more pages, and another Spanish one."""
    approved_letter(facility, languages=["en"], inmate_number="R-EN-1", legal_name="Ann Legal")
    approved_letter(facility, languages=["es"], inmate_number="R-ES-1", legal_name="Bea Legal")
    approved_letter(
        facility,
        body="A long letter with news. " * 400,
        languages=["en", "es"],
        inmate_number="R-EN-2",
        legal_name="Cal Legal",
    )
    approved_letter(
        facility, languages=["es", "en"], inmate_number="R-ES-2", legal_name="Dee Legal"
    )
    return check_create_print_batch(liaison, facility, None, uuid.uuid4())


@pytest.fixture
def batch_pdf(batch) -> bytes:
    return printing.render_batch_pdf(batch)


def scanned_pages(pdf: bytes) -> list[Image.Image]:
    """Each page as a greyscale scan at SCAN_DPI."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [
            page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
            for page in document
        ]
    finally:
        document.close()


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text, with its line breaks and spacing made single spaces."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def read_marks(image: Image.Image) -> list[str]:
    """The texts of the QR codes found anywhere on the page, at any rotation."""
    return [
        barcode.text
        for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    ]


def roughly_scanned(image: Image.Image, *, rotation: int = 0, jpeg: bool = False) -> Image.Image:
    if rotation:
        image = image.rotate(rotation, expand=True, fillcolor=255)
    if jpeg:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=ROUGH_JPEG_QUALITY)
        image = Image.open(io.BytesIO(buffer.getvalue()))
    return image


def expected_marks(batch) -> list[str]:
    return [
        ReplyMark(letter.correspondence.code, 1).payload()
        for letter in printing.batch_letters(batch)
    ]


# --- The mark: payload and parsing -------------------------------------------------------


def test_it_round_trips_a_reference_and_page():
    code = new_correspondence_code()
    for page in (1, 2, 999):
        payload = reply_mark_payload(code, page)
        assert payload == f"PENPALS:1:{code}:{page}"
        assert parse_reply_mark(payload) == ReplyMark(code, page)


def test_the_reply_sheet_is_page_one():
    assert reply_mark_payload("PP-7K3M-9QX2") == "PENPALS:1:PP-7K3M-9QX2:1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PP-7K3M-9QX2",  # a reference alone (typed, or another system's code)
        "https://example.org/PP-7K3M-9QX2",
        "PENPALS:1:PP-7K3M-9QX2",  # no page
        "PENPALS:1:PP-7K3M-9QX2:",
        "PENPALS:1:PP-7K3M-9QX2:0",
        "PENPALS:1:PP-7K3M-9QX2:01",
        "PENPALS:1:PP-7K3M-9QX2:1000",
        "PENPALS:1:PP-7K3M-9QX2:-1",
        "PENPALS:1:PP-7K3M-9QX2:1:extra",
        "PENPALS:2:PP-7K3M-9QX2:1",  # a later format: not guessed at
        "PENPALS:01:PP-7K3M-9QX2:1",
        "penpals:1:pp-7k3m-9qx2:1",  # exact, as printed
        " PENPALS:1:PP-7K3M-9QX2:1",
        "PENPALS:1:PP-7K3M-9QX2:1\n",
        "PENPALS:1:PP-7K3M-0QX2:1",  # 0 is not in the code alphabet
        "PENPALS:1:PP-7K3M-9QX:1",
        "PENPALS:1:PP7K3M9QX2:1",
        "PENPALS:1:XX-7K3M-9QX2:1",
        "OTHER:1:PP-7K3M-9QX2:1",
        "PENPALS:1:PP-7K3M-9QX2:１",  # a full-width digit
        "PENPALS:1:PP-7K3M-9QX2:1" + "\x00",
    ],
)
def test_it_rejects_what_is_not_a_mark(text):
    assert parse_reply_mark(text) is None


@pytest.mark.parametrize("value", [None, b"PENPALS:1:PP-7K3M-9QX2:1", 1])
def test_it_rejects_what_is_not_text(value):
    assert parse_reply_mark(value) is None


@pytest.mark.parametrize(
    ("code", "page"),
    [("PP-7K3M-9QX", 1), ("pp-7k3m-9qx2", 1), ("PP-7K3M-9QX2", 0), ("PP-7K3M-9QX2", 1000)],
)
def test_it_never_makes_a_mark_it_could_not_read_back(code, page):
    with pytest.raises(ValueError):
        reply_mark_payload(code, page)


def test_the_qr_code_is_vector_art():
    svg = reply_mark_svg("PP-7K3M-9QX2")
    assert svg.startswith("<svg") and "<path" in svg and "<image" not in svg
    assert MARK_PREFIX not in svg  # the mark is drawn, not written out


# --- The printed batch, read back ---------------------------------------------------------


def test_every_letter_is_followed_by_its_own_reply_sheet(batch, batch_pdf):
    letters = printing.batch_letters(batch)
    texts = page_texts(batch_pdf)
    found = [read_marks(page) for page in scanned_pages(batch_pdf)]

    sheet_pages = [number for number, marks in enumerate(found) if marks]
    # One code per reply sheet, in print order; the letter pages have none.
    assert [marks for marks in found if marks] == [[mark] for mark in expected_marks(batch)]
    # The long letter runs on to a third page: more pages than letters and sheets.
    assert len(found) > 2 * len(letters)
    # Each sheet follows its own letter, and the next letter starts after it.
    start = 0
    for letter, sheet_page in zip(letters, sheet_pages, strict=True):
        inmate_number = letter.correspondence.profile.inmate_number
        assert sheet_page > start
        assert inmate_number in texts[start]
        assert all(inmate_number not in text for text in texts[sheet_page:])
        assert letter.correspondence.code in texts[sheet_page]
        start = sheet_page + 1
    assert start == len(found)


def test_a_reply_sheet_names_no_one_but_the_pen_pal(batch, batch_pdf):
    texts = page_texts(batch_pdf)
    sheets = [
        text
        for text, image in zip(texts, scanned_pages(batch_pdf), strict=True)
        if read_marks(image)
    ]
    for letter, sheet in zip(printing.batch_letters(batch), sheets, strict=True):
        profile = letter.correspondence.profile
        assert letter.correspondence.pen_pal.display_name in sheet
        assert profile.legal_name not in sheet
        assert profile.facility.name not in sheet
        assert profile.inmate_number not in sheet


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_the_codes_read_on_a_turned_scan(batch, batch_pdf, rotation):
    pages = scanned_pages(batch_pdf)
    marks = [
        mark for page in pages for mark in read_marks(roughly_scanned(page, rotation=rotation))
    ]
    assert marks == expected_marks(batch)
    assert all(parse_reply_mark(mark) for mark in marks)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_the_codes_read_on_a_rough_jpeg_scan(batch, batch_pdf, rotation):
    pages = scanned_pages(batch_pdf)
    marks = [
        mark
        for page in pages
        for mark in read_marks(roughly_scanned(page, rotation=rotation, jpeg=True))
    ]
    assert marks == expected_marks(batch)


# --- Language ------------------------------------------------------------------------------


def test_each_reply_sheet_speaks_the_language_of_the_person_it_goes_to(batch, batch_pdf):
    texts = page_texts(batch_pdf)
    sheets = [
        text
        for text, image in zip(texts, scanned_pages(batch_pdf), strict=True)
        if read_marks(image)
    ]
    instructions = (WRITE_ON_THE_SHEET, KEEP_THE_CODE_CLEAR, HAND_IT_IN)
    with translation.override("es"):
        spanish = [gettext(msgid) for msgid in instructions]
    assert all(es != en for es, en in zip(spanish, instructions, strict=True))
    languages = [
        letter.correspondence.profile.reading_language for letter in printing.batch_letters(batch)
    ]
    assert languages == ["en", "es", "en", "es"]
    for language, sheet in zip(languages, sheets, strict=True):
        shown, not_shown = (spanish, instructions) if language == "es" else (instructions, spanish)
        for text in shown:
            assert text in sheet
        for text in not_shown:
            assert text not in sheet


def test_the_print_view_shows_each_sheet_in_its_readers_language(liaison_client, batch):
    url = reverse("liaison_letters:batch_print", args=[batch.facility.slug, batch.pk])
    html = liaison_client.get(url).content.decode()
    articles = re.findall(
        r'<article class="printed-letter" lang="(\w+)"(.*?)</article>', html, re.S
    )
    assert [lang for lang, _ in articles] == ["en", "es", "en", "es"]
    with translation.override("es"):
        spanish_heading = gettext("Reply sheet")
    assert spanish_heading != "Reply sheet"
    for (lang, article), mark in zip(articles, expected_marks(batch), strict=True):
        sheet = article[article.index('<section class="reply-sheet"') :]
        assert sheet.count("<svg") == 1
        assert parse_reply_mark(mark).code in sheet
        assert (spanish_heading if lang == "es" else "Reply sheet") in sheet


def test_every_pages_footer_speaks_the_language_of_the_person_it_goes_to(batch, batch_pdf):
    """The running footer (print.css @page) takes its words from each letter."""
    texts = page_texts(batch_pdf)
    total = len(texts)
    letters = printing.batch_letters(batch)
    first_letter_page, first_sheet_page = texts[0], texts[1]
    spanish_letter_page = texts[2]
    code_en = letters[0].correspondence.code
    code_es = letters[1].correspondence.code
    for page in (first_letter_page, first_sheet_page):
        assert f"Reply reference: {code_en}" in page
    assert f"Penpals · sheet 1 of {total}" in first_letter_page
    with translation.override("es"):
        reference = gettext("Reply reference:")
        sheet = pgettext("page of a printed batch", "sheet")
        of = pgettext("sheet 2 of 5", "of")
    assert reference != "Reply reference:"
    assert f"{reference} {code_es}" in spanish_letter_page
    assert f"Penpals · {sheet} 3 {of} {total}" in spanish_letter_page
