"""A print batch on paper: the browser's print view and the PDF, from one template.

`templates/messaging/print_batch.html` with `static/css/print.css` is the
print view; WeasyPrint renders the very same HTML and CSS to PDF, so the two
can never disagree. The page is addressed with the inmate's legal name and
number, which only the facility's liaison sees; the pen pal appears by
display name only. After each letter comes its reply sheet, on a page of its
own, whose QR code (messaging.reply_sheets) says the reply reference and page
1, so that a scanned reply finds its correspondence.

WeasyPrint fetches the stylesheet through `static_files_fetcher()`, which
reads our own static files and refuses everything else: rendering never
touches the network or an arbitrary local file, whatever a letter contains
(letter text is escaped anyway).

Each letter is rendered once, when it is approved. Laying out a batch is what
took the time: 200 letters at the 13,000-character limit as one WeasyPrint
document took 137-165 s and 440 MB. So the task
messaging.tasks.render_letter_pdf renders each approved letter alone, from the
same template (`letter_alone`, with the batch's include messaging/includes/
print_letter.html), into private storage, and a batch's PDF is a merge of
those files in print order (`write_batch_pdf`), with pypdf.

What belongs to the batch is not in a letter's own PDF: the footer's sheet
numbers, which count the whole batch ("sheet 7 of 1600"), and the letter's
"Printed" and "Batch 3, letter 2 of 200" lines (kept as hidden room). The
merge stamps them on in the same font (DejaVu Sans, a subset embedded once),
size, colour, kerning and place as WeasyPrint draws them, so the merged PDF
reads like the one-document PDF (tests/messaging/test_print_merge.py compares
them). There is no cover page.

A stored letter PDF carries a fingerprint of everything it shows (the
letter, the names and address on it, the language, the templates, the
stylesheet and the catalogue: `rendering_fingerprint`). The merge uses it
only if it still matches; a letter whose PDF is missing (its task was lost,
it was approved before this existed) or stale (a legal name corrected since)
is rendered on the spot, inside the batch task.

The merge streams: each letter's file is read, its objects are written to a
temporary file and dropped, and only the objects' offsets stay until the end,
so memory does not grow with the batch. Measured by `make bench` (devtools/
benchmarks/printing.py) on the 2-core development machine, shared with other
work: 200 letters at the 13,000-character limit (1,625 pages, 8.9 MB),
pre-rendered, are stored as one PDF 4.7-5.8 s after the click, through a
real worker whose peak resident memory is 162 MB, 138 MB of it the idle
worker; rendering one such letter alone takes 0.3-0.9 s, in the background.

A letter's stored PDF is kept while the letter is approved or printed
(LETTER_PDF_STATUSES). It is removed once the letter is delivered or
rejected (the task discard_letter_pdfs, queued by messaging.services), and
the daily sweep (`sweep_letter_pdfs`) removes every other that no letter
needs: a returned letter's, one of an older rendering. Removing one is
always safe: the merge renders a missing letter on the spot.

The batch PDF renders in a Celery task (messaging.tasks.render_print_batch_pdf)
into private storage. The task starts when the batch is made; the download
view serves the stored file, or asks for it again if it is missing (task
lost, file removed once the batch was delivered) and shows a page that
refreshes until it is there. The stored PDF is what was printed; the print
view always shows the current data.
"""

from __future__ import annotations

import functools
import hashlib
import html
import itertools
import json
import logging
import mimetypes
import secrets
import shutil
import subprocess
import tempfile
import zlib
from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata as package_metadata
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import django
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.files import File
from django.core.files.base import ContentFile
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext
from PIL import ImageFile
from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

from messaging.models import Letter, PrintBatch
from messaging.reply_sheets import REPLY_SHEET_PAGE, reply_mark_svg
from penpals.tasks import enqueue_on_commit
from profiles.models import Facility, private_storage

logger = logging.getLogger(__name__)
# WeasyPrint logs every laid-out page at INFO: thousands of lines per batch.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
# fontTools logs each table it subsets (the stamp's font, once per process).
logging.getLogger("fontTools").setLevel(logging.WARNING)
# WeasyPrint itself is imported where a PDF is rendered (in the worker): web
# processes never load it.

TEMPLATE = "messaging/print_batch.html"
# One letter and its reply sheet; the batch lines stamped on a merged batch.
LETTER_TEMPLATE = "messaging/includes/print_letter.html"
BATCH_LINES_TEMPLATE = "messaging/includes/print_batch_lines.html"
PRINT_STYLESHEET = "css/print.css"
# While a render is queued or running, asking again does not queue another.
# A render that died leaves this to expire; then the next request queues it anew.
RENDER_PENDING_SECONDS = 5 * 60
# Relative URLs in the page ("/static/css/print.css") resolve against this
# made-up origin; the fetcher maps it back to files and knows no other.
PDF_BASE_URL = "https://penpals-print.invalid/"
# Ruled lines on a reply sheet: what fills the rest of its one page, in either
# language (tests/messaging/test_reply_sheets.py checks the sheet stays one page).
REPLY_SHEET_LINES = 15

# Part of every letter PDF's stored name: raise it when what the code draws
# changes (template, stylesheet and catalogue changes are caught by the
# fingerprint anyway), so no PDF of the old drawing is used again.
LETTER_PDF_VERSION = 1
LETTER_PDF_FOLDER = "print-letters"
# A letter's PDF is needed while the letter waits to be printed or to be handed out.
LETTER_PDF_STATUSES = (Letter.Status.APPROVED, Letter.Status.PRINTED)
# The sweep leaves younger files alone: a render may be saving one for a
# letter approved after the sweep read which letters need theirs.
LETTER_PDF_SWEEP_GRACE = timedelta(hours=1)
# The Info key WeasyPrint writes for <meta name="penpals-rendering"> (letters, digits only).
FINGERPRINT_INFO_KEY = "/penpalsrendering"


# --- What the page shows ----------------------------------------------------------------


def batch_letters(batch: PrintBatch) -> list[Letter]:
    """The batch's letters in print order (oldest approval first), with what
    the page shows, in one query."""
    return list(
        batch.letters.select_related("correspondence__profile", "correspondence__pen_pal").order_by(
            "approved_at", "pk"
        )
    )


@dataclass(frozen=True)
class PrintedSheet:
    """One letter as printed, followed by its reply sheet: the header, the
    reply instructions and the reply sheet are in the language of the person
    it goes to (the letter itself is as written)."""

    letter: Letter
    language: str

    @property
    def reply_mark_svg(self) -> SafeString:
        """The reply sheet's QR code (messaging.reply_sheets) as inline SVG, so
        WeasyPrint draws it as vector art. Safe: segno writes only the path
        of the code, made from the reference and page number."""
        return mark_safe(  # noqa: S308 - generated SVG, no user text in it
            reply_mark_svg(self.letter.correspondence.code, REPLY_SHEET_PAGE)
        )


@dataclass(frozen=True)
class StampRoom:
    """Stand-ins for a batch's number, date and letter count, as wide as real
    ones: a letter rendered alone keeps hidden room of this width where the
    merge stamps its batch lines, so its header is laid out as in a batch."""

    pk: int = 888888
    # September: the longest month name in English and Spanish.
    created_at: datetime = datetime(2000, 9, 28, 12, tzinfo=UTC)
    number: int = 888


def print_context(batch: PrintBatch) -> dict:
    letters = batch_letters(batch)
    return {
        "batch": batch,
        "facility": batch.facility,
        "address_lines": batch.facility.postal_address_lines(),
        "letters": letters,
        "sheets": [
            PrintedSheet(letter, letter.correspondence.profile.reading_language)
            for letter in letters
        ],
        "reply_sheet_lines": range(REPLY_SHEET_LINES),
    }


def render_print_html(batch: PrintBatch, *, for_pdf: bool) -> str:
    """The page's HTML; the browser view adds a toolbar the PDF leaves out."""
    return render_to_string(TEMPLATE, {**print_context(batch), "for_pdf": for_pdf})


def letter_language(letter: Letter) -> str:
    return letter.correspondence.profile.reading_language


def render_letter_html(letter: Letter, facility: Facility) -> str:
    """One letter and its reply sheet alone, as the batch prints them for
    `facility`, without the batch's own words (see the module docstring).
    `letter` needs its correspondence, profile and pen pal loaded."""
    language = letter_language(letter)
    return render_to_string(
        TEMPLATE,
        {
            "batch": None,
            "facility": facility,
            "address_lines": facility.postal_address_lines(),
            "letters": [letter],
            "sheets": [PrintedSheet(letter, language)],
            "reply_sheet_lines": range(REPLY_SHEET_LINES),
            "for_pdf": True,
            "letter_alone": True,
            "stamp_room": StampRoom(),
            "rendering_fingerprint": rendering_fingerprint(letter, facility),
        },
    )


def _package_version(name: str) -> str:
    try:
        return package_metadata.version(name)
    except package_metadata.PackageNotFoundError:
        return ""


@functools.cache
def _design_digest(language: str) -> str:
    """What draws every letter in `language`: the code's version, the print
    templates, the stylesheet, the catalogue and the renderer. Read once per
    process; a deploy that changes any of them makes every stored letter PDF
    stale, and each is rendered again when it is next printed."""
    digest = hashlib.sha256()
    for part in (
        str(LETTER_PDF_VERSION),
        django.get_version(),
        _package_version("weasyprint"),
        _package_version("segno"),
    ):
        digest.update(part.encode() + b"\0")
    for name in (TEMPLATE, LETTER_TEMPLATE, BATCH_LINES_TEMPLATE):
        digest.update(get_template(name).template.source.encode() + b"\0")  # type: ignore[attr-defined]
    stylesheet = finders.find(PRINT_STYLESHEET)
    if stylesheet:
        digest.update(Path(str(stylesheet)).read_bytes())
    for locale_path in settings.LOCALE_PATHS:
        catalogue = Path(locale_path) / language / "LC_MESSAGES" / "django.mo"
        if catalogue.exists():
            digest.update(catalogue.read_bytes())
    return digest.hexdigest()


def rendering_fingerprint(letter: Letter, facility: Facility) -> str:
    """A digest of everything a letter's PDF shows and how it is drawn. A
    stored PDF whose fingerprint differs (a legal name or address corrected
    since the approval, a new template) is not used: the merge renders the
    letter again. Keep it in step with messaging/includes/print_letter.html."""
    correspondence = letter.correspondence
    profile = correspondence.profile
    language = letter_language(letter)
    shown = {
        "design": _design_digest(language),
        "language": language,
        "letter": [letter.pk, str(letter.idempotency_key), letter.body],
        "written": letter.created_at.isoformat(),
        "reference": correspondence.code,
        "pen_pal": correspondence.pen_pal.display_name,
        "recipient": [profile.legal_name, profile.inmate_number],
        "facility": [facility.name, *facility.postal_address_lines()],
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


# --- Rendering with WeasyPrint ----------------------------------------------------------


def static_file_path(url_path: str) -> Path | None:
    """The file behind a /static/... path: the collected copy (hashed names in
    production) or, before collectstatic, the app's own static folder."""
    static_prefix = urlsplit(settings.STATIC_URL).path
    if not url_path.startswith(static_prefix):
        return None
    name = unquote(url_path.removeprefix(static_prefix))
    if not name or ".." in Path(name).parts:
        return None
    try:
        if staticfiles_storage.exists(name):
            return Path(staticfiles_storage.path(name))
    except NotImplementedError:
        # A storage without local paths (S3): the app's own static folder has the file.
        pass
    found = finders.find(name)
    return Path(str(found)) if found else None


def import_weasyprint():
    """WeasyPrint, imported without its side effect on Pillow.

    Importing WeasyPrint sets PIL.ImageFile.LOAD_TRUNCATED_IMAGES for the
    whole process (weasyprint/images.py). In a worker that also processes
    photos and checks scans, a cut-off upload would then pass as whole
    (profiles.photos refuses to run at all). Printed letters hold no images,
    so the flag is put back as it was.
    """
    was_loading_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        # Imported here, not at the top, to put the flag back (see above).
        import weasyprint
        import weasyprint.urls
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = was_loading_truncated
    return weasyprint


def static_files_fetcher():
    """A WeasyPrint URL fetcher that serves our static files (the stylesheet)
    and refuses everything else."""
    urls = import_weasyprint().urls
    URLFetcher, URLFetcherResponse = urls.URLFetcher, urls.URLFetcherResponse

    class StaticFilesOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            base = urlsplit(PDF_BASE_URL)
            path = None
            if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
                path = static_file_path(parts.path)
            if path is None:
                # WeasyPrint logs this and renders without the resource.
                raise ValueError(f"Only static files can be used in printed letters, not {url!r}.")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})

    return StaticFilesOnlyFetcher()


def _weasyprint_html(page_html: str):
    return import_weasyprint().HTML(
        string=page_html, base_url=PDF_BASE_URL, url_fetcher=static_files_fetcher()
    )


def render_batch_document(batch: PrintBatch):
    """The whole batch laid out by WeasyPrint as one document (its `.pages`
    are the sheets): what the merged PDF reproduces page for page. Far too
    slow for a real batch (see the module docstring); tests compare with it."""
    return _weasyprint_html(render_print_html(batch, for_pdf=True)).render()


def render_letter_pdf(letter: Letter, facility: Facility | None = None) -> bytes:
    """One letter's pages and its reply sheet, as `facility` (by default the
    letter's own) prints them, with its fingerprint in the PDF's metadata."""
    facility = facility or letter.correspondence.profile.facility
    return _weasyprint_html(render_letter_html(letter, facility)).write_pdf(custom_metadata=True)


# --- Each letter's stored PDF ------------------------------------------------------------


def stored_letter_pdf_name(letter: Letter, language: str) -> str:
    """Private storage name of a letter's PDF in `language`: the same on every
    run, unguessable from the letter's number (the secret key and the
    letter's random idempotency key are part of it), and never that of an
    older drawing (LETTER_PDF_VERSION)."""
    token = salted_hmac(
        "messaging.printing.stored_letter_pdf_name",
        f"{letter.pk}:{letter.idempotency_key}:{language}:{LETTER_PDF_VERSION}",
    ).hexdigest()[:32]
    return f"{LETTER_PDF_FOLDER}/{token}.pdf"


def _letters_to_print():
    return Letter.objects.outbound().select_related(
        "correspondence__profile__facility", "correspondence__pen_pal"
    )


def _read_stored(name: str) -> bytes | None:
    try:
        with private_storage().open(name, "rb") as stored:
            return stored.read()
    except FileNotFoundError:
        return None


def _reader_if_current(pdf: bytes | None, fingerprint: str) -> PdfReader | None:
    """A reader of a stored letter PDF whose fingerprint is `fingerprint`;
    None when it is missing, of an older rendering, or unreadable (a damaged
    file is as good as none: it is rendered again). Close what it returns."""
    if pdf is None:
        return None
    try:
        reader = PdfReader(BytesIO(pdf))
        info = reader.metadata
        if info and str(info.get(FINGERPRINT_INFO_KEY, "")) == fingerprint:
            return reader
        reader.close()
    except Exception:
        logger.warning("stored letter PDF unreadable", exc_info=True)
    return None


def _store(name: str, content: File) -> None:
    """Save `content` under `name`, replacing what is there."""
    storage = private_storage()
    storage.delete(name)
    stored_name = storage.save(name, content)
    if stored_name != name:
        # Another run saved the same letter meanwhile; storage gave this one
        # another name. Theirs is as good.
        storage.delete(stored_name)


def render_and_store_letter_pdf(letter_id: int) -> str:
    """The task body: render an approved letter's PDF into private storage.
    Safe to run twice: a stored PDF that still matches is kept."""
    letter = _letters_to_print().filter(pk=letter_id).first()
    if letter is None:
        return "missing"
    if letter.status not in LETTER_PDF_STATUSES:
        return "not needed"
    facility = letter.correspondence.profile.facility
    name = stored_letter_pdf_name(letter, letter_language(letter))
    current = _reader_if_current(_read_stored(name), rendering_fingerprint(letter, facility))
    if current is not None:
        current.close()
        return "exists"
    pdf = render_letter_pdf(letter, facility)
    _store(name, ContentFile(pdf))
    # Delivered or rejected while it rendered: its discard may have run first.
    if not Letter.objects.filter(pk=letter_id, status__in=LETTER_PDF_STATUSES).exists():
        private_storage().delete(name)
        return "not needed"
    logger.info("letter PDF stored", extra={"letter_id": letter_id, "bytes": len(pdf)})
    return "rendered"


def discard_letter_pdfs(letter_ids: Iterable[int]) -> int:
    """The task body: remove the stored PDFs of letters that no longer need
    one (delivered, rejected, returned). A letter that needs its PDF again
    keeps it. Returns how many letters were looked at."""
    storage = private_storage()
    languages = [code for code, _name in settings.LANGUAGES]
    letters = (
        Letter.objects.filter(pk__in=list(letter_ids))
        .exclude(status__in=LETTER_PDF_STATUSES)
        .only("pk", "idempotency_key")
    )
    count = 0
    for letter in letters:
        # Every language: the person's may have changed since the rendering.
        for language in languages:
            storage.delete(stored_letter_pdf_name(letter, language))
        count += 1
    return count


def sweep_letter_pdfs() -> int:
    """The daily job: remove every stored letter PDF that no letter needs
    (LETTER_PDF_STATUSES), such as a returned letter's, one whose discard
    task was lost, or one of an older drawing (LETTER_PDF_VERSION, the
    reader's language changed). Returns how many files were removed. Safe:
    a letter printed later is rendered on the spot."""
    storage = private_storage()
    try:
        _folders, files = storage.listdir(LETTER_PDF_FOLDER)
    except FileNotFoundError:
        return 0
    needed = {
        stored_letter_pdf_name(letter, letter_language(letter))
        for letter in Letter.objects.outbound()
        .filter(status__in=LETTER_PDF_STATUSES)
        .select_related("correspondence__profile")
        .only("pk", "idempotency_key", "correspondence__profile__languages")
        .iterator(chunk_size=2000)
    }
    cutoff = timezone.now() - LETTER_PDF_SWEEP_GRACE
    removed = 0
    for file_name in files:
        name = f"{LETTER_PDF_FOLDER}/{file_name}"
        if name in needed:
            continue
        try:
            if storage.get_modified_time(name) > cutoff:
                continue
        except FileNotFoundError:
            continue
        storage.delete(name)
        removed += 1
    return removed


def _letter_pdf_for_batch(letter: Letter, facility: Facility) -> PdfReader:
    """The letter's stored PDF, opened, if it still matches; else a fresh
    rendering (not stored: the batch's own PDF is, and is what a second
    download serves). The caller closes it."""
    stored = _read_stored(stored_letter_pdf_name(letter, letter_language(letter)))
    current = _reader_if_current(stored, rendering_fingerprint(letter, facility))
    if current is not None:
        return current
    logger.info(
        "letter PDF rendered for its batch",
        extra={"letter_id": letter.pk, "reason": "stale" if stored else "missing"},
    )
    return PdfReader(BytesIO(render_letter_pdf(letter, facility)))


# --- The batch's words, stamped on --------------------------------------------------------

# print.css draws on US Letter (612 x 792 pt) with margins of 2 cm (top),
# 2.2 cm (sides) and 2.4 cm (bottom). The stamp draws where WeasyPrint does.
POINTS_PER_CM = 72 / 2.54
PAGE_HEIGHT = 792.0
RIGHT_EDGE = 612.0 - 2.2 * POINTS_PER_CM
# The @bottom-right box: 8.5pt, #444, one line (normal height) centred in the bottom margin.
FOOTER_SIZE = 8.5
FOOTER_GREY = 0x44 / 255
FOOTER_MARGIN = 2.4 * POINTS_PER_CM
# .letter-meta: 9.5pt black, line-height 1.5, from the top of the page's content.
META_SIZE = 9.5
META_LINE_HEIGHT = 1.5 * META_SIZE
META_TOP = 2 * POINTS_PER_CM
# Its first line ("Written ...") is the letter's own; the batch's follow.
META_FIRST_STAMPED_LINE = 1
# print.css writes "Penpals · " before the translated words.
FOOTER_PREFIX = "Penpals · "
STAMP_FONT = NameObject("/PenpalsStamp")
# Print.css's footer and header face. WinAnsi holds every character English
# and Spanish need (accents, ñ, ¿, ¡, ·).
STAMP_FONT_FAMILY = "DejaVu Sans"
STAMP_FONT_FILE = "DejaVuSans.ttf"
STAMP_ENCODING = "cp1252"
FONT_DIRECTORIES = ("/usr/share/fonts", "/usr/local/share/fonts")
FIRST_CODE, LAST_CODE = 32, 255
# An object reserved but not yet written (StreamingPdfWriter).
UNWRITTEN = -1


def footer_text(language: str, sheet_number: int, sheet_count: int) -> str:
    """The bottom-right footer as print.css composes it, in `language`."""
    with translation.override(language):
        sheet = pgettext("page of a printed batch", "sheet")
        of = pgettext("sheet 2 of 5", "of")
    return f"{FOOTER_PREFIX}{sheet} {sheet_number} {of} {sheet_count}"


def batch_lines(batch: PrintBatch, number: int, total: int, language: str) -> list[str]:
    """The letter's lines that belong to its batch ("Printed ...", "Batch 3,
    letter 2 of 200"), from the template the print view uses."""
    with translation.override(language):
        markup = render_to_string(
            BATCH_LINES_TEMPLATE, {"batch": batch, "number": number, "total": total}
        )
    return [" ".join(html.unescape(strip_tags(line)).split()) for line in markup.split("<br>")]


def _font_file() -> Path:
    for directory in FONT_DIRECTORIES:
        found = sorted(Path(directory).rglob(STAMP_FONT_FILE)) if Path(directory).is_dir() else []
        if found:
            return found[0]
    fc_match = shutil.which("fc-match")
    if fc_match:
        answer = subprocess.run(  # noqa: S603 - a fixed command, no user input
            [fc_match, "-f", "%{file}", STAMP_FONT_FAMILY], capture_output=True, text=True
        )
        if answer.returncode == 0 and answer.stdout.endswith(STAMP_FONT_FILE):
            return Path(answer.stdout)
    raise FileNotFoundError(
        f"{STAMP_FONT_FILE} ({STAMP_FONT_FAMILY}) is needed to print: apt-get install fonts-dejavu-core"
    )


@dataclass(frozen=True)
class StampFont:
    """DejaVu Sans as a simple TrueType font in WinAnsi encoding: the embedded
    subset, and the advances and kerning (1/1000 em) to place text exactly."""

    program: bytes
    widths: tuple[float, ...]  # for codes FIRST_CODE..LAST_CODE
    kerning: dict[tuple[int, int], float]
    ascent: float
    descent: float
    cap_height: float
    bbox: tuple[float, float, float, float]

    def encode(self, text: str) -> bytes:
        # Every language the site speaks fits; anything else shows as "?".
        return text.encode(STAMP_ENCODING, errors="replace")

    def width(self, codes: bytes, size: float) -> float:
        advance = sum(self.widths[code - FIRST_CODE] for code in codes)
        advance += sum(self.kerning.get(pair, 0.0) for pair in itertools.pairwise(codes))
        return advance * size / 1000

    def show(self, codes: bytes) -> bytes:
        """A TJ operand: the text in runs, with the kerning between them."""
        runs: list[str] = []
        run = bytearray()
        for index, code in enumerate(codes):
            run.append(code)
            kern = self.kerning.get((code, codes[index + 1])) if index + 1 < len(codes) else None
            if kern:
                # TJ moves left by a positive number: kerning that widens is negative.
                runs.append(f"<{run.hex()}> {-kern:.3f}")
                run = bytearray()
        if run:
            runs.append(f"<{run.hex()}>")
        return f"[{' '.join(runs)}]".encode()


@functools.cache
def stamp_font() -> StampFont:
    """Read once per process; fontTools only where a batch is merged."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = _font_file()
    # Lazy: only the tables read here are parsed (a tenth of a second, a few MB).
    font = TTFont(str(path), lazy=True)
    scale = 1000 / font["head"].unitsPerEm
    character_map = font.getBestCmap()
    advances = font["hmtx"].metrics
    glyph_by_code: dict[int, str] = {}
    for code in range(FIRST_CODE, LAST_CODE + 1):
        try:
            character = bytes([code]).decode(STAMP_ENCODING)
        except UnicodeDecodeError:
            continue
        if ord(character) in character_map:
            glyph_by_code[code] = character_map[ord(character)]
    widths = tuple(
        round(advances[glyph_by_code[code]][0] * scale, 3) if code in glyph_by_code else 0.0
        for code in range(FIRST_CODE, LAST_CODE + 1)
    )
    # The pairs HarfBuzz applies for WeasyPrint (DejaVu's kern table matches its GPOS).
    pairs = font["kern"].kernTables[0].kernTable if "kern" in font else {}
    code_by_glyph: dict[str, list[int]] = {}
    for code, glyph in glyph_by_code.items():
        code_by_glyph.setdefault(glyph, []).append(code)
    kerning = {
        (left, right): round(value * scale, 3)
        for (left_glyph, right_glyph), value in pairs.items()
        if value
        for left in code_by_glyph.get(left_glyph, [])
        for right in code_by_glyph.get(right_glyph, [])
    }
    head, hhea = font["head"], font["hhea"]
    metrics = {
        "ascent": hhea.ascent * scale,
        "descent": hhea.descent * scale,
        "cap_height": getattr(font["OS/2"], "sCapHeight", hhea.ascent) * scale,
        "bbox": tuple(value * scale for value in (head.xMin, head.yMin, head.xMax, head.yMax)),
    }
    # Only the glyphs WinAnsi reaches: about 11 KB in each batch PDF.
    subset_font = TTFont(str(path), lazy=True)
    options = subset.Options()
    options.layout_features = []
    options.notdef_outline = True
    options.hinting = False
    options.glyph_names = False
    # What a PDF viewer never reads: layout, kerning (the TJ arrays carry it), maths.
    options.drop_tables += ["GPOS", "GSUB", "GDEF", "kern", "FFTM", "MATH"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(
        unicodes=[ord(bytes([code]).decode(STAMP_ENCODING)) for code in glyph_by_code]
    )
    subsetter.subset(subset_font)
    program = BytesIO()
    subset_font.save(program)
    return StampFont(program=program.getvalue(), widths=widths, kerning=kerning, **metrics)


def _stream(data: bytes, **entries: PdfObject) -> StreamObject:
    """A stream object of `data`, deflated."""
    stream = DecodedStreamObject()
    stream.set_data(zlib.compress(data))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    for key, value in entries.items():
        stream[NameObject(f"/{key}")] = value
    return stream


def _font_objects(writer: StreamingPdfWriter, font: StampFont) -> IndirectObject:
    base_font = NameObject("/PENPAL+DejaVuSans")  # a subset, as the PDF spec names them
    program = writer.add(_stream(font.program, Length1=NumberObject(len(font.program))))
    descriptor = writer.add(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/FontDescriptor"),
                NameObject("/FontName"): base_font,
                # Non-symbolic: the viewer maps WinAnsi codes through the font's Unicode cmap.
                NameObject("/Flags"): NumberObject(32),
                NameObject("/FontBBox"): ArrayObject(FloatObject(value) for value in font.bbox),
                NameObject("/ItalicAngle"): NumberObject(0),
                NameObject("/Ascent"): FloatObject(font.ascent),
                NameObject("/Descent"): FloatObject(font.descent),
                NameObject("/CapHeight"): FloatObject(font.cap_height),
                NameObject("/StemV"): NumberObject(80),
                NameObject("/FontFile2"): program,
            }
        )
    )
    return writer.add(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/TrueType"),
                NameObject("/BaseFont"): base_font,
                NameObject("/FirstChar"): NumberObject(FIRST_CODE),
                NameObject("/LastChar"): NumberObject(LAST_CODE),
                NameObject("/Widths"): ArrayObject(FloatObject(width) for width in font.widths),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
                NameObject("/FontDescriptor"): descriptor,
            }
        )
    )


def _text_operators(font: StampFont, text: str, size: float, grey: float, baseline: float) -> str:
    """Draw `text` right-aligned on RIGHT_EDGE at `baseline` (from the page's foot)."""
    codes = font.encode(text)
    left = RIGHT_EDGE - font.width(codes, size)
    return (
        f"q {grey:.4f} {grey:.4f} {grey:.4f} rg BT {STAMP_FONT} {size} Tf "
        f"1 0 0 1 {left:.3f} {baseline:.3f} Tm {font.show(codes).decode()} TJ ET Q\n"
    )


def _baseline_in_line(font: StampFont, size: float, line_height: float) -> float:
    """Where the baseline sits below the top of a line box (CSS half-leading)."""
    content_height = (font.ascent - font.descent) * size / 1000
    return (line_height - content_height) / 2 + font.ascent * size / 1000


def stamp_content(font: StampFont, footer: str, meta_lines: list[str]) -> bytes:
    """What a merged page gets drawn over it. It starts with Q: each page's
    own content runs after a q (StreamingPdfWriter.copy_pages), so the stamp
    draws in the page's untransformed space."""
    # The footer's one line (normal height: ascent to descent) is centred in
    # the bottom margin: its baseline is half the room left plus the descent.
    footer_height = (font.ascent - font.descent) * FOOTER_SIZE / 1000
    footer_baseline = (FOOTER_MARGIN - footer_height) / 2 - font.descent * FOOTER_SIZE / 1000
    operators = ["Q\n", _text_operators(font, footer, FOOTER_SIZE, FOOTER_GREY, footer_baseline)]
    first_baseline = META_TOP + _baseline_in_line(font, META_SIZE, META_LINE_HEIGHT)
    for index, line in enumerate(meta_lines, start=META_FIRST_STAMPED_LINE):
        baseline = PAGE_HEIGHT - (first_baseline + index * META_LINE_HEIGHT)
        operators.append(_text_operators(font, line, META_SIZE, 0.0, baseline))
    return "".join(operators).encode(STAMP_ENCODING)


# --- The merge ------------------------------------------------------------------------------


class StreamingPdfWriter:
    """A PDF written object by object as pages are copied in: only each
    object's offset is kept, so memory does not grow with the document. pypdf
    reads each source; its objects are renumbered and written straight out.

    Call `copy_pages` for each source in order, write every reserved object,
    then `finish`.
    """

    def __init__(self, out: BinaryIO):
        self._out = out
        self._start = out.tell()
        # Byte offset of each object by number (UNWRITTEN until written);
        # object 0 heads the free list. Compact: these stay to the end.
        self._offsets = array("q", [UNWRITTEN])
        self._page_numbers = array("q")
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._pages = self.reserve()
        # Runs before each page's own content, so the stamp after it starts clean.
        save_state = DecodedStreamObject()
        save_state.set_data(b"q\n")
        self._save_state = self.add(save_state)

    @property
    def page_count(self) -> int:
        return len(self._page_numbers)

    def reserve(self) -> IndirectObject:
        self._offsets.append(UNWRITTEN)
        return IndirectObject(len(self._offsets) - 1, 0, None)

    def write(self, ref: IndirectObject, obj: PdfObject) -> None:
        self._offsets[ref.idnum] = self._out.tell() - self._start
        self._out.write(f"{ref.idnum} 0 obj\n".encode())
        obj.write_to_stream(self._out)
        self._out.write(b"\nendobj\n")

    def add(self, obj: PdfObject) -> IndirectObject:
        ref = self.reserve()
        self.write(ref, obj)
        return ref

    def copy_pages(
        self, reader: PdfReader, fonts: dict[NameObject, IndirectObject]
    ) -> list[IndirectObject]:
        """Copy every page of `reader`, each with `fonts` added to its
        resources and an empty slot after its content. Returns the slots'
        references, one per page: write each (a stream starting with Q, see
        `stamp_content`) before `finish`."""
        mapping: dict[int, IndirectObject] = {}
        waiting: deque[IndirectObject] = deque()

        def target(ref: IndirectObject) -> IndirectObject:
            if ref.idnum not in mapping:
                mapping[ref.idnum] = self.reserve()
                waiting.append(ref)
            return mapping[ref.idnum]

        def copy(obj):
            if isinstance(obj, IndirectObject):
                return target(obj)
            if isinstance(obj, StreamObject):
                stream = obj.__class__()
                stream._data = obj._data  # as stored: never decoded
                for key, value in obj.items():
                    stream[key] = copy(value)
                return stream
            if isinstance(obj, DictionaryObject):
                return DictionaryObject((key, copy(value)) for key, value in obj.items())
            if isinstance(obj, ArrayObject):
                return ArrayObject(copy(value) for value in obj)
            return obj

        def copy_resources(page: DictionaryObject) -> DictionaryObject:
            """The page's resources, with `fonts` beside its own (for the stamp)."""
            raw_resources = page.get("/Resources")
            resources = raw_resources.get_object() if raw_resources is not None else {}
            copied = DictionaryObject(
                (name, copy(entry)) for name, entry in resources.items() if name != "/Font"
            )
            raw_fonts = resources.get("/Font")
            page_fonts = raw_fonts.get_object() if raw_fonts is not None else {}
            copied_fonts = DictionaryObject(
                (name, copy(entry)) for name, entry in page_fonts.items()
            )
            copied_fonts.update(fonts)
            copied[NameObject("/Font")] = copied_fonts
            return copied

        pages = [(page, page.indirect_reference) for page in reader.pages]
        # References to a page (a link, say) land on its copy; the old page
        # tree is never copied.
        for _page, source_ref in pages:
            assert source_ref is not None  # a reader's pages are always indirect
            mapping[source_ref.idnum] = self.reserve()
        root_pages = reader.root_object.raw_get("/Pages")
        if isinstance(root_pages, IndirectObject):
            mapping[root_pages.idnum] = self._pages
        slots = []
        for page, source_ref in pages:
            assert source_ref is not None
            copied = DictionaryObject(
                (key, copy(value))
                for key, value in page.items()
                if key not in ("/Parent", "/Contents", "/Resources")
            )
            copied[NameObject("/Parent")] = self._pages
            # A reference to one stream or to an array of them (dict.get: unresolved).
            raw_contents = page.get("/Contents")
            contents = raw_contents.get_object() if raw_contents is not None else None
            if isinstance(contents, ArrayObject):
                parts = list(contents)
            else:
                parts = [raw_contents] if raw_contents is not None else []
            slot = self.reserve()
            slots.append(slot)
            copied[NameObject("/Contents")] = ArrayObject(
                [self._save_state, *(copy(part) for part in parts), slot]
            )
            copied[NameObject("/Resources")] = copy_resources(page)
            ref = mapping[source_ref.idnum]
            self.write(ref, copied)
            self._page_numbers.append(ref.idnum)
            while waiting:
                source = waiting.popleft()
                self.write(mapping[source.idnum], copy(source.get_object()))
        return slots

    def finish(self, *, title: str, language: str) -> None:
        self.write(
            self._pages,
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Pages"),
                    NameObject("/Kids"): ArrayObject(
                        IndirectObject(number, 0, None) for number in self._page_numbers
                    ),
                    NameObject("/Count"): NumberObject(len(self._page_numbers)),
                }
            ),
        )
        info = self.add(
            DictionaryObject(
                {
                    NameObject("/Title"): TextStringObject(title),
                    NameObject("/Producer"): TextStringObject("Penpals (WeasyPrint, pypdf)"),
                    NameObject("/CreationDate"): TextStringObject(
                        timezone.now().strftime("D:%Y%m%d%H%M%SZ")
                    ),
                }
            )
        )
        catalog = self.add(
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Catalog"),
                    NameObject("/Pages"): self._pages,
                    NameObject("/Lang"): TextStringObject(language),
                }
            )
        )
        unwritten = [
            number for number, offset in enumerate(self._offsets) if number and offset == UNWRITTEN
        ]
        if unwritten:
            raise ValueError(f"Objects reserved but never written: {unwritten[:10]}")
        xref_offset = self._out.tell() - self._start
        self._out.write(f"xref\n0 {len(self._offsets)}\n0000000000 65535 f \n".encode())
        for offset in self._offsets[1:]:
            self._out.write(b"%010d 00000 n \n" % offset)
        document_id = secrets.token_hex(16)
        self._out.write(
            f"trailer\n<< /Size {len(self._offsets)} /Root {catalog.idnum} 0 R "
            f"/Info {info.idnum} 0 R /ID [<{document_id}> <{document_id}>] >>\n"
            f"startxref\n{xref_offset}\n%%EOF\n".encode()
        )


def write_batch_pdf(batch: PrintBatch, out: BinaryIO) -> int:
    """Write the batch's PDF to `out`: each letter's stored PDF in print order
    (rendered on the spot when missing or stale), with the batch's words
    stamped on. Returns the number of pages."""
    letters = batch_letters(batch)
    facility = batch.facility
    font = stamp_font()
    writer = StreamingPdfWriter(out)
    fonts = {STAMP_FONT: _font_objects(writer, font)}
    # (slot, language, batch lines): the footer needs the page count, known at the end.
    slots: list[tuple[IndirectObject, str, list[str]]] = []
    for number, letter in enumerate(letters, start=1):
        language = letter_language(letter)
        lines = batch_lines(batch, number, len(letters), language)
        # Closing the reader frees its objects now, not at the next full
        # garbage collection (they refer to the reader and back).
        with _letter_pdf_for_batch(letter, facility) as reader:
            for index, slot in enumerate(writer.copy_pages(reader, fonts)):
                slots.append((slot, language, lines if index == 0 else []))
    for sheet_number, (slot, language, lines) in enumerate(slots, start=1):
        footer = footer_text(language, sheet_number, len(slots))
        writer.write(slot, _stream(stamp_content(font, footer, lines)))
    # As print_batch.html's <title> says it, in the language the task runs in.
    title = gettext("Print batch %(batch_number)s · %(facility_name)s · Penpals") % {
        "batch_number": batch.pk,
        "facility_name": facility.name,
    }
    writer.finish(title=title, language=translation.get_language() or settings.LANGUAGE_CODE)
    return len(slots)


def render_batch_pdf(batch: PrintBatch) -> bytes:
    """The batch as a PDF: each letter from a new page (long letters run on),
    then its reply sheet on a page of its own."""
    out = BytesIO()
    write_batch_pdf(batch, out)
    return out.getvalue()


def pdf_filename(batch: PrintBatch) -> str:
    return f"batch-{batch.pk}.pdf"


# --- The stored batch PDF -------------------------------------------------------------------


def stored_pdf_name(batch: PrintBatch) -> str:
    """Private storage name of the batch's PDF: the same on every run (a second
    run finds the first one's file), unguessable from the batch number, and
    never that of another batch (the random idempotency key is part of it,
    so a database restored or started afresh cannot meet an old file)."""
    token = salted_hmac(
        "messaging.printing.stored_pdf_name", f"{batch.pk}:{batch.idempotency_key}"
    ).hexdigest()[:32]
    return f"print-batches/{token}.pdf"


def has_stored_pdf(batch: PrintBatch) -> bool:
    return private_storage().exists(stored_pdf_name(batch))


def open_stored_pdf(batch: PrintBatch):
    """The stored PDF opened for reading, or None while it is not there."""
    storage = private_storage()
    name = stored_pdf_name(batch)
    if not storage.exists(name):
        return None
    try:
        return storage.open(name, "rb")
    except FileNotFoundError:  # removed in between
        return None


def _pending_key(batch_id: int) -> str:
    return f"messaging:print-pdf-pending:{batch_id}"


def request_batch_pdf(batch: PrintBatch) -> None:
    """Queue the PDF's rendering (after commit) unless it is queued already."""
    if cache.add(_pending_key(batch.pk), True, RENDER_PENDING_SECONDS):
        enqueue_on_commit("messaging.tasks.render_print_batch_pdf", batch.pk)


# Where the batch's PDF is, as the batch page says it.
PDF_READY = "ready"
PDF_PREPARING = "preparing"
# Not stored and not on its way: removed once every letter was delivered.
PDF_NOT_MADE = "not_made"


def batch_pdf_state(batch: PrintBatch) -> str:
    """Whether the PDF is stored, being rendered, or neither. Changes nothing."""
    if has_stored_pdf(batch):
        return PDF_READY
    if cache.get(_pending_key(batch.pk)):
        return PDF_PREPARING
    return PDF_NOT_MADE


def ensure_batch_pdf(batch: PrintBatch) -> str:
    """The PDF's state for the batch page, queueing the rendering first when a
    batch with letters still to hand out has no PDF on its way (its task was
    lost, or the file removed), so "being prepared" is always true. A delivered
    batch's PDF is made again only when someone downloads it."""
    state = batch_pdf_state(batch)
    if state == PDF_NOT_MADE and batch.delivered_at is None:
        request_batch_pdf(batch)
        state = PDF_PREPARING
    return state


def render_and_store_batch_pdf(batch_id: int) -> str:
    """The task body: merge the batch's PDF into private storage. Safe to run
    twice: a PDF already stored is kept."""
    try:
        batch = PrintBatch.objects.select_related("facility").filter(pk=batch_id).first()
        if batch is None:
            return "missing"
        storage = private_storage()
        name = stored_pdf_name(batch)
        if storage.exists(name):
            return "exists"
        # On disk while it is written: memory holds one letter at a time.
        with tempfile.TemporaryFile() as merged:
            pages = write_batch_pdf(batch, merged)
            size = merged.tell()
            merged.seek(0)
            if storage.exists(name):  # another run finished while this one merged
                return "exists"
            stored_name = storage.save(name, File(merged, name=Path(name).name))
        if stored_name != name:
            # Two runs saved at once; storage gave this one another name.
            storage.delete(stored_name)
        logger.info(
            "print batch PDF stored", extra={"batch_id": batch_id, "pages": pages, "bytes": size}
        )
        return "rendered"
    finally:
        cache.delete(_pending_key(batch_id))


def discard_stored_pdf(batch: PrintBatch) -> None:
    """Remove the stored PDF (the letters are delivered; it can be rendered again)."""
    private_storage().delete(stored_pdf_name(batch))
