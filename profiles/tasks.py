"""Photo processing tasks (implemented in profiles.photos)."""

from __future__ import annotations

from celery import shared_task


@shared_task
def process_photo(photo_id: int) -> str:
    from profiles.photos import run_photo_processing

    return run_photo_processing(photo_id)
