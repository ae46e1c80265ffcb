"""Deleting stored files past their retention period, for each app's daily job
(messaging.retention: letter scans; profiles.retention: rejected originals)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)

# Rows locked and files deleted per transaction: short locks, bounded work.
BATCH_SIZE = 200


def purge_files(expired: QuerySet, field_name: str, batch_size: int = BATCH_SIZE) -> int:
    """Delete the file in `field_name` of every row `expired` selects, and empty
    the field; returns how many files were deleted.

    `expired` must leave out rows whose field is already empty. Safe to run
    twice, and in two workers at once: rows are locked with SKIP LOCKED, so
    each worker takes different ones, and a purged row is never selected
    again. A file that storage refuses to delete is logged and left for the
    next run.
    """
    model = expired.model
    purged = 0
    failed: set[int] = set()
    while True:
        with transaction.atomic():
            batch = list(
                expired.exclude(pk__in=failed)
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return purged
            done = []
            for row in batch:
                # The file goes first, the field after. A crash in between
                # leaves a row naming a file that is already gone: the next run
                # selects it again, deleting a missing file is a no-op (local
                # and S3 storage alike), and the field is cleared. Clearing the
                # field first could commit while the file stayed, and nothing
                # would ever find that file again.
                stored = getattr(row, field_name)
                try:
                    stored.storage.delete(stored.name)
                except Exception:
                    logger.exception(
                        "could not delete an expired file",
                        extra={"model": model._meta.label, "pk": row.pk},
                    )
                    failed.add(row.pk)
                else:
                    done.append(row.pk)
            model.objects.filter(pk__in=done).update(**{field_name: ""})
        purged += len(done)
