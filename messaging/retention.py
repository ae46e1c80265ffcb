"""How long scanned replies are kept, and their deletion (a daily beat job).

A reply's scanned pages are deleted settings.LETTER_SCAN_RETENTION_DAYS after
the reply reached its end: read by the pen pal, rejected by a moderator,
approved but never opened (counted from the approval), or stranded in review
by a correspondence that closed (counted from the closing). A reply still in
review in an open correspondence is never touched.

The letter, its transcription and each LetterScan row (page number, type,
size) stay for the audit trail; only the files go: the scan as received
(`file`), the page image OCR read and redactions are measured on
(`page_image`) and the copy with regions blacked out (`redacted_image`), each
field becoming empty. An empty `file` is how pages know a scan was removed
(see messaging.templatetags.scan_retention).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.models import LetterScan
from penpals.retention import BATCH_SIZE, purge_files

# Every file a scan keeps, all deleted on the same schedule.
SCAN_FILE_FIELDS = ("file", "page_image", "redacted_image")


def expired_scans(field_name: str = "file") -> QuerySet[LetterScan]:
    """Scans whose `field_name` file is still stored and whose retention period has passed."""
    cutoff = timezone.now() - timedelta(days=settings.LETTER_SCAN_RETENTION_DAYS)
    return (
        LetterScan.objects.exclude(**{field_name: ""})
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
    """Delete the stored files of expired scans (each of SCAN_FILE_FIELDS);
    returns how many (penpals.retention.purge_files: batched, SKIP LOCKED,
    file before field). Two fields may name one stored file (intake keeps an
    image page as both `file` and `page_image`): the second delete finds it
    gone, which storage treats as done, and the field is emptied all the same."""
    return sum(
        purge_files(expired_scans(field_name), field_name, batch_size)
        for field_name in SCAN_FILE_FIELDS
    )
