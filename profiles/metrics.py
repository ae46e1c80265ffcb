"""The worker's photo timing on /metrics (wraps profiles.tasks.process_photo)."""

from __future__ import annotations

from penpals.metrics import Timing

# Seconds. A phone photo takes well under a second; a 60-megapixel one, a few.
PHOTO_PROCESSING = Timing(
    "penpals_photo_processing_seconds",
    "Time the worker took to process one uploaded photo (profiles.tasks.process_photo).",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
