"""The page engine of scan intake: the pages of an uploaded file, and what
each page says.

Pure image work: no database, no models. messaging.intake drives it.

`iter_source_pages()` yields the pages of one uploaded file of a scanning run,
one at a time (a run is up to 500 pages; only one is ever held in memory):

- a PDF passes penpals.pdfs.check_pdf first (pypdf in a bounded child
  process), then pypdfium2 draws each page in greyscale at SCAN_DPI;
- a JPEG or PNG is decoded by penpals.images.decode, the one place that
  lets Pillow parse an upload (pixel limit, memory budget);
- a ZIP gives its JPEG, PNG and PDF entries in name order, read into memory
  one at a time and never extracted to disk, within limits that refuse ZIP
  bombs (entries, total size, compression ratio).

Files are typed by their content, never by name. Anything that cannot be read
raises SourceRefused, whose message names the file (and the ZIP entry) and
says why, so that the liaison can fix and upload it again.

`read_page()` finds the reply sheet's QR code (messaging.reply_sheets) with
zxing-cpp at any rotation, turns the page upright and straight from the
code's corners, and tells blank pages from written ones. A page without a
code is straightened by a projection-profile search; which way up it is, is
asked of Tesseract's orientation detection when there is enough ink to judge.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pypdfium2
import pytesseract
import zxingcpp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from PIL import Image

from messaging.reply_sheets import ReplyMark, parse_reply_mark
from penpals import filetypes
from penpals.images import PhotoRejected, decode, flatten_onto_white, to_resizable_mode, upright
from penpals.pdfs import PdfRefused, check_pdf
from penpals.uploads import megabytes

# PDF pages are drawn at this resolution: a QR module of the reply sheet is
# then about 11 pixels, and handwriting is large enough for OCR.
SCAN_DPI = 200
# A PDF page larger than this (a poster-sized page) is drawn at a lower
# resolution instead: a letter page at SCAN_DPI is 3.7 megapixels.
PDF_PAGE_MAX_PIXELS = 25_000_000

# ZIP limits. Scans are JPEG or PDF, which compress hardly at all, so a ZIP
# that would unpack to far more than it weighs is a ZIP bomb, not a scan.
ZIP_MAX_ENTRIES = 1_000
ZIP_MAX_UNCOMPRESSED_BYTES = 500_000_000
ZIP_MAX_ENTRY_BYTES = 200_000_000
ZIP_MAX_RATIO = 100
# Below this size an entry's ratio says nothing (a tiny file compresses well).
ZIP_RATIO_FLOOR_BYTES = 1_000_000
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# What operating systems put in ZIPs by themselves: never a page.
_ZIP_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}

# Pages are judged on a reduced copy: fast, and scan noise averages out.
_ANALYSIS_DPI = 50
_INK_DPI = 100
# Projection-profile search for the skew of a page without a code.
_SKEW_RANGE = 6.0
_SKEW_COARSE_STEP = 0.5
_SKEW_FINE_STEP = 0.1
# Blank pages: tiles of about 0.16 inch that hold ink, outside a margin where
# scanner edges, shadows and punched holes are.
_INK_TILE = 16
_INK_TILE_MIN_PIXELS = 12
_INK_MIN_TILES = 8
_INK_MARGIN = 0.4  # inch
# A straight run this long (inch) is a ruled line or a border, not writing.
_RULE_MIN_LENGTH = 0.6
# Tesseract's orientation detection needs some text to judge by.
_OSD_MIN_TILES = 200
_OSD_MIN_CONFIDENCE = 2.0


class SourceRefused(ValidationError):
    """A file of the run cannot be read; the message says which and why."""


@dataclass(frozen=True)
class SourcePage:
    image: Image.Image  # the page as received, decoded (RGB or L)
    # sha256 hex of the page as received: the image file's bytes, or for a
    # PDF page the pixels drawn at SCAN_DPI.
    content_hash: str
    source_index: int  # which uploaded file it came from (0-based)


@dataclass(frozen=True)
class ReadPage:
    image: Image.Image  # upright and deskewed, greyscale "L"
    mark: ReplyMark | None  # when the QR code read as ours
    code_seen: bool  # a QR symbol was found, ours or not, readable or not
    # Degrees the page was turned counter-clockwise (Image.rotate's sense)
    # to stand upright: 0, 90, 180 or 270; then `skew` degrees, the same way.
    rotation: int
    skew: float
    is_blank: bool


# --- The pages of an uploaded file ------------------------------------------------------


def count_pages(path: str | Path, content_type: str = "") -> int:
    """The pages in one uploaded file, without drawing them.

    Checks what can be checked without decoding images: a PDF passes
    check_pdf (which counts its pages), a ZIP its limits and every entry's
    type. Raises SourceRefused. `content_type` is not trusted: files are typed
    by their content.
    """
    return _count_pages(Path(path), source_index=0)


def iter_source_pages(
    path: str | Path, content_type: str = "", source_index: int = 0
) -> Iterator[SourcePage]:
    """The pages of one uploaded file, one at a time. Raises SourceRefused,
    possibly after some pages have been yielded (a damaged image in a ZIP)."""
    path = Path(path)
    content = path.read_bytes()
    kind = _sniff(content)
    if kind == "zip":
        del content
        yield from _zip_pages(path, source_index)
        return
    yield from _content_pages(content, kind, source_index, where=_file_label(source_index))


def _count_pages(path: Path, source_index: int) -> int:
    where = _file_label(source_index)
    with path.open("rb") as source:
        head = source.read(filetypes.HEAD_BYTES)
    kind = _sniff(head)
    if kind == "zip":
        total = 0
        with _open_zip(path, where) as archive:
            for info in _zip_entries(archive, where):
                entry_where = _entry_label(source_index, info.filename)
                content = _read_entry(archive, info, entry_where)
                entry_kind = _sniff(content)
                _refuse_unusable(entry_kind, entry_where)
                total += _checked_pdf_pages(content, entry_where) if entry_kind == "pdf" else 1
        return total
    _refuse_unusable(kind, where)
    if kind == "pdf":
        return _checked_pdf_pages(path.read_bytes(), where)
    return 1


def _sniff(content: bytes) -> str | None:
    """ "pdf", "jpeg", "png", "zip" or None, from the first bytes."""
    if content.startswith(ZIP_SIGNATURES):
        return "zip"
    found = filetypes.sniff(content[: filetypes.HEAD_BYTES])
    if found in (filetypes.PDF, filetypes.JPEG, filetypes.PNG):
        return found.name
    return None


def _refuse_unusable(kind: str | None, where: str) -> None:
    if kind is None:
        raise _refused(
            where,
            gettext("this is not a JPEG, PNG, PDF or ZIP file. Scan the pages to one of those."),
        )


def _content_pages(
    content: bytes, kind: str | None, source_index: int, where: str
) -> Iterator[SourcePage]:
    _refuse_unusable(kind, where)
    if kind == "pdf":
        yield from _pdf_pages(content, source_index, where)
    elif kind in ("jpeg", "png"):
        yield SourcePage(
            image=_decode_image(content, where),
            content_hash=hashlib.sha256(content).hexdigest(),
            source_index=source_index,
        )
    else:  # a ZIP inside a ZIP
        raise _refused(
            where,
            gettext("this is a ZIP inside the ZIP. Put all the pages in one ZIP."),
        )


def _decode_image(content: bytes, where: str) -> Image.Image:
    try:
        image = decode(content, settings.PHOTO_MAX_PIXELS)
    except PhotoRejected as rejection:
        raise _refused(where, rejection.translated()) from None
    # A phone's photo of a page stands as its EXIF orientation says.
    image = upright(to_resizable_mode(image))
    if image.mode in ("L", "RGB"):
        return image
    return flatten_onto_white(image)


def _checked_pdf_pages(content: bytes, where: str) -> int:
    try:
        return check_pdf(content)
    except PdfRefused as refusal:
        raise _refused(where, str(refusal)) from None


def _pdf_pages(content: bytes, source_index: int, where: str) -> Iterator[SourcePage]:
    pages = _checked_pdf_pages(content, where)
    try:
        document = pypdfium2.PdfDocument(content)
    except pypdfium2.PdfiumError:
        raise _refused(where, gettext("this PDF is damaged and cannot be read.")) from None
    try:
        if len(document) != pages:
            raise _refused(where, gettext("this PDF is damaged and cannot be read."))
        for index in range(pages):
            image = _draw_pdf_page(document, index, where)
            yield SourcePage(
                image=image, content_hash=_pixels_hash(image), source_index=source_index
            )
    finally:
        document.close()


def _draw_pdf_page(document: pypdfium2.PdfDocument, index: int, where: str) -> Image.Image:
    page = document[index]
    try:
        width, height = page.get_size()  # points (1/72 inch)
        scale = SCAN_DPI / 72
        pixels = width * scale * height * scale
        if pixels > PDF_PAGE_MAX_PIXELS:
            scale *= math.sqrt(PDF_PAGE_MAX_PIXELS / pixels)
        if width * scale < 1 or height * scale < 1:
            raise _refused(
                where, gettext("page %(page)s of this PDF has no size.") % {"page": index + 1}
            )
        bitmap = page.render(scale=scale, grayscale=True)
        return bitmap.to_pil().convert("L")
    except pypdfium2.PdfiumError:
        raise _refused(
            where, gettext("page %(page)s of this PDF cannot be drawn.") % {"page": index + 1}
        ) from None
    finally:
        page.close()


def _pixels_hash(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


# --- ZIP files --------------------------------------------------------------------------


def _open_zip(path: Path, where: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _refused(where, _damaged_zip()) from None


def _damaged_zip() -> str:
    return gettext("this ZIP is damaged and cannot be read. Make it again.")


def _zip_entries(archive: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """The entries that may hold pages, in name order, once the whole archive
    is within the limits. Sizes are the ones the archive declares; reading
    an entry never yields more than declared (_read_entry)."""
    infos = archive.infolist()
    if len(infos) > ZIP_MAX_ENTRIES:
        raise _refused(
            where,
            gettext("this ZIP holds more than %(count)s files. Split it into smaller ZIPs.")
            % {"count": ZIP_MAX_ENTRIES},
        )
    total = 0
    entries = []
    for info in infos:
        if info.flag_bits & 0x1:
            raise _refused(
                where,
                gettext(
                    "this ZIP is encrypted or password-protected. Make it again without a password."
                ),
            )
        total += info.file_size
        if total > ZIP_MAX_UNCOMPRESSED_BYTES:
            raise _refused(
                where,
                gettext("this ZIP would unpack to more than %(size)s. Split it into smaller ZIPs.")
                % {"size": megabytes(ZIP_MAX_UNCOMPRESSED_BYTES)},
            )
        if info.file_size > ZIP_RATIO_FLOOR_BYTES and (
            info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1)
        ):
            raise _refused(
                where,
                gettext(
                    "a file in this ZIP unpacks to more than %(ratio)s times its packed size, "
                    "which scans never do; it was not unpacked."
                )
                % {"ratio": ZIP_MAX_RATIO},
            )
        if not _is_junk(info):
            entries.append(info)
    if not entries:
        raise _refused(where, gettext("this ZIP holds no JPEG, PNG or PDF files."))
    return sorted(entries, key=lambda info: _natural_key(info.filename))


def _is_junk(info: zipfile.ZipInfo) -> bool:
    """Folders, and what macOS and Windows add to a ZIP by themselves."""
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    if info.is_dir() or not parts:
        return True
    name = parts[-1]
    return parts[0] == "__MACOSX" or name.lower() in _ZIP_JUNK_NAMES or name.startswith("._")


def _natural_key(name: str) -> tuple:
    """ "page2.jpg" before "page10.jpg", as a file manager lists them."""
    pieces = re.split(r"(\d+)", name.casefold())
    return (
        tuple((0, int(piece), "") if piece.isdigit() else (1, 0, piece) for piece in pieces),
        name,
    )


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    if info.file_size > ZIP_MAX_ENTRY_BYTES:
        raise _refused(
            where,
            gettext("this file is larger than %(size)s.")
            % {"size": megabytes(ZIP_MAX_ENTRY_BYTES)},
        )
    try:
        with archive.open(info) as entry:
            # zipfile stops at the declared size and checks the CRC at the end.
            content = entry.read(ZIP_MAX_ENTRY_BYTES + 1)
    except RuntimeError:  # encrypted (zipfile's way of saying it)
        raise _refused(
            where,
            gettext(
                "this ZIP is encrypted or password-protected. Make it again without a password."
            ),
        ) from None
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError):
        raise _refused(where, _damaged_zip()) from None
    if len(content) > ZIP_MAX_ENTRY_BYTES:
        raise _refused(where, _damaged_zip())
    return content


def _zip_pages(path: Path, source_index: int) -> Iterator[SourcePage]:
    where = _file_label(source_index)
    with _open_zip(path, where) as archive:
        for info in _zip_entries(archive, where):
            entry_where = _entry_label(source_index, info.filename)
            content = _read_entry(archive, info, entry_where)
            yield from _content_pages(content, _sniff(content), source_index, entry_where)


def _file_label(source_index: int) -> str:
    return gettext("File %(number)s") % {"number": source_index + 1}


def _entry_label(source_index: int, name: str) -> str:
    # The entry's name as the uploader sees it, cut short if someone made it long.
    shown = name if len(name) <= 80 else name[:77] + "..."
    return gettext("File %(number)s (%(entry)s in the ZIP)") % {
        "number": source_index + 1,
        "entry": shown,
    }


def _refused(where: str, reason: str) -> SourceRefused:
    return SourceRefused(
        gettext("%(where)s: %(reason)s") % {"where": where, "reason": reason}, code="refused"
    )


# --- Reading one page ------------------------------------------------------------------


def read_page(image: Image.Image) -> ReadPage:
    """Find the reply mark, stand the page upright and straight, and tell
    whether anything is written on it. Never raises for what a page shows."""
    gray = image if image.mode == "L" else image.convert("L")
    mark, code_seen, angle = _find_code(gray)
    if angle is not None:
        rotation, skew = _split_angle(angle)
        return ReadPage(
            image=_turn(gray, rotation, skew),
            mark=mark,
            code_seen=code_seen,
            rotation=rotation,
            skew=skew,
            is_blank=False,
        )
    rotation, skew = _profile_orientation(gray)
    turned = _turn(gray, rotation, skew)
    ink_tiles = _ink_tiles(turned)
    is_blank = not code_seen and ink_tiles < _INK_MIN_TILES
    if ink_tiles >= _OSD_MIN_TILES and _is_upside_down(turned):
        rotation = (rotation + 180) % 360
        turned = turned.transpose(Image.Transpose.ROTATE_180)
    return ReadPage(
        image=turned,
        mark=mark,
        code_seen=code_seen,
        rotation=rotation,
        skew=skew,
        is_blank=is_blank,
    )


def _find_code(gray: Image.Image) -> tuple[ReplyMark | None, bool, float | None]:
    """Our mark, whether any QR symbol was seen, and the angle of our code."""
    barcodes = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormat.QRCode,
        try_rotate=True,
        try_downscale=True,
        return_errors=True,
    )
    for barcode in barcodes:
        mark = parse_reply_mark(barcode.text) if barcode.valid else None
        if mark is not None:
            return mark, True, _code_angle(barcode.position)
    return None, bool(barcodes), None


def _code_angle(position) -> float:
    """How far the code's top edge is turned clockwise from level, in degrees
    (-180, 180], from all four of its edges."""
    tl, tr, bl, br = (
        position.top_left,
        position.top_right,
        position.bottom_left,
        position.bottom_right,
    )
    # The two horizontal edges, and the two vertical ones turned a quarter back.
    x = (tr.x - tl.x) + (br.x - bl.x) + (bl.y - tl.y) + (br.y - tr.y)
    y = (tr.y - tl.y) + (br.y - bl.y) - (bl.x - tl.x) - (br.x - tr.x)
    return math.degrees(math.atan2(y, x))


def _split_angle(angle: float) -> tuple[int, float]:
    quarter = round(angle / 90)
    return (quarter * 90) % 360, round(angle - quarter * 90, 2)


def _turn(gray: Image.Image, rotation: int, skew: float) -> Image.Image:
    turned = {
        0: gray,
        90: gray.transpose(Image.Transpose.ROTATE_90),
        180: gray.transpose(Image.Transpose.ROTATE_180),
        270: gray.transpose(Image.Transpose.ROTATE_270),
    }[rotation]
    if abs(skew) >= 0.05:
        turned = turned.rotate(skew, resample=Image.Resampling.BILINEAR, fillcolor=255)
    return turned


def _ink(gray: Image.Image, dpi: int) -> np.ndarray:
    """Dark pixels of a copy reduced to `dpi` (assuming SCAN_DPI), as booleans.
    Averaging while reducing smooths scan noise; the threshold follows the
    paper's own brightness."""
    factor = max(1, round(SCAN_DPI / dpi))
    small = np.asarray(gray.reduce(factor) if factor > 1 else gray, dtype=np.int16)
    paper = int(np.percentile(small, 90))
    return small < min(paper - 70, int(paper * 0.72))


def _profile_orientation(gray: Image.Image) -> tuple[int, float]:
    """The quarter-turn (0 or 90) that makes the lines of a page without a
    code run across, and its skew, by projection profiles of a reduced copy.
    Upside down or not is not told here."""
    ink = _ink(gray, _ANALYSIS_DPI)
    if not ink.any():
        return 0, 0.0
    mask = Image.fromarray((ink * 255).astype(np.uint8))
    best_angle, best_score, best_quarter = 0.0, -1.0, 0
    for quarter in (0, 90):
        turned = mask.transpose(Image.Transpose.ROTATE_90) if quarter else mask
        angle, score = _best_skew(turned)
        if score > best_score:
            best_angle, best_score, best_quarter = angle, score, quarter
    return best_quarter, best_angle


def _profile_score(mask: Image.Image, angle: float) -> float:
    rows = np.asarray(mask.rotate(angle, resample=Image.Resampling.NEAREST), dtype=np.float32)
    profile = rows.sum(axis=1)
    return float(np.square(np.diff(profile)).sum())


def _best_skew(mask: Image.Image) -> tuple[float, float]:
    coarse = np.arange(-_SKEW_RANGE, _SKEW_RANGE + 1e-9, _SKEW_COARSE_STEP)
    scores = {float(angle): _profile_score(mask, float(angle)) for angle in coarse}
    center = max(scores, key=scores.__getitem__)
    fine = np.arange(center - _SKEW_COARSE_STEP, center + _SKEW_COARSE_STEP + 1e-9, _SKEW_FINE_STEP)
    for angle in fine:
        scores.setdefault(round(float(angle), 2), _profile_score(mask, float(angle)))
    best = max(scores, key=scores.__getitem__)
    return round(best, 2), scores[best]


def _remove_rules(ink: np.ndarray, length: int) -> np.ndarray:
    """`ink` without straight horizontal or vertical runs of `length` pixels
    or more (ruled lines, a margin line, the scanner's edge)."""
    if length < 2:
        return ink
    rules = np.zeros_like(ink)
    for axis in (0, 1):
        cells = ink if axis == 1 else ink.T
        found = rules if axis == 1 else rules.T
        padded = np.pad(cells.astype(np.int32), ((0, 0), (1, 0))).cumsum(axis=1)
        full = (padded[:, length:] - padded[:, :-length]) == length  # windows all ink
        if not full.any():
            continue
        # Every pixel inside a full window is part of a rule.
        starts = np.pad(full.astype(np.int32), ((0, 0), (length, length - 1))).cumsum(axis=1)
        covered = (starts[:, length:] - starts[:, :-length]) > 0
        found |= covered
    return ink & ~rules


def _count_ink_tiles(ink: np.ndarray, tile: int, min_pixels: int, margin: int) -> int:
    height, width = ink.shape
    inner = ink[margin : height - margin, margin : width - margin]
    rows, cols = inner.shape[0] // tile, inner.shape[1] // tile
    if rows == 0 or cols == 0:
        return 0
    tiles = inner[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile).sum(axis=(1, 3))
    return int((tiles >= min_pixels).sum())


def _ink_tiles(gray: Image.Image) -> int:
    """Tiles with writing on an upright, straight page: isolated specks of
    noise are dropped, and so are ruled lines and borders."""
    ink = _ink(gray, _INK_DPI)
    # Light denoising: a pixel counts when its right and lower neighbours are ink too.
    ink = ink[:-1, :-1] & ink[1:, :-1] & ink[:-1, 1:] & ink[1:, 1:]
    ink = _remove_rules(ink, round(_RULE_MIN_LENGTH * _INK_DPI))
    return _count_ink_tiles(ink, _INK_TILE, _INK_TILE_MIN_PIXELS, round(_INK_MARGIN * _INK_DPI))


def _is_upside_down(turned: Image.Image) -> bool:
    """Whether Tesseract's orientation detection is sure the page is upside down."""
    try:
        found = pytesseract.image_to_osd(turned, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        # Too few characters to judge: leave the page as it is.
        return False
    return (
        int(found.get("rotate", 0)) == 180
        and float(found.get("orientation_conf", 0)) >= _OSD_MIN_CONFIDENCE
    )
