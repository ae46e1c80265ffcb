"""Photo processing: from an uploaded original to the public display and thumbnail.

The original stays in private storage. `process_original` is pure (bytes in,
bytes out) and is the only code that lets Pillow parse uploaded data;
`run_photo_processing` is the task body that loads the row, calls it and
records the outcome; `sweep_unprocessed_photos` re-sends photos whose task was
lost or whose worker died.

Choices, so the people building pages know what to expect:

- Accepted: JPEG, PNG and WebP, recognised by content. Pillow is only ever
  asked for those three decoders, so a file posing as a photo can never reach
  the TIFF, PSD or other parsers. Animated PNG and WebP keep their first frame.
- Output: WebP (every browser we support shows it), always RGB. Transparency
  is flattened onto white, which is how a transparent picture looks on our
  pages anyway and spares the templates an alpha case.
- Display: longest side at most 1200 px, never enlarged. `width` and `height`
  on the photo are the display's, for the <img> attributes.
- Thumbnail: fits within 320 x 320, aspect kept and never cropped, so a face
  is never cut off; pages wanting a square use CSS `object-fit: cover`.
- Metadata: none. The pixels are re-encoded into a fresh image without EXIF
  (GPS included), ICC or XMP, and the encoded file is checked for those
  chunks. An embedded ICC profile is dropped, not applied: applying it would
  hand uploaded data to LittleCMS, and sRGB is what nearly every camera
  writes.
- Memory: a baseline JPEG is decoded at a reduced scale (libjpeg's DCT
  scaling, through Pillow's draft mode), so a 50-megapixel photo costs under
  30 MB. The rest cannot be scaled while decoding: a progressive JPEG keeps
  every DCT coefficient (2 bytes a sample), and PNG and WebP decode at full
  size, measured at up to 9 and 16 bytes a pixel. Those are refused, with a
  reason, when the estimate passes DECODE_MEMORY_BUDGET (300 MB). No camera
  photo is affected (cameras write baseline JPEG, and a large photo saved as
  PNG or WebP would be over the upload limit); a file crafted to be small on
  disk and huge in memory is.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import warnings
import zlib
from dataclasses import dataclass
from datetime import timedelta

from botocore.exceptions import BotoCoreError
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from moderation.models import ModerationItem
from moderation.services import submit_for_review
from penpals.celery import TRANSIENT_ERRORS
from penpals.filetypes import HEAD_BYTES, JPEG, PNG, WEBP, sniff
from penpals.tasks import enqueue_on_commit
from profiles.models import ProfilePhoto

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# The most memory one decode may need, estimated from the header before decoding.
DECODE_MEMORY_BUDGET = 300_000_000
# Peak memory measured per pixel when decoding and resizing these (worst mode: PNG with alpha).
FULL_SIZE_DECODE_BYTES_PER_PIXEL = {"PNG": 9, "WEBP": 16}
DISPLAY_MAX_SIDE = 1200
THUMBNAIL_MAX_SIDE = 320
DISPLAY_QUALITY = 82
THUMBNAIL_QUALITY = 80
OUTPUT_FORMAT = "WEBP"
OUTPUT_EXTENSION = ".webp"

NOT_AN_IMAGE = "This file is not a JPEG, PNG or WebP image."
DAMAGED = "This image file is damaged or incomplete."
EMPTY = "This file is empty."
PROCESSING_FAILED = "Processing failed; please upload the photo again."
ORIGINAL_MISSING = "The uploaded file could not be found; please upload the photo again."

# Errors worth retrying: the database, broker or storage is away for a while.
# The task retries these (profiles.tasks); anything else is final.
RETRYABLE_ERRORS = (*TRANSIENT_ERRORS, OSError, BotoCoreError)

# What Pillow and the libraries under it raise for malformed input.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
# The EXIF block is parsed again for orientation; a mangled one is ignored.
_EXIF_ERRORS = (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)
_METADATA_CHUNKS = (b"EXIF", b"ICCP", b"XMP ")


class PhotoRejected(Exception):
    """The upload is not a photo we can publish; str() is the reason shown to the liaison."""


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes
    thumbnail: bytes
    format: str
    width: int
    height: int


# --- The pure part: bytes in, bytes out ------------------------------------------------


def process_original(
    original, *, max_bytes: int | None = None, max_pixels: int | None = None
) -> ProcessedPhoto:
    """Validate an original and make its public display and thumbnail.

    `original` is a binary file object. Raises PhotoRejected with a reason a
    liaison can act on. Errors reading `original` itself (storage) propagate
    unchanged so the caller can retry them; everything Pillow does happens on
    an in-memory copy, so its errors are always about the content.
    """
    max_bytes = settings.PHOTO_MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    max_pixels = settings.PHOTO_MAX_PIXELS if max_pixels is None else max_pixels
    content = read_at_most(original, max_bytes)
    image = decode(content, max_pixels)
    display = make_display(image)
    thumbnail = fit_within(display, THUMBNAIL_MAX_SIDE)
    return ProcessedPhoto(
        display=encode_without_metadata(display, DISPLAY_QUALITY),
        thumbnail=encode_without_metadata(thumbnail, THUMBNAIL_QUALITY),
        format=OUTPUT_FORMAT,
        width=display.width,
        height=display.height,
    )


def read_at_most(original, max_bytes: int) -> bytes:
    # One byte more than allowed tells "too big" apart without reading all of it.
    content = original.read(max_bytes + 1)
    if not content:
        raise PhotoRejected(EMPTY)
    if len(content) > max_bytes:
        raise PhotoRejected(
            f"This file is larger than {max_bytes / 1_000_000:g} MB, the most we accept for a photo."
        )
    return content


def decode(content: bytes, max_pixels: int) -> Image.Image:
    """Identify and decode the image; return it loaded, at reduced scale for JPEG."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched it on for the whole process; half an image would be
        # published as if whole, so refuse to work rather than comply.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False.")
    too_many_pixels = (
        f"This image has more pixels than we can safely process; "
        f"the most we accept is {max_pixels / 1_000_000:g} megapixels."
    )
    # Pillow's own bomb check warns before it errors; make the warning an
    # error too, for this block only (catch_warnings restores the filters; it
    # is not thread-safe, and workers run one task per process).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content), formats=ACCEPTED_FORMATS)
            check_size_limits(image, max_pixels)
            decode_reduced(image)
        except UnidentifiedImageError:
            # Pillow says the same of a zip and of a JPEG whose header is cut short.
            reason = DAMAGED if has_accepted_signature(content) else NOT_AN_IMAGE
            raise PhotoRejected(reason) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRejected(too_many_pixels) from None
        except _DECODE_ERRORS:
            raise PhotoRejected(DAMAGED) from None
    return image


def has_accepted_signature(content: bytes) -> bool:
    """Whether the file starts like a JPEG, PNG or WebP, whatever follows."""
    return sniff(content[:HEAD_BYTES]) in (JPEG, PNG, WEBP)


def check_size_limits(image: Image.Image, max_pixels: int) -> None:
    # The size comes from the header: nothing has been decoded yet.
    width, height = image.size
    if width * height > max_pixels:
        raise PhotoRejected(
            f"This image is {width} × {height} pixels; "
            f"the most we accept is {max_pixels / 1_000_000:g} megapixels."
        )
    if estimated_decode_bytes(image) > DECODE_MEMORY_BUDGET:
        kind = (
            "progressive JPEG"
            if isinstance(image, JpegImageFile)
            else {"PNG": "PNG", "WEBP": "WebP"}[str(image.format)]
        )
        raise PhotoRejected(
            f"This {kind} image is {width} × {height} pixels, too large to process safely in "
            f"that format; save it as a standard JPEG, or at a smaller size, and upload it again."
        )


def estimated_decode_bytes(image: Image.Image) -> int:
    """Memory the decode will need beyond a small baseline, from the header alone."""
    width, height = image.size
    if not isinstance(image, JpegImageFile):
        return width * height * FULL_SIZE_DECODE_BYTES_PER_PIXEL[str(image.format)]
    if not image.info.get("progressive"):
        return 0  # decoded at reduced scale: a few tens of MB whatever the size
    # libjpeg buffers every coefficient of a progressive JPEG at full resolution,
    # 2 bytes a sample, for each component at its own sampling.
    layers = image.layer  # (component id, horizontal sampling, vertical sampling, table)
    max_h = max(layer[1] for layer in layers)
    max_v = max(layer[2] for layer in layers)
    return sum(
        2 * math.ceil(width * layer[1] / max_h) * math.ceil(height * layer[2] / max_v)
        for layer in layers
    )


def decode_reduced(image: Image.Image) -> None:
    # JpegImageFile covers MPO too (a JPEG with extra frames).
    if isinstance(image, JpegImageFile):
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding; ask for the display
        # size (aspect kept) so a 50-megapixel photo decodes to a few megapixels.
        # A square request would decode a long panorama at full size.
        image.draft("RGB", fit_size(image.size, DISPLAY_MAX_SIDE))
    image.load()


def make_display(image: Image.Image) -> Image.Image:
    resized = fit_within(to_resizable_mode(image), DISPLAY_MAX_SIDE)
    # Rotating after the resize touches far fewer pixels; resize keeps the
    # image's info, EXIF block included, so the orientation is still known.
    return flatten_onto_white(upright(resized))


def to_resizable_mode(image: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA: the modes Lanczos resizing handles well."""
    if image.mode in ("L", "LA", "RGB", "RGBA") and "transparency" not in image.info:
        return image
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale to 8 bits (a plain convert would clip to white).
        return image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    size = fit_size(image.size, max_side)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except _EXIF_ERRORS:
        # A mangled EXIF block: the pixels are fine, show them as stored.
        return image


def flatten_onto_white(image: Image.Image) -> Image.Image:
    """A fresh RGB image holding only the pixels: no info, EXIF, ICC or XMP."""
    clean = Image.new("RGB", image.size, "white")
    if image.mode in ("LA", "RGBA"):
        clean.paste(image.convert("RGB"), mask=image.getchannel("A"))
    else:
        clean.paste(image.convert("RGB"))
    return clean


def encode_without_metadata(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    # No exif=, icc_profile= or xmp=: the writer adds only what it is given.
    image.save(buffer, OUTPUT_FORMAT, quality=quality, method=4)
    encoded = buffer.getvalue()
    leaked = set(webp_chunk_ids(encoded)) & set(_METADATA_CHUNKS)
    if leaked:
        raise RuntimeError(f"Encoded photo still carries metadata chunks {sorted(leaked)}.")
    return encoded


def webp_chunk_ids(encoded: bytes):
    """The ids of a WebP file's top-level RIFF chunks (VP8, VP8X, EXIF, ICCP...)."""
    position = 12  # after "RIFF", the length and "WEBP"
    while position + 8 <= len(encoded):
        chunk_id = encoded[position : position + 4]
        length = int.from_bytes(encoded[position + 4 : position + 8], "little")
        yield chunk_id
        position += 8 + length + (length & 1)


# --- The task body ---------------------------------------------------------------------

_FINISHED = (ProfilePhoto.Status.READY, ProfilePhoto.Status.REJECTED)


def run_photo_processing(photo_id: int) -> str:
    """Process one uploaded photo; safe to run twice or concurrently.

    Retryable errors (database, broker, storage) propagate for the task to
    retry; any other unexpected error marks the photo FAILED and is logged.
    """
    if not claim_photo(photo_id):
        return "skipped"
    try:
        return process_claimed_photo(photo_id)
    except FileNotFoundError:
        logger.exception("photo original missing", extra={"photo_id": photo_id})
        mark_failed(photo_id, ORIGINAL_MISSING)
        return "failed"
    except RETRYABLE_ERRORS:
        raise
    except Exception:
        logger.exception("photo processing failed", extra={"photo_id": photo_id})
        mark_failed(photo_id, PROCESSING_FAILED)
        return "failed"


@transaction.atomic
def claim_photo(photo_id: int) -> bool:
    """Mark the photo PROCESSING (committed, so the liaison sees it). False if there is nothing to do."""
    photo = ProfilePhoto.objects.select_for_update().filter(pk=photo_id).first()
    if photo is None or photo.status in _FINISHED:
        return False
    if photo.status != ProfilePhoto.Status.PROCESSING:
        photo.status = ProfilePhoto.Status.PROCESSING
        photo.status_reason = ""
        photo.save(update_fields=["status", "status_reason"])
    return True


@transaction.atomic
def process_claimed_photo(photo_id: int) -> str:
    # The row lock is held until the outcome commits: a second run waits here
    # and then finds the photo finished, and the sweep (skip_locked) can tell
    # a live run from one whose worker died.
    photo = (
        ProfilePhoto.objects.select_for_update(of=("self",))
        .select_related("profile__facility")
        .filter(pk=photo_id)
        .first()
    )
    if photo is None or photo.status in _FINISHED:
        return "skipped"
    try:
        with photo.original.open("rb") as original:
            processed = process_original(original)
    except PhotoRejected as rejection:
        record_rejection(photo, str(rejection))
        return "rejected"
    publish_variants(photo, processed)
    submit_for_review(
        photo,
        ModerationItem.Kind.PHOTO,
        facility=photo.profile.facility,
        summary=f"Photo of {photo.profile.display_name} ({processed.width}×{processed.height})",
    )
    return "ready"


def record_rejection(photo: ProfilePhoto, reason: str) -> None:
    # The original stays in private storage for the audit; nothing public exists.
    logger.info("photo rejected", extra={"photo_id": photo.pk, "reason": reason})
    photo.status = ProfilePhoto.Status.REJECTED
    photo.status_reason = reason[:300]
    photo.processed_at = timezone.now()
    photo.save(update_fields=["status", "status_reason", "processed_at"])


def publish_variants(photo: ProfilePhoto, processed: ProcessedPhoto) -> None:
    display_name, thumbnail_name = variant_names(photo)
    store_exactly(photo.display.storage, display_name, processed.display)
    store_exactly(photo.thumbnail.storage, thumbnail_name, processed.thumbnail)
    photo.display.name = display_name
    photo.thumbnail.name = thumbnail_name
    photo.width = processed.width
    photo.height = processed.height
    photo.status = ProfilePhoto.Status.READY
    photo.status_reason = ""
    photo.processed_at = timezone.now()
    photo.save(
        update_fields=[
            "display",
            "thumbnail",
            "width",
            "height",
            "status",
            "status_reason",
            "processed_at",
        ]
    )


def variant_names(photo: ProfilePhoto) -> tuple[str, str]:
    """Public file names: unguessable, and the same on every run for this photo.

    Derived from the original's random private name with the secret key, so a
    run that died after writing its files overwrites them on the next run
    instead of leaving orphans, and nobody can find an unapproved photo's URL.
    """
    token = salted_hmac(
        "profiles.photos.variant_names", photo.original.name, algorithm="sha256"
    ).hexdigest()[:32]
    return (
        f"photos/display/{token}{OUTPUT_EXTENSION}",
        f"photos/thumbs/{token}{OUTPUT_EXTENSION}",
    )


def store_exactly(storage, name: str, content: bytes) -> None:
    # Storages pick a new name when one is taken; replace a file left by an
    # earlier, interrupted run instead. The row lock keeps runs from racing here.
    if storage.exists(name):
        storage.delete(name)
    stored_name = storage.save(name, ContentFile(content))
    if stored_name != name:
        raise RuntimeError(f"Storage saved {name!r} as {stored_name!r}.")


def mark_failed(photo_id: int, reason: str) -> None:
    ProfilePhoto.objects.filter(pk=photo_id).exclude(status__in=_FINISHED).update(
        status=ProfilePhoto.Status.FAILED, status_reason=reason, processed_at=timezone.now()
    )


# --- The sweep -------------------------------------------------------------------------

# An upload's task normally starts within seconds; one still waiting after this was lost.
UPLOADED_GRACE = timedelta(minutes=1)
# Processing takes seconds; PROCESSING this long after the upload, with no run
# holding the row lock, means the worker died (or a retry is still waiting).
PROCESSING_GRACE = timedelta(minutes=15)
SWEEP_BATCH_SIZE = 200


@transaction.atomic
def sweep_unprocessed_photos() -> int:
    """Re-send photos whose task was lost or whose worker died; returns how many."""
    now = timezone.now()
    Status = ProfilePhoto.Status
    stuck = (
        ProfilePhoto.objects.filter(
            Q(status=Status.UPLOADED, created_at__lt=now - UPLOADED_GRACE)
            | Q(status=Status.PROCESSING, created_at__lt=now - PROCESSING_GRACE)
        )
        .order_by("created_at")
        # A live run holds its row lock; skipping locked rows leaves it alone.
        .select_for_update(skip_locked=True)
    )
    photo_ids = list(stuck.values_list("pk", flat=True)[:SWEEP_BATCH_SIZE])
    for photo_id in photo_ids:
        enqueue_on_commit("profiles.tasks.process_photo", photo_id)
    if photo_ids:
        logger.info("re-sent unprocessed photos", extra={"count": len(photo_ids)})
    return len(photo_ids)
