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

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.models import LetterScan
from penpals.retention import BATCH_SIZE, purge_files


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
    """Delete the stored files of expired scans; returns how many
    (penpals.retention.purge_files: batched, SKIP LOCKED, file before field)."""
    return purge_files(expired_scans(), "file", batch_size)
