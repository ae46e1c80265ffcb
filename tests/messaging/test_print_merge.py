"""A batch's PDF as a merge of its letters' PDFs (messaging.printing).

Each letter is rendered once, as approval does (the task body
render_and_store_letter_pdf); the batch PDF is then read back as a mailroom
and scan intake would: page texts and QR codes through pypdfium2 and
zxing-cpp, and compared with the batch laid out by WeasyPrint as one
document, which is what the merge must reproduce."""

from __future__ import annotations

import ctypes
import io
import tempfile
import tracemalloc
import uuid
from collections import Counter

import pypdfium2
import pypdfium2.raw as pdfium
import pytest
import zxingcpp
from django.conf import settings as django_settings
from django.utils import timezone, translation
from pypdf import PdfReader

from messaging import printing
from messaging.models import Letter
from messaging.reply_sheets import ReplyMark
from messaging.services import check_create_print_batch
from tests.factories import CorrespondenceFactory, InmateProfileFactory, LetterFactory

pytestmark = pytest.mark.django_db

SCAN_DPI = 150
# How far a stamped character may sit from where WeasyPrint puts it: Pango
# rounds each advance a little differently; a point is 0.35 mm.
STAMP_TOLERANCE_POINTS = 0.25


@pytest.fixture
def facility(liaison):
    facility = liaison.facility_memberships.get().facility
    facility.name = "Riverside Correctional"
    facility.mailing_address = "PO Box 77\nRiverside, OH 43000"
    facility.save()
    return facility


@pytest.fixture
def private_dir(tmp_path, settings):
    """Private storage in a folder of this test's own, so files can be counted."""
    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


def approved_letter(facility, body="Dear Sam,\nHow was your week?", **profile_fields):
    profile = InmateProfileFactory.published(facility=facility, **profile_fields)
    return LetterFactory(
        correspondence=CorrespondenceFactory(profile=profile),
        status="approved",
        approved_at=timezone.now(),
        body=body,
    )


def prerendered(letter):
    """The letter's PDF stored as approval's task stores it."""
    assert printing.render_and_store_letter_pdf(letter.pk) == "rendered"
    return letter


@pytest.fixture
def batch(liaison, facility, private_dir):
    """Four letters, each rendered when approved: English, Spanish, a long
    English one that runs on to more pages, and another Spanish one."""
    for fields in (
        {"languages": ["en"], "inmate_number": "R-EN-1", "legal_name": "Ann Legal"},
        {"languages": ["es"], "inmate_number": "R-ES-1", "legal_name": "Bea Legal"},
        {
            "languages": ["en", "es"],
            "inmate_number": "R-EN-2",
            "legal_name": "Cal Legal",
            "body": "A long letter with news. " * 400,
        },
        {"languages": ["es", "en"], "inmate_number": "R-ES-2", "legal_name": "Dee Legal"},
    ):
        prerendered(approved_letter(facility, **fields))
    return check_create_print_batch(liaison, facility, None, uuid.uuid4())


def page_texts(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def page_marks(pdf: bytes) -> list[list[str]]:
    """The QR codes read on each page, scanned at SCAN_DPI."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [
            [
                found.text
                for found in zxingcpp.read_barcodes(
                    page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L"),
                    formats=zxingcpp.BarcodeFormat.QRCode,
                )
            ]
            for page in document
        ]
    finally:
        document.close()


def placed_text(pdf: bytes, page_number: int, text: str) -> list[tuple[str, float, float]]:
    """Each character of `text` on the page with its origin in points."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        textpage = document[page_number].get_textpage()
        start = textpage.get_text_range().index(text)
        placed = []
        for index in range(start, start + len(text)):
            x, y = ctypes.c_double(), ctypes.c_double()
            pdfium.FPDFText_GetCharOrigin(textpage, index, x, y)
            placed.append((chr(pdfium.FPDFText_GetUnicode(textpage, index)), x.value, y.value))
        return placed
    finally:
        document.close()


# --- What the merged PDF holds ------------------------------------------------------------------


def test_it_merges_every_letter_and_reply_sheet_in_print_order(batch):
    letters = printing.batch_letters(batch)
    pdf = printing.render_batch_pdf(batch)
    texts = page_texts(pdf)
    marks = page_marks(pdf)

    # One code per reply sheet, in print order, and read back as ours.
    assert [found for found in marks if found] == [
        [ReplyMark(letter.correspondence.code, 1).payload()] for letter in letters
    ]
    sheet_pages = [number for number, found in enumerate(marks) if found]
    start = 0
    for number, (letter, sheet_page) in enumerate(zip(letters, sheet_pages, strict=True), 1):
        profile = letter.correspondence.profile
        language = profile.reading_language
        stored = printing._read_stored(printing.stored_letter_pdf_name(letter, language))
        # The letter's own pages, as they were stored, then its reply sheet.
        assert sheet_page - start + 1 == len(PdfReader(io.BytesIO(stored)).pages)
        assert profile.legal_name in texts[start] and profile.inmate_number in texts[start]
        assert all(profile.inmate_number not in text for text in texts[sheet_page:])
        # The batch's own lines, stamped on the letter's first page only.
        printed, place = printing.batch_lines(batch, number, len(letters), language)
        assert printed in texts[start] and place in texts[start]
        assert all(place not in text for text in texts[start + 1 :])
        start = sheet_page + 1
    assert start == len(texts)
    assert letters[2].correspondence.profile.inmate_number == "R-EN-2"
    assert sheet_pages[2] - sheet_pages[1] > 2  # the long letter ran on


def test_every_page_is_numbered_across_the_batch_in_its_readers_language(batch):
    texts = page_texts(printing.render_batch_pdf(batch))
    total = len(texts)
    assert f"Penpals · sheet 1 of {total}" in texts[0]
    with translation.override("es"):
        sheet = translation.pgettext("page of a printed batch", "sheet")
        of = translation.pgettext("sheet 2 of 5", "of")
    assert (sheet, of) != ("sheet", "of")
    # The Spanish letter starts on page 3, after the English one and its reply sheet.
    assert f"Penpals · {sheet} 3 {of} {total}" in texts[2]
    assert f"Penpals · {sheet} 4 {of} {total}" in texts[3]
    # Every page has one footer, with its own number.
    for number, text in enumerate(texts, 1):
        assert text.count("Penpals · ") == 1
        assert any(printing.footer_text(lang, number, total) in text for lang in ("en", "es"))


def test_it_reads_like_the_batch_laid_out_as_one_document(batch):
    """The merge reproduces the one-document PDF: the same pages with the same
    words, and the stamped words where WeasyPrint draws them."""
    merged = printing.render_batch_pdf(batch)
    whole = printing.render_batch_document(batch).write_pdf()
    merged_texts, whole_texts = page_texts(merged), page_texts(whole)
    assert len(merged_texts) == len(whole_texts)
    for merged_text, whole_text in zip(merged_texts, whole_texts, strict=True):
        assert Counter(merged_text.split()) == Counter(whole_text.split())
    letters = printing.batch_letters(batch)
    total = len(merged_texts)
    for page_number, stamped in [
        (0, printing.footer_text("en", 1, total)),
        (0, printing.batch_lines(batch, 1, len(letters), "en")[0]),
        (0, printing.batch_lines(batch, 1, len(letters), "en")[1]),
        (2, printing.batch_lines(batch, 2, len(letters), "es")[0]),
        (2, printing.batch_lines(batch, 2, len(letters), "es")[1]),
        (3, printing.footer_text("es", 4, total)),
        (total - 1, printing.footer_text("es", total, total)),
    ]:
        ours = placed_text(merged, page_number, stamped)
        theirs = placed_text(whole, page_number, stamped)
        for (character, x, y), (_same, their_x, their_y) in zip(ours, theirs, strict=True):
            assert abs(x - their_x) < STAMP_TOLERANCE_POINTS, (stamped, character, x, their_x)
            assert abs(y - their_y) < STAMP_TOLERANCE_POINTS, (stamped, character, y, their_y)


def test_it_copies_each_letters_stored_pages_as_they_are(batch):
    """A merge, not a new rendering: every page's drawing is the stored
    file's, byte for byte, between the merge's own q and stamp."""
    merged = PdfReader(io.BytesIO(printing.render_batch_pdf(batch)))
    merged_pages = iter(merged.pages)
    for letter in printing.batch_letters(batch):
        name = printing.stored_letter_pdf_name(letter, printing.letter_language(letter))
        stored = PdfReader(io.BytesIO(printing._read_stored(name)))
        for page in stored.pages:
            contents = next(merged_pages).get("/Contents")
            assert len(contents) == 3
            assert contents[0].get_object().get_data() == b"q\n"
            assert contents[1].get_object().get_data() == page.get_contents().get_data()
            assert contents[2].get_object().get_data().startswith(b"Q\n")
    assert next(merged_pages, None) is None


# --- Missing and stale letter PDFs --------------------------------------------------------------


def test_a_missing_letter_pdf_is_rendered_on_the_spot(liaison, facility, private_dir):
    prerendered(approved_letter(facility, legal_name="Ann Legal", inmate_number="R-1"))
    # Approved before letters were rendered on approval, or its task was lost.
    approved_letter(facility, legal_name="Bob Legal", inmate_number="R-2")
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())

    assert printing.render_and_store_batch_pdf(batch.pk) == "rendered"
    with printing.open_stored_pdf(batch) as stored:
        pdf = stored.read()
    texts = page_texts(pdf)
    assert len(texts) == 4
    assert "Ann Legal" in texts[0] and "Bob Legal" in texts[2]
    assert [found for found in page_marks(pdf) if found] == [
        [ReplyMark(letter.correspondence.code, 1).payload()]
        for letter in printing.batch_letters(batch)
    ]
    # The batch's PDF is stored; the letter rendered on the spot is not (it
    # would only serve this batch again, whose PDF is there).
    stored_files = sorted(path.parent.name for path in private_dir.rglob("*.pdf"))
    assert stored_files == ["print-batches", "print-letters"]


def test_a_letter_pdf_older_than_a_correction_is_rendered_again(liaison, facility, private_dir):
    letter = prerendered(approved_letter(facility, legal_name="Samuel Legalnme"))
    profile = letter.correspondence.profile
    profile.legal_name = "Samuel Legalname"  # the liaison fixed a typo after the approval
    profile.save()
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())

    text = page_texts(printing.render_batch_pdf(batch))[0]
    assert "Samuel Legalname" in text
    assert "Legalnme" not in text
    # The approval's task, run again, replaces the stale file too.
    assert printing.render_and_store_letter_pdf(letter.pk) == "rendered"
    assert printing.render_and_store_letter_pdf(letter.pk) == "exists"


def test_a_damaged_letter_pdf_is_rendered_again(liaison, facility, private_dir):
    letter = prerendered(approved_letter(facility, legal_name="Ann Legal"))
    name = printing.stored_letter_pdf_name(letter, "en")
    (private_dir / name).write_bytes(b"%PDF-1.7\nnot really")
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    assert "Ann Legal" in page_texts(printing.render_batch_pdf(batch))[0]


# --- The stamp ------------------------------------------------------------------------------------


def test_every_site_language_stamps_in_the_stamp_fonts_encoding(liaison, facility):
    approved_letter(facility)
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    for language, _name in django_settings.LANGUAGES:
        for line in [
            printing.footer_text(language, 1234, 1400),
            *printing.batch_lines(batch, 199, 200, language),
        ]:
            line.encode(printing.STAMP_ENCODING)  # strict: nothing would print as "?"


def test_the_stamp_keeps_the_fonts_kerning():
    font = printing.stamp_font()
    codes = font.encode("Penpals · sheet")
    plain = sum(font.widths[code - printing.FIRST_CODE] for code in codes) * 10 / 1000
    assert font.kerning  # DejaVu Sans kerns pairs such as "Pe"
    assert font.width(codes, 10) != pytest.approx(plain)
    assert font.show(codes).startswith(b"[<") and font.show(codes).endswith(b">]")


# --- Memory ------------------------------------------------------------------------------------


def merge_peak_bytes(letter_pdf: bytes, copies: int) -> int:
    """tracemalloc's peak while `copies` of one letter's PDF are merged to a file."""
    font = printing.stamp_font()
    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        try:
            writer = printing.StreamingPdfWriter(out)
            fonts = {printing.STAMP_FONT: printing._font_objects(writer, font)}
            slots = []
            for _copy in range(copies):
                with PdfReader(io.BytesIO(letter_pdf)) as reader:
                    slots += writer.copy_pages(reader, fonts)
            for number, slot in enumerate(slots, 1):
                footer = printing.footer_text("en", number, len(slots))
                writer.write(slot, printing._stream(printing.stamp_content(font, footer, [])))
            writer.finish(title="Batch", language="en")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        out.seek(0)
        assert len(PdfReader(out).pages) == copies * len(PdfReader(io.BytesIO(letter_pdf)).pages)
    return peak


def test_the_merge_holds_one_letter_at_a_time(facility, private_dir):
    """Each letter's objects are written out and dropped: a further letter
    adds only its objects' offsets, not what copying it takes."""
    letter = approved_letter(facility, body="A long letter with news. " * 520)
    pdf = printing.render_letter_pdf(letter)
    few, many = merge_peak_bytes(pdf, 4), merge_peak_bytes(pdf, 40)
    per_further_letter = (many - few) / 36
    assert per_further_letter < few / 20, (few, many)


def test_a_rendered_letter_says_what_it_shows(facility, private_dir):
    letter = approved_letter(facility)
    pdf = printing.render_letter_pdf(letter)
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info[printing.FINGERPRINT_INFO_KEY] == printing.rendering_fingerprint(letter, facility)
    other = Letter.objects.get(pk=letter.pk)
    other.correspondence.pen_pal.display_name = "Someone Else"
    assert printing.rendering_fingerprint(other, facility) != printing.rendering_fingerprint(
        letter, facility
    )
