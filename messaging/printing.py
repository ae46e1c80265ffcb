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

The PDF renders in a Celery task (messaging.tasks.render_print_batch_pdf)
into private storage, not in the request. Measured on the 2-core development
machine (shared with other work): 200 letters of about 1,500 characters (400
pages) take about 49 s, and 200 letters at the 13,000-character limit (1,200
pages) 137-165 s with a peak of 440 MB; 20 short letters take about 4 s. That
is far beyond what a request may take, and well inside the task's limits. The task starts when the batch is made; the download view
serves the stored file, or asks for it again if it is missing (task lost,
file removed once the batch was delivered) and shows a page that refreshes
until it is there. The stored PDF is what was printed; the print view always
shows the current data.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac
from django.utils.safestring import SafeString, mark_safe
from PIL import ImageFile

from messaging.models import Letter, PrintBatch
from messaging.reply_sheets import REPLY_SHEET_PAGE, reply_mark_svg
from penpals.tasks import enqueue_on_commit
from profiles.models import private_storage

logger = logging.getLogger(__name__)
# WeasyPrint logs every laid-out page at INFO: thousands of lines per batch.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
# WeasyPrint itself is imported where a PDF is rendered (in the worker): web
# processes never load it.

TEMPLATE = "messaging/print_batch.html"
# While a render is queued or running, asking again does not queue another.
# A render that died leaves this to expire; then the next request queues it anew.
RENDER_PENDING_SECONDS = 5 * 60
# Relative URLs in the page ("/static/css/print.css") resolve against this
# made-up origin; the fetcher maps it back to files and knows no other.
PDF_BASE_URL = "https://penpals-print.invalid/"
# Ruled lines on a reply sheet: what fills the rest of its one page, in either
# language (tests/messaging/test_reply_sheets.py checks the sheet stays one page).
REPLY_SHEET_LINES = 15


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
    return Path(found) if found else None


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


def render_batch_document(batch: PrintBatch):
    """The laid-out WeasyPrint document (its `.pages` are the sheets)."""
    html = render_print_html(batch, for_pdf=True)
    return (
        import_weasyprint()
        .HTML(string=html, base_url=PDF_BASE_URL, url_fetcher=static_files_fetcher())
        .render()
    )


def render_batch_pdf(batch: PrintBatch) -> bytes:
    """The batch as a PDF: each letter from a new page (long letters run on),
    then its reply sheet on a page of its own."""
    return render_batch_document(batch).write_pdf()


def pdf_filename(batch: PrintBatch) -> str:
    return f"batch-{batch.pk}.pdf"


# --- The stored PDF ------------------------------------------------------------------


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
    """The task body: render the batch's PDF into private storage. Safe to run
    twice: a PDF already stored is kept."""
    try:
        batch = PrintBatch.objects.select_related("facility").filter(pk=batch_id).first()
        if batch is None:
            return "missing"
        storage = private_storage()
        name = stored_pdf_name(batch)
        if storage.exists(name):
            return "exists"
        pdf = render_batch_pdf(batch)
        if storage.exists(name):  # another run finished while this one rendered
            return "exists"
        stored_name = storage.save(name, ContentFile(pdf))
        if stored_name != name:
            # Two runs saved at once; storage gave this one another name.
            storage.delete(stored_name)
        logger.info("print batch PDF stored", extra={"batch_id": batch_id, "bytes": len(pdf)})
        return "rendered"
    finally:
        cache.delete(_pending_key(batch_id))


def discard_stored_pdf(batch: PrintBatch) -> None:
    """Remove the stored PDF (the letters are delivered; it can be rendered again)."""
    private_storage().delete(stored_pdf_name(batch))
