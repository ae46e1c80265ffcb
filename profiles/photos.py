"""Photo processing: from an uploaded original to the public display and thumbnail.

The original stays in private storage. `process_original` (penpals.images)
is pure (bytes in, bytes out), and that module is the only code that lets
Pillow parse uploaded data;
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

import logging
from datetime import timedelta

from botocore.exceptions import BotoCoreError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_noop

from moderation.models import ModerationItem
from moderation.services import submit_for_review
from penpals.celery import TRANSIENT_ERRORS
from penpals.images import OUTPUT_EXTENSION, PhotoRejected, ProcessedPhoto, process_original
from penpals.tasks import enqueue_on_commit
from profiles.models import ProfilePhoto

logger = logging.getLogger(__name__)

# Stored as the photo's status_reason (English, a record); marked so a page can
# show it translated.
PROCESSING_FAILED = gettext_noop("Processing failed; please upload the photo again.")
ORIGINAL_MISSING = gettext_noop(
    "The uploaded file could not be found; please upload the photo again."
)

# Errors worth retrying: the database, broker or storage is away for a while.
# The task retries these (profiles.tasks); anything else is final.
RETRYABLE_ERRORS = (*TRANSIENT_ERRORS, OSError, BotoCoreError)

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
        summary=f"{photo.profile.display_name} ({processed.width}×{processed.height})",
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
