"""The page engine of scan intake (messaging.scanpages): the pages of an
uploaded PDF, image or ZIP, and what each page says.

Pages come from the real print code (reply sheets of a batch of three
letters), written on and made to look scanned by devtools.scanrun; QR codes
are read by zxing-cpp and upright pages checked with Tesseract, all for real.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile

import numpy as np
import pytesseract
import pytest
import segno
import zxingcpp
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from devtools.scanrun import (
    TEARS,
    blank_page,
    continuation_page,
    images_to_pdf,
    make_scanning_run,
    reply_sheet_images,
    scan_like,
    word_accuracy,
    write_on,
)
from messaging import scanpages
from messaging.reply_sheets import parse_reply_mark
from messaging.scanpages import SourceRefused, count_pages, iter_source_pages, read_page
from messaging.services import check_create_print_batch
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
)
from tests.hostile.pdfs import javascript, open_action

# The test database is set up only for a session that has tests marked so.
pytestmark = pytest.mark.django_db

REPLY = (
    "Thank you for your letter, it came on Tuesday and I read it three times. "
    "The weather here has turned cold and the yard is closed most mornings. "
    "I started a class on carpentry and we are making a small table."
)
LONGER_REPLY = (
    REPLY + " My sister visited last month with her two boys, they are growing fast. "
    "I hope your garden is doing well and that the tomatoes came back. "
    "Please tell me more about the book you are reading, it sounds good."
)


def make_batch():
    """A print batch of three approved letters (English, Spanish, English)."""
    liaison = LiaisonFactory()
    for language in ("en", "es", "en"):
        profile = InmateProfileFactory.published(facility=liaison.facility, languages=[language])
        LetterFactory(
            correspondence=CorrespondenceFactory(profile=profile),
            status="approved",
            approved_at=timezone.now(),
            body="Dear Sam,\nHow was your week?",
        )
    return check_create_print_batch(liaison.user, liaison.facility, None, uuid.uuid4())


@pytest.fixture(scope="module")
def sheets(django_db_setup, django_db_blocker) -> dict[str, Image.Image]:
    """The reply sheets of a batch of three, rendered once for the module
    (the rows are rolled back: only the images are kept)."""
    with django_db_blocker.unblock(), transaction.atomic():
        images = reply_sheet_images(make_batch())
        transaction.set_rollback(True)
    assert len(images) == 3
    return images


@pytest.fixture(scope="module")
def written_sheet(sheets) -> tuple[str, Image.Image]:
    reference = sorted(sheets)[0]
    return reference, write_on(sheets[reference], REPLY, "handwriting")


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def code_texts(image: Image.Image, *, try_rotate: bool) -> list[str]:
    return [
        barcode.text
        for barcode in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=try_rotate
        )
    ]


def code_corner(image: Image.Image):
    """The top-left corner of the page's QR code, read without trying turns."""
    (barcode,) = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False
    )
    return barcode.position.top_left, barcode.position.top_right


def jpeg_bytes(image: Image.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(path, content_type: str = "", source_index: int = 0) -> str:
    """The message of the refusal that reading `path` ends in."""
    with pytest.raises(SourceRefused) as refused:
        list(iter_source_pages(path, content_type, source_index))
    return refused.value.messages[0]


def small_page(shade: int) -> Image.Image:
    return Image.new("L", (170, 220), shade)


# --- Reading pages ------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("skew", [-5.0, 4.2])
def test_it_reads_the_code_at_any_rotation_and_stands_the_page_upright(
    written_sheet, rotation, skew
):
    reference, sheet = written_sheet
    scanned = scan_like(sheet, rng(), rotation=rotation, skew=skew, jpeg_quality=40)

    read = read_page(scanned)

    assert read.mark is not None and read.mark.code == reference and read.mark.page == 1
    assert read.code_seen and not read.is_blank
    assert read.rotation == (-rotation) % 360
    assert read.skew == pytest.approx(-skew, abs=0.4)
    assert read.image.mode == "L"
    # Upright: the code reads without trying turns, level, in the top left
    # corner where the sheet prints it.
    assert parse_reply_mark(code_texts(read.image, try_rotate=False)[0]) == read.mark
    top_left, top_right = code_corner(read.image)
    assert abs(top_right.y - top_left.y) <= 4
    assert top_left.x < read.image.width / 3 and top_left.y < read.image.height / 4


def test_it_reads_a_fine_scan_at_the_usual_resolution(written_sheet):
    reference, sheet = written_sheet
    # Scanned at 400 DPI: twice the pixels each way.
    fine = sheet.resize((sheet.width * 2, sheet.height * 2), Image.Resampling.BICUBIC)

    read = read_page(scan_like(fine, rng(), rotation=270, skew=1.5))

    assert read.mark.code == reference and read.rotation == 90
    assert read.image.size == sheet.size


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_it_stands_a_page_without_a_code_upright(rotation):
    page = continuation_page(LONGER_REPLY, "typed")
    scanned = scan_like(page, rng(rotation), rotation=rotation, skew=-3.0, jpeg_quality=40)

    read = read_page(scanned)

    assert read.mark is None and not read.code_seen and not read.is_blank
    assert read.rotation == (-rotation) % 360
    assert read.skew == pytest.approx(3.0, abs=0.5)
    # Tesseract reads the words off the upright page.
    words = pytesseract.image_to_string(read.image, lang="eng").split()
    assert word_accuracy(LONGER_REPLY.split(), words) > 0.8


def ruled_paper(shade: int = 190) -> Image.Image:
    """Faint ruled writing paper with a margin line, nothing written on it."""
    page = blank_page()
    draw = ImageDraw.Draw(page)
    for y in range(300, 2050, 75):
        draw.line((120, y, 1580, y), fill=shade, width=3)
    draw.line((260, 80, 260, 2120), fill=shade, width=3)
    return page


def dusty_paper() -> Image.Image:
    """Blank paper with specks of dust and a punched hole's shadow near the edge."""
    page = blank_page()
    draw = ImageDraw.Draw(page)
    specks = rng(5)
    for _ in range(40):
        x, y = specks.integers(100, 1600), specks.integers(100, 2100)
        radius = int(specks.integers(1, 4))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=60)
    draw.ellipse((30, 1050, 80, 1100), fill=90)
    return page


@pytest.mark.parametrize("paper", ["blank", "ruled", "dusty"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_it_finds_blank_pages(paper, rotation):
    page = {"blank": blank_page, "ruled": ruled_paper, "dusty": dusty_paper}[paper]()
    scanned = scan_like(page, rng(rotation), rotation=rotation, skew=2.5, noise=9, jpeg_quality=40)

    read = read_page(scanned)

    assert read.is_blank
    assert read.mark is None and not read.code_seen
    assert read.rotation == 0


@pytest.mark.parametrize("style", ["typed", "handwriting"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_it_takes_a_few_written_words_for_writing(style, rotation):
    page = write_on(ruled_paper(), "See you soon, Ana", style)
    scanned = scan_like(page, rng(rotation), rotation=rotation, skew=-4.0, noise=9, jpeg_quality=40)

    assert not read_page(scanned).is_blank


@pytest.mark.parametrize("tear", TEARS)
@pytest.mark.parametrize("rotation", [90, 180])
def test_it_sees_a_torn_code_without_reading_a_mark(written_sheet, tear, rotation):
    _, sheet = written_sheet
    scanned = scan_like(sheet, rng(), rotation=rotation, skew=2.0, tear=tear)

    read = read_page(scanned)

    assert read.mark is None
    # Seen: intake sends the page to triage, never on into another reply.
    assert read.code_seen and not read.is_blank


def test_it_sees_someone_elses_qr_code_without_taking_it_for_a_mark():
    page = continuation_page(REPLY, "typed")
    other = io.BytesIO()
    segno.make("https://example.org/not-a-reply", error="q").save(other, kind="png", scale=10)
    page.paste(Image.open(other).convert("L"), (1100, 1500))

    read = read_page(scan_like(page, rng(), rotation=180, skew=1.0))

    assert read.mark is None and read.code_seen and not read.is_blank


def test_it_reads_a_generated_mail_run_page_by_page(sheets, tmp_path):
    pdf, truth = make_scanning_run(None, pages=14, seed=11, sheets=sheets)
    path = tmp_path / "run.pdf"
    path.write_bytes(pdf)

    assert count_pages(path, "application/pdf") == len(truth) == 14
    for page, expected in zip(iter_source_pages(path, "application/pdf"), truth, strict=True):
        read = read_page(page.image)
        where = f"{expected}"
        if expected.kind == "sheet":
            assert read.mark is not None and read.mark.code == expected.reference, where
            assert read.rotation == (-expected.rotation) % 360, where
        elif expected.kind == "torn":
            assert read.mark is None and read.code_seen and not read.is_blank, where
        elif expected.kind == "blank":
            assert read.is_blank and not read.code_seen, where
        else:
            assert not read.is_blank and not read.code_seen, where


# --- The pages of an uploaded file -------------------------------------------------------


def test_it_counts_and_draws_the_pages_of_a_pdf_the_same_every_time(tmp_path, sheets):
    reference = sorted(sheets)[0]
    pages = [jpeg_bytes(sheets[reference]), jpeg_bytes(blank_page()), jpeg_bytes(ruled_paper())]
    path = tmp_path / "run.pdf"
    path.write_bytes(images_to_pdf(pages))

    assert count_pages(path, "application/pdf") == 3
    first = list(iter_source_pages(path, "application/pdf", source_index=4))
    second = list(iter_source_pages(path, "application/pdf", source_index=4))

    assert [page.content_hash for page in first] == [page.content_hash for page in second]
    assert len({page.content_hash for page in first}) == 3
    assert all(page.source_index == 4 for page in first)
    # Drawn at 200 DPI in greyscale: a letter page is 1700 x 2200 pixels.
    assert [(page.image.mode, page.image.size) for page in first] == [("L", (1700, 2200))] * 3
    assert read_page(first[0].image).mark.code == reference


def test_it_hashes_an_image_by_its_bytes(tmp_path):
    content = png_bytes(small_page(200))
    path = tmp_path / "page"
    path.write_bytes(content)

    assert count_pages(path, "image/png") == 1
    (page,) = iter_source_pages(path, "image/png", source_index=2)

    assert page.content_hash == hashlib.sha256(content).hexdigest()
    assert page.source_index == 2 and page.image.size == (170, 220)


def test_it_gives_the_pages_of_a_zip_in_name_order(tmp_path):
    pdf = images_to_pdf([jpeg_bytes(small_page(10)), jpeg_bytes(small_page(20))])
    path = tmp_path / "run.zip"
    path.write_bytes(
        zip_bytes(
            {
                "scans/page10.jpg": jpeg_bytes(small_page(100)),
                "scans/": b"",
                "scans/page2.png": png_bytes(small_page(50)),
                "scans/page1.pdf": pdf,
                "__MACOSX/scans/._page1.pdf": b"\x00\x05\x16\x07 resource fork",
                "scans/.DS_Store": b"Bud1 junk",
                # A name that would write outside any folder: never extracted.
                "../../page3.png": png_bytes(small_page(70)),
            },
            compression=zipfile.ZIP_DEFLATED,
        )
    )

    assert count_pages(path, "application/zip") == 5
    pages = list(iter_source_pages(path, "application/zip", source_index=1))

    shades = [int(np.asarray(page.image.convert("L")).mean().round(-1)) for page in pages]
    # "../../page3.png" sorts first; then page1.pdf (two pages), page2, page10.
    assert shades == [70, 10, 20, 50, 100]
    assert all(page.source_index == 1 for page in pages)
    assert not (tmp_path.parent / "page3.png").exists()


def test_it_refuses_a_zip_bomb(tmp_path):
    path = tmp_path / "bomb.zip"
    # 50 MB of zeros pack into about 50 kB: no scan compresses like that.
    path.write_bytes(zip_bytes({"page.png": bytes(50_000_000)}, zipfile.ZIP_DEFLATED))

    message = refusal(path, "application/zip", source_index=2)

    assert message.startswith("File 3: ")
    assert "unpacks to more than 100 times its packed size" in message
    with pytest.raises(SourceRefused):
        count_pages(path, "application/zip")


def overlapping(content: bytes, copies: int) -> bytes:
    """A one-entry ZIP whose central directory lists the entry `copies` times,
    all unpacking the same packed bytes: the overlapping ZIP bomb."""
    directory = content.index(b"PK\x01\x02")
    end = content.index(b"PK\x05\x06")
    records = content[directory:end] * copies
    trailer = bytearray(content[end:])
    trailer[8:10] = trailer[10:12] = copies.to_bytes(2, "little")
    trailer[12:16] = len(records).to_bytes(4, "little")
    return content[:directory] + records + bytes(trailer)


def test_it_refuses_a_zip_whose_files_overlap(tmp_path):
    # 900 kB of zeros each (under the ratio check's floor), 50 times over.
    path = tmp_path / "overlap.zip"
    content = zip_bytes({"page0": bytes(900_000)}, zipfile.ZIP_DEFLATED)
    path.write_bytes(overlapping(content, 50))
    assert len(zipfile.ZipFile(path).infolist()) == 50

    assert "this ZIP is damaged and cannot be read" in refusal(path)


def test_it_refuses_a_zip_that_would_unpack_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(scanpages, "ZIP_MAX_UNCOMPRESSED_BYTES", 1_000)
    path = tmp_path / "big.zip"
    path.write_bytes(zip_bytes({"a.png": png_bytes(small_page(50)) * 2, "b.png": b"x" * 1_000}))

    assert "this ZIP would unpack to more than 1 kB" in refusal(path)


def test_it_refuses_a_zip_of_too_many_files(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"page{n}.png": b"" for n in range(1_001)}))

    assert refusal(path) == (
        "File 1: this ZIP holds more than 1000 files. Split it into smaller ZIPs."
    )


def encrypted(content: bytes) -> bytes:
    """The ZIP with every entry marked encrypted (bit 0 of the flags), as
    `zip -e` leaves them; zipfile cannot write encrypted ZIPs itself."""
    data = bytearray(content)
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + flags_at] |= 0x01
            start += 4
    return bytes(data)


def test_it_refuses_an_encrypted_zip(tmp_path):
    path = tmp_path / "locked.zip"
    path.write_bytes(encrypted(zip_bytes({"page.png": png_bytes(small_page(50))})))

    assert "this ZIP is encrypted or password-protected" in refusal(path)


def test_it_refuses_a_damaged_zip(tmp_path):
    path = tmp_path / "cut.zip"
    path.write_bytes(zip_bytes({"page.png": png_bytes(small_page(50))})[:-30])

    assert "this ZIP is damaged and cannot be read" in refusal(path)


def test_it_refuses_a_zip_inside_a_zip(tmp_path):
    inner = zip_bytes({"page.png": png_bytes(small_page(50))})
    path = tmp_path / "nested.zip"
    path.write_bytes(zip_bytes({"a.png": png_bytes(small_page(50)), "more.zip": inner}))

    message = refusal(path, source_index=1)

    assert message == (
        "File 2 (more.zip in the ZIP): this is a ZIP inside the ZIP. Put all the pages in one ZIP."
    )
    with pytest.raises(SourceRefused):
        count_pages(path)


def test_it_refuses_a_file_of_another_type_inside_a_zip(tmp_path):
    path = tmp_path / "mixed.zip"
    path.write_bytes(
        zip_bytes({"a.png": png_bytes(small_page(50)), "notes.txt": b"Dear Sam, my reply."})
    )

    assert refusal(path) == (
        "File 1 (notes.txt in the ZIP): this is not a JPEG, PNG, PDF or ZIP file. "
        "Scan the pages to one of those."
    )
    with pytest.raises(SourceRefused):
        count_pages(path)


@pytest.mark.parametrize(
    "content",
    [b"Dear Sam, my reply.", b"GIF89a\x01\x00\x01\x00", b""],
    ids=["text", "gif", "empty"],
)
def test_it_refuses_a_file_of_another_type(tmp_path, content):
    path = tmp_path / "upload"
    path.write_bytes(content)

    expected = "File 4: this is not a JPEG, PNG, PDF or ZIP file. Scan the pages to one of those."
    assert refusal(path, "image/jpeg", source_index=3) == expected


def test_it_refuses_a_damaged_image(tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg_bytes(small_page(50))[:200])

    assert refusal(path).startswith("File 1: ")


def test_it_refuses_a_hostile_pdf(tmp_path):
    path = tmp_path / "hostile.pdf"
    path.write_bytes(open_action(javascript("app.launchURL('https://example.org')")))

    expected = (
        "File 1: this PDF contains JavaScript, which we do not accept. "
        "Print it and scan the paper, or upload the pages as images."
    )
    with pytest.raises(SourceRefused) as refused:
        count_pages(path, "application/pdf")
    assert refused.value.messages == [expected]
    assert refusal(path, "application/pdf") == expected
