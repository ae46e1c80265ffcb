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

`code_seen` is what keeps intake from guessing: a page whose code zxing
found but could not read (or read as someone else's), or that still shows a
QR finder pattern (a torn-off or covered code keeps one of its corner
squares), is never taken for the next page of the reply before it.

Measured on the 2-core development machine, CPU time per 200 DPI letter page
(Tesseract's child process included): 0.06 s with a code, 0.4 s without one
(0.3 s of it Tesseract's orientation detection), 0.04 s for a blank page.
"""

from __future__ import annotations

import hashlib
import io
import logging
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

logger = logging.getLogger(__name__)

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

# Finer scans are read at about SCAN_DPI.
_READ_MAX_DPI = 300
# Pages are judged on reduced copies: fast, and scan noise averages out.
# The resolution of an image is estimated from its short side, as if it
# were a letter or A4 page.
_PAPER_SHORT_SIDE = 8.5  # inch
_ANALYSIS_DPI = 50  # skew and quarter-turn
_INK_DPI = 100  # blank or written, and finding the code's finder patterns
# Ink is what is darker than the paper by this much (of 255), and than this
# share of the paper's brightness: pencil counts, scan noise does not. At
# _ANALYSIS_DPI, 16 pixels are averaged into one and noise with them, so
# fainter lines (a ruled sheet's) count there, to straighten the page by.
_INK_CONTRAST = 70
_INK_SHARE = 0.72
_LINES_CONTRAST = 35
# Projection-profile search for the skew of a page without a code.
_SKEW_RANGE = 6.0
_SKEW_COARSE_STEP = 0.5
_SKEW_FINE_STEP = 0.1
# Blank pages: square tiles (inch) that hold ink, outside a margin where
# scanner edges, shadows and punched holes are. A few written words make
# dozens of tiles; a speck of dust one or two.
_INK_TILE = 0.16
_INK_TILE_MIN_SHARE = 0.04
_INK_MIN_TILES = 6
_INK_MARGIN = 0.4
# A straight run this long (inch) is a ruled line or a border, not writing.
_RULE_MIN_LENGTH = 0.6
# Tesseract's orientation detection needs some lines of text to judge by;
# below its confidence it is not followed.
_OSD_MIN_TILES = 60
_OSD_MIN_CONFIDENCE = 1.0
_OSD_SECONDS = 10
# It is shown this much (inch) of the writing, from its top: eight or so lines.
_OSD_BAND = 3.5
# zxing-cpp looks for QR codes only: faster, and nothing else is ours.
QR_CODES = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# QR finder patterns (the corner squares): module sizes (inch) worth looking for.
_FINDER_MODULE_RANGE = (0.015, 0.2)


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
    # Upright and deskewed, greyscale "L"; reduced to about SCAN_DPI when
    # scanned at more than _READ_MAX_DPI.
    image: Image.Image
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
    where = _file_label(source_index)
    kind = _sniff(_head(path))
    if kind == "zip":
        yield from _zip_pages(path, source_index)
    elif kind == "pdf":
        # Checked from its bytes, then drawn from the file: a long run's bytes
        # are not held in memory while its pages are read.
        pages = _checked_pdf_pages(path.read_bytes(), where)
        yield from _pdf_pages(path, pages, source_index, where)
    else:
        yield from _content_pages(path.read_bytes(), kind, source_index, where)


def _head(path: Path) -> bytes:
    with path.open("rb") as source:
        return source.read(filetypes.HEAD_BYTES)


def _count_pages(path: Path, source_index: int) -> int:
    where = _file_label(source_index)
    kind = _sniff(_head(path))
    if kind == "zip":
        total = 0
        with _open_zip(path, where) as archive:
            for info in _zip_entries(archive, where):
                entry_where = _entry_label(source_index, info.filename)
                content = _read_entry(archive, info, entry_where)
                entry_kind = _sniff(content)
                _refuse_unusable(entry_kind, entry_where)
                if entry_kind == "zip":
                    raise _nested_zip(entry_where)
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
        pages = _checked_pdf_pages(content, where)
        yield from _pdf_pages(content, pages, source_index, where)
    elif kind in ("jpeg", "png"):
        yield SourcePage(
            image=_decode_image(content, where),
            content_hash=hashlib.sha256(content).hexdigest(),
            source_index=source_index,
        )
    else:
        raise _nested_zip(where)


def _nested_zip(where: str) -> SourceRefused:
    return _refused(where, gettext("this is a ZIP inside the ZIP. Put all the pages in one ZIP."))


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


def _pdf_pages(
    source: bytes | Path, pages: int, source_index: int, where: str
) -> Iterator[SourcePage]:
    """The pages of a PDF that passed check_pdf with `pages` pages."""
    try:
        document = pypdfium2.PdfDocument(source)
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
    # Entries that share their packed bytes (an overlapping ZIP bomb) claim
    # more packed bytes than the archive holds.
    archive_size = _size(archive)
    if sum(info.compress_size for info in infos) > archive_size:
        raise _refused(where, _damaged_zip())
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


def _size(archive: zipfile.ZipFile) -> int:
    if archive.fp is None:
        return 0
    position = archive.fp.tell()
    size = archive.fp.seek(0, io.SEEK_END)
    archive.fp.seek(position)
    return size


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
    whether anything is written on it. Never raises for what a page shows.

    With our code, its corners give the turn and the skew. Without it, the
    page's lines of writing give the skew and whether they run across or
    down (a projection profile), and Tesseract's orientation detection tells
    upside down from upright when there is enough writing to judge.
    """
    gray = image if image.mode == "L" else image.convert("L")
    dpi = _estimated_dpi(gray)
    if dpi > _READ_MAX_DPI:
        # A 600 DPI scan is read (and kept) at a third of its pixels: no
        # slower than a 200 DPI one, and no worse for people or OCR.
        factor = round(dpi / SCAN_DPI)
        gray, dpi = gray.reduce(factor), dpi / factor
    barcodes = zxingcpp.read_barcodes(
        gray,
        formats=QR_CODES,
        try_rotate=True,
        try_downscale=True,
        return_errors=True,
    )
    for barcode in barcodes:
        mark = parse_reply_mark(barcode.text) if barcode.valid else None
        if mark is not None:
            rotation, skew = _split_angle(_code_angle(barcode.position))
            return ReadPage(
                image=_turn(gray, rotation, skew),
                mark=mark,
                code_seen=True,
                rotation=rotation,
                skew=skew,
                is_blank=False,
            )
    # Someone else's QR code, ours damaged past reading, or only its corner
    # squares left: intake must not take such a page as the next page of a reply.
    code_seen = bool(barcodes) or _has_finder_pattern(gray, dpi)
    rotation, skew = _profile_orientation(gray, dpi)
    turned = _turn(gray, rotation, skew)
    writing = _writing(turned, dpi)
    tiles = _ink_tiles(writing, dpi)
    is_blank = not code_seen and tiles < _INK_MIN_TILES
    if is_blank:
        # Nothing to stand upright by; intake drops the page anyway.
        return ReadPage(gray, None, False, rotation=0, skew=0.0, is_blank=True)
    if tiles >= _OSD_MIN_TILES and _is_upside_down(turned, writing, dpi):
        rotation = (rotation + 180) % 360
        turned = turned.transpose(Image.Transpose.ROTATE_180)
    return ReadPage(
        image=turned,
        mark=None,
        code_seen=code_seen,
        rotation=rotation,
        skew=skew,
        is_blank=False,
    )


def _estimated_dpi(gray: Image.Image) -> float:
    return max(min(gray.size) / _PAPER_SHORT_SIDE, 30.0)


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
    """A counter-clockwise turn of `angle` degrees as a quarter-turn and a skew."""
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
        # Same frame: what turns out of it is the scanner's margin, not the page.
        turned = turned.rotate(skew, resample=Image.Resampling.BILINEAR, fillcolor=255)
    return turned


def _reduced(gray: Image.Image, dpi: float, target_dpi: int) -> tuple[np.ndarray, float]:
    """The image reduced (by averaging) to about `target_dpi`, and its resolution."""
    factor = max(1, round(dpi / target_dpi))
    small = gray.reduce(factor) if factor > 1 else gray
    return np.asarray(small, dtype=np.int16), dpi / factor


def _ink_mask(pixels: np.ndarray, contrast: int = _INK_CONTRAST) -> np.ndarray:
    """Pixels darker than the paper by enough to be ink; the paper's brightness
    is taken from the page itself (most of a page is paper)."""
    paper = int(np.percentile(pixels, 90))
    return pixels < min(paper - contrast, int(paper * _INK_SHARE))


def _profile_orientation(gray: Image.Image, dpi: float) -> tuple[int, float]:
    """The quarter-turn (0 or 90) that makes the lines of a page run across,
    and its skew, by projection profiles of a reduced copy. Whether the page
    is upside down is not told here."""
    ink = _ink_mask(_reduced(gray, dpi, _ANALYSIS_DPI)[0], _LINES_CONTRAST)
    if not ink.any():
        return 0, 0.0
    mask = Image.fromarray(ink.astype(np.uint8) * 255)
    best_angle, best_score, best_quarter = 0.0, -1.0, 0
    for quarter in (0, 90):
        turned = mask.transpose(Image.Transpose.ROTATE_90) if quarter else mask
        angle, score = _best_skew(turned)
        if score > best_score:
            best_angle, best_score, best_quarter = angle, score, quarter
    return best_quarter, best_angle


def _profile_score(mask: Image.Image, angle: float) -> float:
    """How sharply the rows of `mask`, turned `angle` degrees, alternate
    between ink and gaps: highest when lines of writing lie level."""
    rows = np.asarray(mask.rotate(angle, resample=Image.Resampling.NEAREST), dtype=np.float32)
    profile = rows.sum(axis=1)
    return float(np.square(np.diff(profile)).sum())


def _best_skew(mask: Image.Image) -> tuple[float, float]:
    coarse = np.arange(-_SKEW_RANGE, _SKEW_RANGE + 1e-9, _SKEW_COARSE_STEP)
    scores = {round(float(angle), 2): _profile_score(mask, float(angle)) for angle in coarse}
    center = max(scores, key=scores.__getitem__)
    fine = np.arange(center - _SKEW_COARSE_STEP, center + _SKEW_COARSE_STEP + 1e-9, _SKEW_FINE_STEP)
    for angle in fine:
        key = round(float(angle), 2)
        if key not in scores:
            scores[key] = _profile_score(mask, key)
    best = max(scores, key=scores.__getitem__)
    return best, scores[best]


def _writing(turned: Image.Image, dpi: float) -> np.ndarray:
    """The ink of an upright, straight page at about _INK_DPI, lightly
    denoised (a pixel with no inked neighbour is a speck), without ruled
    lines and borders."""
    pixels, reduced_dpi = _reduced(turned, dpi, _INK_DPI)
    ink = _ink_mask(pixels)
    padded = np.pad(ink, 1).astype(np.uint8)
    neighbours = sum(
        padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if dy or dx
    )
    ink &= neighbours > 0
    return _remove_rules(ink, round(_RULE_MIN_LENGTH * reduced_dpi))


def _remove_rules(ink: np.ndarray, length: int) -> np.ndarray:
    """`ink` without straight horizontal or vertical runs of `length` pixels
    or more (ruled lines, a margin line, the scanner's edge)."""
    if length < 2:
        return ink
    rules = np.zeros_like(ink)
    for axis in (0, 1):
        cells = ink if axis == 1 else ink.T
        found = rules if axis == 1 else rules.T  # a view: marks land in `rules`
        sums = np.pad(cells.astype(np.int32), ((0, 0), (1, 0))).cumsum(axis=1)
        full = (sums[:, length:] - sums[:, :-length]) == length  # windows all ink
        if not full.any():
            continue
        # A pixel is on a rule when a full window starts at most length-1 before it.
        starts = np.pad(full.astype(np.int32), ((0, 0), (length, length - 1))).cumsum(axis=1)
        found |= (starts[:, length:] - starts[:, :-length]) > 0
    return ink & ~rules


def _ink_tiles(writing: np.ndarray, dpi: float) -> int:
    """How many tiles inside the margin hold writing."""
    reduced_dpi = dpi / max(1, round(dpi / _INK_DPI))
    tile = max(2, round(_INK_TILE * reduced_dpi))
    margin = round(_INK_MARGIN * reduced_dpi)
    height, width = writing.shape
    inner = writing[margin : height - margin, margin : width - margin]
    rows, cols = inner.shape[0] // tile, inner.shape[1] // tile
    if rows == 0 or cols == 0:
        return 0
    counts = inner[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile).sum(axis=(1, 3))
    return int((counts >= _INK_TILE_MIN_SHARE * tile * tile).sum())


def _is_upside_down(turned: Image.Image, writing: np.ndarray, dpi: float) -> bool:
    """Whether Tesseract's orientation detection is sure the page is upside
    down. It is shown only a band of the writing, in black and white: three
    times faster than the whole grey page, and surer."""
    rows = np.flatnonzero(writing.any(axis=1))
    cols = np.flatnonzero(writing.any(axis=0))
    scale = turned.height / writing.shape[0]
    pad = 20
    top = max(0, int(rows[0] * scale) - pad)
    box = (
        max(0, int(cols[0] * scale) - pad),
        top,
        min(turned.width, int((cols[-1] + 1) * scale) + pad),
        min(turned.height, int((rows[-1] + 1) * scale) + pad, top + int(_OSD_BAND * dpi)),
    )
    pixels = np.asarray(turned.crop(box), dtype=np.int16)
    black_and_white = Image.fromarray(np.where(_ink_mask(pixels), 0, 255).astype(np.uint8))
    try:
        found = pytesseract.image_to_osd(
            black_and_white.convert("1"),
            config=f"--dpi {round(dpi)}",
            output_type=pytesseract.Output.DICT,
            timeout=_OSD_SECONDS,
        )
    except pytesseract.TesseractError:
        # Too few characters to judge: leave the page as it is.
        return False
    except (OSError, RuntimeError):
        # Tesseract missing, or past its time (RuntimeError): the page is
        # still read, only not turned over; a person sees it anyway.
        logger.warning("Tesseract could not judge a page's orientation", exc_info=True)
        return False
    return (
        int(found.get("rotate", 0)) == 180
        and float(found.get("orientation_conf", 0)) >= _OSD_MIN_CONFIDENCE
    )


def _has_finder_pattern(gray: Image.Image, dpi: float) -> bool:
    """Whether the page shows at least one QR finder pattern (the square in
    a QR code's corners: a dark ring, a light ring, a dark centre three
    modules wide), as a damaged or partly torn code still does.

    Found as zxing does, by 1:1:3:1:1 runs across a row and down the column
    through their centre; then every module of the 7 x 7 square is checked,
    which loops of handwriting do not pass.
    """
    pixels, reduced_dpi = _reduced(gray, dpi, _INK_DPI)
    dark = _ink_mask(pixels)
    smallest, largest = (size * reduced_dpi for size in _FINDER_MODULE_RANGE)
    for x, y, module in _finder_candidates(dark, max(1.5, smallest), largest):
        across = _finder_runs(dark[y, :], x, module)
        down = _finder_runs(dark[:, x], y, module)
        if across is None or down is None:
            continue
        (left, width), (top, height) = across, down
        if abs(width - height) > 0.25 * max(width, height):
            continue
        if _finder_square(dark, left + width / 2, top + height / 2, (width + height) / 14):
            return True
    return False


def _finder_candidates(
    dark: np.ndarray, smallest: float, largest: float
) -> Iterator[tuple[int, int, float]]:
    """Centres of 1:1:3:1:1 runs along the rows of `dark`, with their module
    size, each place once however many rows cross it."""
    height, width = dark.shape
    # A light pixel on both sides of every row, so that no run spans two rows.
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = dark
    flat = padded.ravel()
    edges = np.flatnonzero(np.diff(flat)) + 1  # where each run after the first starts
    starts, lengths = edges[:-1], np.diff(edges)
    rows = starts // (width + 2)
    first = np.flatnonzero(flat[starts[:-4]] == 1)  # five runs from a dark one...
    first = first[rows[first] == rows[first + 4]]  # ...in one row
    runs = np.stack([lengths[first + k] for k in range(5)]).astype(np.float32)
    module = runs.sum(axis=0) / 7
    fits = (module >= smallest) & (module <= largest)
    for k in (0, 1, 3, 4):
        fits &= np.abs(runs[k] - module) <= module * 0.6
    fits &= np.abs(runs[2] - 3 * module) <= module * 1.2
    seen: set[tuple[int, int]] = set()
    for index, size in zip(first[fits], module[fits], strict=True):
        x = int(starts[index + 2] % (width + 2) - 1 + lengths[index + 2] // 2)
        y = int(rows[index])
        place = (round(x / (4 * size)), round(y / (4 * size)))
        if place not in seen:
            seen.add(place)
            yield x, y, float(size)


def _finder_runs(line: np.ndarray, centre: int, module: float) -> tuple[int, int] | None:
    """Where the 1:1:3:1:1 runs through `centre` along `line` start, and how
    long they are together; None when they are not 1:1:3:1:1."""
    limit = int(module * 5) + 2
    if not line[centre]:
        return None

    def run(start: int, step: int, value: bool) -> tuple[int, int]:
        count, position = 0, start
        while 0 <= position < len(line) and line[position] == value and count <= limit:
            count += 1
            position += step
        return count, position

    before, position = run(centre, -1, True)
    after, end = run(centre + 1, 1, True)
    light_before, position = run(position, -1, False)
    dark_before, position = run(position, -1, True)
    light_after, end = run(end, 1, False)
    dark_after, end = run(end, 1, True)
    total = dark_before + light_before + before + after + light_after + dark_after
    size = total / 7
    if (
        any(
            abs(count - size) > size * 0.7
            for count in (light_before, dark_before, light_after, dark_after)
        )
        or abs(before + after - 3 * size) > size * 1.3
    ):
        return None
    return position + 1, total


def _finder_square(dark: np.ndarray, x: float, y: float, module: float) -> bool:
    """Whether nearly every module of the 7 x 7 square centred on (x, y) is
    as a finder pattern's: rings 0 and 1 from the centre and the outer ring
    dark, ring 2 light. Checked at each module's middle, which stays inside
    its module with the page up to 5 degrees askew."""
    height, width = dark.shape
    matches = 0
    for row in range(-3, 4):
        for column in range(-3, 4):
            px, py = round(x + column * module), round(y + row * module)
            if not (0 <= px < width and 0 <= py < height):
                return False
            matches += bool(dark[py, px]) == (max(abs(row), abs(column)) != 2)
    return matches >= 45
