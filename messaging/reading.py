"""Reading a reply's scans: every inbound letter, uploaded alone or split from
a scanning run, comes here (enqueue_reading) instead of straight to screening.

The task (messaging.tasks.read_reply) gives each scanned page a page image
(the page upright, in private storage: what OCR reads and what word boxes and
redactions are measured on), reads it with Tesseract (messaging.ocr), keeps
the pages' texts as the letter's machine transcription, then screens the
letter (messaging.services.screen_letter), which screens that text too.

OCR is a help for the moderator and never a gate: a page it cannot read
is named in an alert, and the letter is screened and goes to a person all
the same.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from dataclasses import dataclass

import pypdfium2 as pdfium
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from PIL import Image, JpegImagePlugin

from messaging import scanpages, services, transcription
from messaging.models import Letter, LetterScan
from messaging.ocr import OcrFailed, ocr_image, stack_readings
from penpals.images import fit_size, fit_within, flatten_onto_white, to_resizable_mode, upright
from penpals.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

# PDF pages are rasterised at the DPI of the scanning runs (messaging.scanpages),
# each at most this many pixels on its longer side (a poster-sized page would
# otherwise be hundreds of megapixels).
PDF_DPI = 200
PDF_PAGE_MAX_SIDE = 3000
# The pages of a PDF scan stacked on its page image; later pages are not read
# by OCR (the moderator reads the PDF itself).
PDF_PAGE_CAP = 10
# Grey space between stacked PDF pages, so the moderator sees where one ends.
PDF_PAGE_GAP = 24
# An image scan's page image is kept at most this large (about 300 DPI for an
# A4 or letter page): a 50-megapixel phone photo gains nothing for OCR.
PAGE_IMAGE_MAX_SIDE = 3600
PAGE_IMAGE_JPEG_QUALITY = 90
# read_reply stops starting new pages after this long, and screens with the
# rest named as unread: a reply whose pages all time out is still screened
# within the task's time limit (messaging.tasks.read_reply).
READING_BUDGET_SECONDS = 600
PDF = "application/pdf"
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg"}
# What can go wrong with a stored page: missing, damaged, too large, not a
# PDF pdfium can render.
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class PageUnreadable(Exception):
    """A scan could not be made into a page image."""


def enqueue_reading(letter: Letter) -> None:
    """Queue the reading (then screening) of inbound `letter` once the
    current transaction commits. Call it where the letter and its scans are
    created, inside that transaction."""
    enqueue_on_commit("messaging.tasks.read_reply", letter.pk)


def read_reply(letter_id: int) -> None:
    """OCR the unread scans of an inbound letter not yet decided, keep the
    machine transcription, and screen the letter. Safe to run twice: pages
    already read are not read again, and a letter already screened is left
    alone. A reply already in review has unread pages when a page joined it
    from triage (messaging.intake.assign_page): it is screened again, and its
    pending item shows what the new page says."""
    letter = Letter.objects.inbound().filter(pk=letter_id).first()
    if letter is None or letter.status not in (Letter.Status.SUBMITTED, Letter.Status.IN_REVIEW):
        return
    if (
        letter.status == Letter.Status.IN_REVIEW
        and not letter.scans.filter(ocr_at__isnull=True).exists()
    ):
        return
    deadline = time.monotonic() + READING_BUDGET_SECONDS
    for scan in letter.scans.filter(ocr_at__isnull=True).order_by("page"):
        if time.monotonic() > deadline:
            logger.warning("reading letter %s ran out of time at page %s", letter_id, scan.page)
            break
        read_scan(scan)
    texts = (
        letter.scans.filter(ocr_at__isnull=False)
        .order_by("page")
        .values_list("ocr__text", flat=True)
    )
    Letter.objects.filter(pk=letter.pk).update(
        machine_transcription="\n\n".join(text for text in texts if text)
    )
    unread = list(
        letter.scans.filter(ocr_at__isnull=True).order_by("page").values_list("page", flat=True)
    )
    if letter.status == Letter.Status.SUBMITTED:
        services.screen_letter(letter.pk, ocr_failed_pages=unread)
    else:
        transcription.rescreen_reply_in_review(letter.pk)


def read_scan(scan: LetterScan) -> bool:
    """Give `scan` a page image if it has none, and OCR it; False when it
    could not be read (logged; the caller names the page to the moderator)."""
    try:
        page = page_image_of(scan)
    except PageUnreadable:
        logger.warning("scan %s could not be made into a page image", scan.pk, exc_info=True)
        return False
    try:
        reading = read_page(page)
    except OcrFailed:
        logger.exception("OCR failed on scan %s", scan.pk)
        return False
    with transaction.atomic():
        locked = (
            LetterScan.objects.select_for_update().filter(pk=scan.pk, ocr_at__isnull=True).first()
        )
        if locked is None:
            return True  # another run read it first, or the scan is gone
        locked.ocr = reading
        locked.ocr_at = timezone.now()
        locked.width, locked.height = page.image.size
        locked.save(update_fields=["ocr", "ocr_at", "width", "height"])
    return True


@dataclass
class PageImage:
    image: Image.Image
    # Where each page of the source lies on the image ([x, y, w, h]): one
    # region for an image, one per rasterised page for a PDF.
    regions: list[tuple[int, int, int, int]]


def read_page(page: PageImage) -> dict:
    """The `ocr` JSON of a page image. A stacked PDF is read page by page:
    Tesseract is quicker and lays out text better on one page at a time."""
    if len(page.regions) <= 1:
        return ocr_image(page.image)
    return stack_readings(
        [(ocr_image(page.image.crop((x, y, x + w, y + h))), x, y) for x, y, w, h in page.regions]
    )


def page_image_of(scan: LetterScan) -> PageImage:
    """The scan's page image: the stored one, or one made now and stored
    (the first run to store one wins; a later run's copy is deleted)."""
    if scan.page_image:
        try:
            image = _decode(scan.page_image, reduce=False)
        except _UNREADABLE as exc:
            raise PageUnreadable(str(exc)) from exc
        # Read whole: a stored PDF page image (a run cut short after storing
        # it) no longer says where its pages meet; it is read as one page.
        return PageImage(image, [(0, 0, *image.size)])
    if not scan.file:
        raise PageUnreadable("the scan was deleted")
    try:
        if scan.content_type == PDF:
            page = _stacked_pdf_pages(scan.file)
            encoded, extension = _encode(page.image, "JPEG"), ".jpg"
        else:
            image = _decode(scan.file, reduce=True)
            # PNG stays lossless (a typed page, a clean scan); a photo stays JPEG.
            kind = "PNG" if image.format == "PNG" else "JPEG"
            upright_image = _upright_page(image)
            page = PageImage(upright_image, [(0, 0, *upright_image.size)])
            encoded, extension = _encode(upright_image, kind), EXTENSIONS[kind]
    except (*_UNREADABLE, pdfium.PdfiumError) as exc:
        raise PageUnreadable(str(exc)) from exc
    _store_page_image(scan, encoded, extension, page.image.size)
    return page


def _store_page_image(
    scan: LetterScan, encoded: bytes, extension: str, size: tuple[int, int]
) -> None:
    field: FieldFile = scan.page_image
    field.save(f"page{extension}", ContentFile(encoded), save=False)
    with transaction.atomic():
        stored = LetterScan.objects.filter(pk=scan.pk, page_image="").update(
            page_image=field.name, width=size[0], height=size[1]
        )
    if not stored:
        # Another run stored the same page first, or the scan was deleted.
        field.storage.delete(str(field.name))


def _decode(stored: FieldFile, *, reduce: bool) -> Image.Image:
    """A stored JPEG or PNG, decoded within the pixel limit of uploads. With
    `reduce`, a JPEG much larger than a page image needs is decoded smaller
    (libjpeg's scaling); a stored page image is decoded as it is, since its
    pixels are what boxes are measured in."""
    with stored.storage.open(str(stored.name), "rb") as handle:
        content = handle.read()
    # Pillow's bomb check warns before it errors: make it an error (workers
    # run one task per process, so the filter touches nothing else).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content), formats=("JPEG", "PNG"))
        except Image.DecompressionBombWarning as exc:
            raise ValueError(str(exc)) from exc
        if image.width * image.height > settings.PHOTO_MAX_PIXELS:
            raise ValueError(f"{image.width} x {image.height} pixels is too large")
        if reduce and isinstance(image, JpegImagePlugin.JpegImageFile):
            image.draft("RGB", fit_size(image.size, PAGE_IMAGE_MAX_SIDE))
        image.load()
    return image


def _upright_page(image: Image.Image) -> Image.Image:
    """Turned as the camera or scanner said (EXIF), at most PAGE_IMAGE_MAX_SIDE,
    and only pixels: no metadata reaches the page image. Then stood upright
    and straightened by the page engine (messaging.scanpages), as scanning
    runs are: a page photographed sideways, with no EXIF to say so, is read
    the right way up."""
    image = fit_within(upright(to_resizable_mode(image)), PAGE_IMAGE_MAX_SIDE)
    if image.mode != "L":
        image = flatten_onto_white(image)
    return scanpages.read_page(image).image


def _encode(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    if kind == "PNG":
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=PAGE_IMAGE_JPEG_QUALITY)
    return buffer.getvalue()


def _stacked_pdf_pages(stored: FieldFile) -> PageImage:
    """The first PDF_PAGE_CAP pages of a PDF scan at PDF_DPI, one under the
    other, centred, on one RGB image."""
    with stored.storage.open(str(stored.name), "rb") as handle:
        content = handle.read()
    pdf = pdfium.PdfDocument(content)
    try:
        pages: list[tuple[float, tuple[int, int]]] = []
        for index in range(min(len(pdf), PDF_PAGE_CAP)):
            width, height = pdf[index].get_size()  # points, the page's rotation applied
            scale = min(PDF_DPI / 72, PDF_PAGE_MAX_SIDE / max(width, height, 1))
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            # Pages stop at the pixel limit of uploads, as they stop at the cap.
            if pages and _stacked_pixels([*pages, (scale, size)]) > settings.PHOTO_MAX_PIXELS:
                break
            pages.append((scale, size))
        if not pages:
            raise ValueError("the PDF has no pages")
        canvas_width = max(size[0] for _, size in pages)
        canvas_height = sum(size[1] for _, size in pages) + PDF_PAGE_GAP * (len(pages) - 1)
        canvas = Image.new("RGB", (canvas_width, canvas_height), (204, 204, 204))
        regions = []
        top = 0
        # One page rendered at a time: the canvas is the only large image held.
        for index, (scale, size) in enumerate(pages):
            rendered = pdf[index].render(scale=scale).to_pil().convert("RGB")
            if rendered.size != size:
                rendered = rendered.resize(size)
            left = (canvas_width - size[0]) // 2
            canvas.paste(rendered, (left, top))
            regions.append((left, top, *size))
            top += size[1] + PDF_PAGE_GAP
    finally:
        pdf.close()
    return PageImage(canvas, regions)


def _stacked_pixels(pages: list[tuple[float, tuple[int, int]]]) -> int:
    width = max(size[0] for _, size in pages)
    return width * (sum(size[1] for _, size in pages) + PDF_PAGE_GAP * (len(pages) - 1))
