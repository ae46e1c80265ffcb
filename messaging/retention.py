"""How long scanned replies are kept, and their deletion (a daily beat job).

A reply's scanned pages are deleted settings.LETTER_SCAN_RETENTION_DAYS after
the reply reached its end: read by the pen pal, rejected by a moderator,
approved but never opened (counted from the approval), or stranded in review
by a correspondence that closed (counted from the closing). A reply still in
review in an open correspondence is never touched.

The letter, its transcription and each LetterScan row (page number, type,
size) stay for the audit trail; only the file goes, and the row's `file`
becomes empty. An empty `file` is how pages know a scan was removed (see
messaging.templatetags.scan_retention).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.models import LetterScan

logger = logging.getLogger(__name__)

# Rows locked and files deleted per transaction: short locks, bounded work.
BATCH_SIZE = 200


def expired_scans() -> QuerySet[LetterScan]:
    """Scans whose file is still stored and whose retention period has passed."""
    cutoff = timezone.now() - timedelta(days=settings.LETTER_SCAN_RETENTION_DAYS)
    return (
        LetterScan.objects.exclude(file="")
        .annotate(
            # A letter reaches only one of read, rejected or approved-unread;
            # closed_at comes last, for replies a closing left in review.
            retention_starts_at=Coalesce(
                "letter__read_at",
                "letter__rejected_at",
                "letter__approved_at",
                "letter__correspondence__closed_at",
            )
        )
        .filter(retention_starts_at__lt=cutoff)
    )


def purge_expired_scans(batch_size: int = BATCH_SIZE) -> int:
    """Delete the stored files of expired scans; returns how many were deleted.

    Safe to run twice, and in two workers at once: rows are locked with SKIP
    LOCKED, so each worker takes different ones, and a purged row (empty
    `file`) is never selected again. A file that storage refuses to delete is
    logged and left for the next run.
    """
    purged = 0
    failed: set[int] = set()
    while True:
        with transaction.atomic():
            batch = list(
                expired_scans()
                .exclude(pk__in=failed)
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return purged
            done = []
            for scan in batch:
                # The file goes first, the field after. A crash in between
                # leaves a row naming a file that is already gone: the next run
                # selects it again, deleting a missing file is a no-op (local
                # and S3 storage alike), and the field is cleared. Clearing the
                # field first could commit while the file stayed, and nothing
                # would ever find that file again.
                try:
                    scan.file.storage.delete(scan.file.name)
                except Exception:
                    logger.exception("could not delete an expired scan", extra={"scan": scan.pk})
                    failed.add(scan.pk)
                else:
                    done.append(scan.pk)
            LetterScan.objects.filter(pk__in=done).update(file="")
        purged += len(done)
