"""Photo processing tasks (implemented in profiles.photos)."""

from __future__ import annotations

from celery import shared_task

from profiles import photos, retention, search_words, services
from profiles.metrics import PHOTO_PROCESSING
from profiles.photos import RETRYABLE_ERRORS


# Besides the database and broker, storage errors (a full disk, S3 away) are
# retried: the task is idempotent, and the photo keeps its place meanwhile.
@shared_task(autoretry_for=RETRYABLE_ERRORS)
def process_photo(photo_id: int) -> str:
    with PHOTO_PROCESSING.time():
        return photos.run_photo_processing(photo_id)


@shared_task
def sweep_unprocessed_photos() -> int:
    """Re-send photos whose processing task was lost (scheduled by beat)."""
    return photos.sweep_unprocessed_photos()


@shared_task
def expire_profiles() -> int:
    """Pause listings whose period ended (scheduled daily by beat)."""
    return services.expire_profiles()


@shared_task
def purge_rejected_photo_originals() -> int:
    """Delete rejected photos' originals past REJECTED_PHOTO_RETENTION_DAYS (daily, beat)."""
    return retention.purge_rejected_originals()


@shared_task
def refresh_search_words() -> None:
    """Rebuild the vocabulary of typo-tolerant search (after public changes, and by beat)."""
    search_words.refresh()
