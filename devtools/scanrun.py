"""A generated mail run: reply sheets from the real print code, written on,
then made to look scanned, in one PDF, with the truth about every page.

For the tests and `make bench` (scan intake's speed, split accuracy, OCR
accuracy). Nothing here runs in production.

- `reply_sheet_images(batch)` renders the batch with
  messaging.printing.render_batch_pdf, exactly as a liaison prints it, and
  keeps the reply sheets (the pages whose QR code reads as a reply mark).
- `write_on()` writes a reply on a sheet's ruled lines, typed (DejaVu Sans)
  or in a handwriting font (DkgHandwriting, Humor Sans: scripts/lib.sh
  ensure_handwriting_fonts) with a jittered baseline and size.
- `scan_like()` turns, skews, blurs, adds noise and compresses a page the way
  a mailroom scanner does; `tear=True` tears or covers part of the QR code
  beyond what its error correction can repair, always leaving a finder
  pattern (the big corner squares) to be seen.
- `make_scanning_run(batch)` puts it together: reply sheets, 0-2 continuation
  pages after each, a few blank pages and torn codes, every rotation, as one
  PDF of JPEG pages. Deterministic for a given seed.
"""

from __future__ import annotations

import functools
import io
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from messaging.models import PrintBatch
from messaging.printing import render_batch_pdf
from messaging.reply_sheets import parse_reply_mark
from messaging.scanpages import QR_CODES

# What the generated "scanner" scans at: the page engine's resolution.
SCAN_DPI = 200
PAPER_SIZE = (1700, 2200)  # US letter at SCAN_DPI
ROUGH_JPEG_QUALITY = 40
MAX_SKEW = 5.0
TYPED_FONT = "DejaVu Sans"
HANDWRITING_FONTS = ("DkgHandwriting", "Humor Sans")
_FALLBACK_FONT_FILES = {
    "DejaVu Sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "DkgHandwriting": "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "Humor Sans": "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
}
# Text sizes in pixels at SCAN_DPI: typed about 12 pt, handwriting larger.
TYPED_SIZE = 34
HANDWRITING_SIZE = 44
# Plain paper: where a writer starts, and the spacing of their lines.
PLAIN_MARGIN = 170
PLAIN_TOP = 220
PLAIN_LINE_SPACING = 80
PLAIN_LINES = 22

# Sample replies, written for this (no real letters). Each is cut into the
# pieces written on a sheet and its continuation pages.
SAMPLE_TEXTS = {
    "en": (
        "Thank you for your letter, it came on Tuesday and I read it three times. "
        "The weather here has turned cold and the yard is closed most mornings. "
        "I started a class on carpentry and we are making a small table. "
        "My sister visited last month with her two boys, they are growing fast. "
        "I hope your garden is doing well and that the tomatoes came back. "
        "Please tell me more about the book you are reading, it sounds good. "
        "I have been walking every evening and sleeping better because of it. "
        "The library cart comes on Fridays and I always take two novels. "
        "Write soon and take care of yourself, your friend here."
    ),
    "es": (
        "Muchas gracias por tu carta, llegó el martes y la leí tres veces. "
        "Aquí ya hace frío y el patio está cerrado casi todas las mañanas. "
        "Empecé una clase de carpintería y estamos haciendo una mesa pequeña. "
        "Mi hermana vino el mes pasado con sus dos hijos, están muy grandes. "
        "Espero que tu jardín esté bien y que los tomates hayan vuelto. "
        "Cuéntame más del libro que estás leyendo, parece muy bueno. "
        "Camino todas las tardes y por eso duermo mucho mejor. "
        "El carrito de la biblioteca pasa los viernes y siempre tomo dos novelas. "
        "Escríbeme pronto y cuídate mucho, tu amigo de aquí."
    ),
}
STYLES = ("typed", "handwriting")


@dataclass(frozen=True)
class PageTruth:
    """What one page of a generated run is, for measuring intake and OCR."""

    reference: str | None  # the reply it belongs to; None for a blank page
    kind: str  # "sheet", "continuation", "blank" or "torn" (a sheet whose code is torn)
    words: tuple[str, ...] = ()  # what was written on it
    language: str = ""
    style: str = ""
    rotation: int = 0  # degrees the page was turned counter-clockwise when scanned
    skew: float = 0.0


@dataclass
class _Reply:
    reference: str
    language: str
    style: str
    pages: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)


# --- Reply sheets from the real print code ----------------------------------------------


def reply_sheet_images(batch: PrintBatch) -> dict[str, Image.Image]:
    """The batch's reply sheets as printed, greyscale at SCAN_DPI, by reply reference."""
    document = pypdfium2.PdfDocument(render_batch_pdf(batch))
    sheets: dict[str, Image.Image] = {}
    try:
        for page in document:
            image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
            for barcode in zxingcpp.read_barcodes(image, formats=QR_CODES):
                mark = parse_reply_mark(barcode.text)
                if mark is not None:
                    sheets[mark.code] = image
                    break
    finally:
        document.close()
    return sheets


# --- Writing ------------------------------------------------------------------------------


@functools.cache
def font_file(family: str) -> str:
    """The font file of `family`, as fontconfig finds it (Debian's path when
    fontconfig is missing). Raises LookupError when the font is not installed."""
    try:
        found = subprocess.run(  # noqa: S603 (fc-match on our own font names, no shell)
            ["fc-match", "--format=%{family}\n%{file}", family],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        found = []
    # fc-match answers with some other font when the family is missing.
    if len(found) == 2 and family in found[0].split(","):
        return found[1]
    if Path(_FALLBACK_FONT_FILES[family]).exists():
        return _FALLBACK_FONT_FILES[family]
    raise LookupError(
        f"The font {family!r} is not installed: run scripts/lib.sh's ensure_handwriting_fonts "
        "(make test and make bench do)."
    )


@functools.cache
def _font(family: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_file(family), size)


def ruled_lines(image: Image.Image) -> list[int]:
    """The rows of a page's ruled lines (a reply sheet's), top to bottom, or []."""
    pixels = np.asarray(image.convert("L"), dtype=np.int16)
    width = pixels.shape[1]
    middle = pixels[:, width // 5 : width * 4 // 5]
    dark_share = (middle < 200).mean(axis=1)
    rows = np.flatnonzero(dark_share > 0.9)
    lines: list[int] = []
    for row in rows:
        if not lines or row - lines[-1] > 3:
            lines.append(int(row))
    return lines


def _line_width(text: str, family: str, size: int) -> float:
    return _font(family, size).getlength(text)


def layout(text: str, style: str, width: int, family: str | None = None) -> list[str]:
    """`text` broken into lines that fit `width` pixels in `style`."""
    family = family or (TYPED_FONT if style == "typed" else HANDWRITING_FONTS[0])
    size = TYPED_SIZE if style == "typed" else HANDWRITING_SIZE
    # Handwriting is jittered up to 10% larger: leave room for it.
    room = width if style == "typed" else width * 0.88
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and _line_width(candidate, family, size) > room:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _writing_lines(image: Image.Image) -> tuple[list[int], int, int]:
    """The baselines to write on, and the left and right edges."""
    rules = ruled_lines(image)
    if len(rules) >= 3:
        row = np.asarray(image.convert("L"), dtype=np.int16)[rules[0]]
        inked = np.flatnonzero(row < 200)
        left, right = int(inked[0]) + 20, int(inked[-1]) - 20
        return [rule - 10 for rule in rules], left, right
    baselines = [PLAIN_TOP + PLAIN_LINE_SPACING * n for n in range(PLAIN_LINES)]
    return baselines, PLAIN_MARGIN, image.width - PLAIN_MARGIN


def write_on(
    image: Image.Image,
    text: str,
    style: str,
    *,
    rng: np.random.Generator | None = None,
    family: str | None = None,
) -> Image.Image:
    """A copy of `image` with `text` written on its ruled lines (or, on plain
    paper, where a writer would). Raises ValueError when the text does not fit."""
    if style not in STYLES:
        raise ValueError(f"Unknown style {style!r}.")
    rng = rng if rng is not None else np.random.default_rng(0)
    family = family or (TYPED_FONT if style == "typed" else HANDWRITING_FONTS[0])
    baselines, left, right = _writing_lines(image)
    lines = layout(text, style, right - left, family)
    if len(lines) > len(baselines):
        raise ValueError(f"{len(lines)} lines do not fit on {len(baselines)}.")
    page = image.convert("L")
    draw = ImageDraw.Draw(page)
    ink = int(rng.integers(20, 70))
    base_size = TYPED_SIZE if style == "typed" else HANDWRITING_SIZE
    for baseline, line in zip(baselines, lines, strict=False):
        if style == "typed":
            draw.text((left, baseline), line, font=_font(family, base_size), fill=ink, anchor="ls")
            continue
        x = left + float(rng.uniform(0, 15))
        drift = float(rng.uniform(-4, 4))
        for word in line.split():
            size = int(base_size * rng.uniform(0.92, 1.08))
            font = _font(family, size)
            y = baseline + drift + float(rng.normal(0, 2))
            draw.text((x, y), word, font=font, fill=ink, anchor="ls")
            x += font.getlength(word + " ") * float(rng.uniform(0.95, 1.1))
    return page


def blank_page() -> Image.Image:
    """A sheet of plain paper, slightly off-white."""
    return Image.new("L", PAPER_SIZE, 248)


def continuation_page(
    text: str, style: str, *, rng: np.random.Generator | None = None, family: str | None = None
) -> Image.Image:
    """Plain paper written on: a reply's second or third page."""
    return write_on(blank_page(), text, style, rng=rng, family=family)


# --- Scanning -----------------------------------------------------------------------------


def _code_box(image: Image.Image) -> tuple[float, float, float, float] | None:
    for barcode in zxingcpp.read_barcodes(image, formats=QR_CODES):
        corners = barcode.position
        points = (corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right)
        xs = [point.x for point in points]
        ys = [point.y for point in points]
        return min(xs), min(ys), max(xs), max(ys)
    return None


TEARS = ("torn", "marker", "label")


def tear_code(image: Image.Image, rng: np.random.Generator, how: str | None = None) -> Image.Image:
    """A copy with the QR code torn or covered past repair (about half of it
    gone), the top-left finder pattern always left whole. `how` is one of
    TEARS (a torn-off corner, a marker band, a label stuck on it); random
    when None."""
    box = _code_box(image)
    if box is None:
        raise ValueError("No QR code on this page to tear.")
    how = how or TEARS[int(rng.integers(0, len(TEARS)))]
    x0, y0, x1, y1 = box
    size = x1 - x0
    page = image.copy()
    draw = ImageDraw.Draw(page)
    if how == "torn":
        # The bottom-right corner torn away: white paper, a ragged edge.
        cut = rng.uniform(0.35, 0.5)
        edge = [
            (x0 + size * t, y1 + 40 - (size + 40) * t * (1 + cut) + rng.normal(0, 6))
            for t in np.linspace(0, 1, 12)
        ]
        draw.polygon([*edge, (x1 + 60, y0 - 60), (x1 + 60, y1 + 60), (x0 - 60, y1 + 60)], fill=255)
    elif how == "marker":
        # A thick marker band across the code, below the top finder patterns.
        top = y0 + size * rng.uniform(0.33, 0.4)
        draw.rectangle((x0 - 20, top, x1 + 20, top + size * 0.45), fill=int(rng.integers(20, 60)))
    elif how == "label":
        # A label stuck over the middle and the right half.
        draw.rectangle((x0 + size * 0.35, y0 + size * 0.3, x1 + 30, y1 + 30), fill=250)
    else:
        raise ValueError(f"Unknown tear {how!r}.")
    return page


def _noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian noise of `sigma` grey levels: a random 256-pixel tile repeated
    from a random offset (six times faster than a whole page of draws, and
    no eye or algorithm sees the repeat under the blur and JPEG)."""
    tile = rng.standard_normal((256, 256), dtype=np.float32) * np.float32(sigma)
    height, width = shape
    offset_y, offset_x = (int(value) for value in rng.integers(0, 256, 2))
    reps = (height + offset_y) // 256 + 1, (width + offset_x) // 256 + 1
    return np.tile(tile, reps)[offset_y : offset_y + height, offset_x : offset_x + width]


def _scanned_jpeg(
    image: Image.Image,
    rng: np.random.Generator,
    *,
    rotation: int = 0,
    skew: float = 0.0,
    noise: float = 6.0,
    blur: float = 0.6,
    jpeg_quality: int = ROUGH_JPEG_QUALITY,
    tear: bool | str = False,
) -> bytes:
    if rotation not in (0, 90, 180, 270):
        raise ValueError("rotation must be 0, 90, 180 or 270.")
    if abs(skew) > MAX_SKEW:
        raise ValueError(f"skew must be within ±{MAX_SKEW}°.")
    page = image.convert("L")
    if tear:
        page = tear_code(page, rng, tear if isinstance(tear, str) else None)
    if skew:
        # The sheet lies crooked in the scanner: the frame stays the paper's size.
        page = page.rotate(skew, resample=Image.Resampling.BILINEAR, fillcolor=250)
    if rotation:
        page = page.rotate(rotation, expand=True)
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        pixels = np.array(page, dtype=np.float32)
        pixels += _noise(rng, pixels.shape, noise)
        page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=jpeg_quality)
    return buffer.getvalue()


def scan_like(
    image: Image.Image,
    rng: np.random.Generator,
    rotation: int = 0,
    skew: float = 0.0,
    noise: float = 6.0,
    blur: float = 0.6,
    jpeg_quality: int = ROUGH_JPEG_QUALITY,
    *,
    tear: bool | str = False,
) -> Image.Image:
    """`image` as a rough scan: turned `rotation` degrees counter-clockwise,
    skewed `skew` degrees, blurred, with gaussian noise of `noise` grey
    levels, through JPEG at `jpeg_quality`. `tear` (True, or one of TEARS)
    first tears or covers part of its QR code."""
    content = _scanned_jpeg(
        image,
        rng,
        rotation=rotation,
        skew=skew,
        noise=noise,
        blur=blur,
        jpeg_quality=jpeg_quality,
        tear=tear,
    )
    scanned = Image.open(io.BytesIO(content))
    scanned.load()
    return scanned


# --- A whole run --------------------------------------------------------------------------


def images_to_pdf(jpegs: Sequence[bytes], dpi: int = SCAN_DPI) -> bytes:
    """A PDF with one page per greyscale JPEG, the JPEG embedded as it is
    (no second compression), each page the size the image was scanned at."""
    objects: list[bytes] = []
    page_ids = []
    for content in jpegs:
        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
            colour = "/DeviceGray" if image.mode == "L" else "/DeviceRGB"
        image_id = len(objects) + 3
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
            % (width, height, colour.encode(), len(content))
            + content
            + b"\nendstream"
        )
        points_w, points_h = width * 72 / dpi, height * 72 / dpi
        drawing = b"q %.2f 0 0 %.2f 0 0 cm /Im Do Q" % (points_w, points_h)
        packed = zlib.compress(drawing)
        contents_id = len(objects) + 3
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + b"\nendstream"
        )
        page_ids.append(len(objects) + 3)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] "
            b"/Resources << /XObject << /Im %d 0 R >> >> /Contents %d 0 R >>"
            % (points_w, points_h, image_id, contents_id)
        )
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    every = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)),
        *objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(every, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(every) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(every) + 1, xref)
    )
    return out.getvalue()


def _sentences(language: str) -> list[str]:
    return [
        sentence.strip() + "." for sentence in SAMPLE_TEXTS[language].split(".") if sentence.strip()
    ]


def _reply_texts(rng: np.random.Generator, language: str, pieces: int) -> list[str]:
    """Texts for a reply of `pieces` pages: a few sentences each, from a random start."""
    sentences = _sentences(language)
    start = int(rng.integers(0, len(sentences)))
    texts = []
    for index in range(pieces):
        count = int(rng.integers(2, 5))
        texts.append(
            " ".join(sentences[(start + index * 4 + k) % len(sentences)] for k in range(count))
        )
    return texts


def make_scanning_run(
    batch: PrintBatch | None,
    *,
    pages: int = 200,
    seed: int = 1,
    languages: Sequence[str] = ("en", "es"),
    blank_share: float = 0.04,
    torn_share: float = 0.04,
    sheets: dict[str, Image.Image] | None = None,
) -> tuple[bytes, list[PageTruth]]:
    """One PDF of a whole scanned mail run of exactly `pages` pages, and the
    truth about each page, in order.

    Replies are written on the batch's reply sheets in turn (again from the
    first when a small batch runs out), each followed by 0-2 continuation
    pages; a few blank pages fall anywhere and a few sheets have their code
    torn. Languages and styles (typed, handwriting) alternate, rotations
    cycle through 0, 90, 180 and 270 degrees. Same seed, same bytes.
    `sheets` are the batch's reply_sheet_images() when the caller has them
    already (rendering a batch takes seconds).
    """
    rng = np.random.default_rng(seed)
    if sheets is None:
        if batch is None:
            raise ValueError("Give the batch, or its reply sheets.")
        sheets = reply_sheet_images(batch)
    if not sheets:
        raise ValueError("The batch has no reply sheets.")
    references = sorted(sheets)
    kinds = _page_kinds(rng, pages, blank_share, torn_share)
    rotations = (0, 90, 180, 270)
    first_rotation = int(rng.integers(0, 4))
    jpegs: list[bytes] = []
    truths: list[PageTruth] = []
    reply: _Reply | None = None
    replies_begun = 0
    for index, kind in enumerate(kinds):
        rotation = rotations[(first_rotation + index) % 4]
        skew = round(float(rng.uniform(-MAX_SKEW, MAX_SKEW)), 2)
        words: tuple[str, ...]
        if kind == "blank":
            page, words, language, style = blank_page(), (), "", ""
            reference = None
        elif kind in ("sheet", "torn"):
            reference = references[replies_begun % len(references)]
            language = languages[replies_begun % len(languages)]
            style = STYLES[(replies_begun // len(languages)) % len(STYLES)]
            replies_begun += 1
            reply = _Reply(reference, language, style)
            text = _reply_texts(rng, language, 1)[0]
            page = write_on(sheets[reference], text, style, rng=rng, family=_family(rng, style))
            words = tuple(text.split())
        else:
            assert reply is not None  # _page_kinds starts every run with a sheet
            reference, language, style = reply.reference, reply.language, reply.style
            text = _reply_texts(rng, language, 1)[0]
            page = continuation_page(text, style, rng=rng, family=_family(rng, style))
            words = tuple(text.split())
        jpegs.append(
            _scanned_jpeg(
                page,
                rng,
                rotation=rotation,
                skew=skew,
                noise=float(rng.uniform(3, 9)),
                blur=float(rng.uniform(0.3, 0.8)),
                tear=kind == "torn",
            )
        )
        truths.append(
            PageTruth(
                reference=reference,
                kind=kind,
                words=words,
                language=language,
                style=style,
                rotation=rotation,
                skew=skew,
            )
        )
    return images_to_pdf(jpegs), truths


def _family(rng: np.random.Generator, style: str) -> str:
    if style == "typed":
        return TYPED_FONT
    return HANDWRITING_FONTS[int(rng.integers(0, len(HANDWRITING_FONTS)))]


def _page_kinds(
    rng: np.random.Generator, pages: int, blank_share: float, torn_share: float
) -> list[str]:
    """The kind of each page: the run starts with a sheet; each sheet (or torn
    sheet) is followed by 0-2 continuations; blanks fall in between. At least
    one blank and one torn sheet once the run has 10 pages."""
    blanks = max(1 if pages >= 10 else 0, round(pages * blank_share))
    torn = max(1 if pages >= 10 else 0, round(pages * torn_share))
    written = pages - blanks
    kinds: list[str] = []
    while len(kinds) < written:
        kinds.append("sheet")
        kinds.extend(["continuation"] * min(int(rng.integers(0, 3)), written - len(kinds)))
    # Which sheets are torn: spread over the run, never the first.
    sheet_positions = [i for i, kind in enumerate(kinds) if kind == "sheet"][1:]
    for position in rng.choice(
        sheet_positions, size=min(torn, len(sheet_positions)), replace=False
    ):
        kinds[int(position)] = "torn"
    for _ in range(blanks):
        kinds.insert(int(rng.integers(1, len(kinds) + 1)), "blank")
    return kinds


def word_accuracy(expected: Sequence[str], read: Sequence[str]) -> float:
    """Share of `expected` words found in `read`, in order (longest common
    subsequence), case and punctuation aside: a rough OCR word accuracy."""
    clean_expected = [_bare(word) for word in expected if _bare(word)]
    clean_read = [_bare(word) for word in read if _bare(word)]
    if not clean_expected:
        return 1.0
    previous = [0] * (len(clean_read) + 1)
    for word in clean_expected:
        current = [0]
        for k, candidate in enumerate(clean_read):
            current.append(
                previous[k] + 1 if word == candidate else max(previous[k + 1], current[k])
            )
        previous = current
    return previous[-1] / len(clean_expected)


def _bare(word: str) -> str:
    return "".join(character for character in word.casefold() if character.isalnum())


__all__ = [
    "PageTruth",
    "blank_page",
    "continuation_page",
    "images_to_pdf",
    "make_scanning_run",
    "reply_sheet_images",
    "scan_like",
    "TEARS",
    "tear_code",
    "word_accuracy",
    "write_on",
]
