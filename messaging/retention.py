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

The pages of scanning runs that never became part of a reply (blank,
duplicate, discarded, or still waiting in triage) are purged on the same
schedule, counted from when the page was received (`purge_expired_scan_pages`).
A page in a reply shares its stored file with its LetterScan: the file goes
with the scan, and the page only forgets the name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.models import LetterScan, ScanPage
from penpals.retention import BATCH_SIZE, purge_files
from profiles.models import Facility

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
    purged = sum(
        purge_files(expired_scans(field_name), field_name, batch_size)
        for field_name in SCAN_FILE_FIELDS
    )
    # After the scans: a page in a reply forgets the file its scan just deleted.
    return purged + purge_expired_scan_pages(batch_size)


# --- Pages of scanning runs outside replies ---------------------------------------------------

PageState = ScanPage.State
# A page in one of these states is in no reply: its image is its own, never a
# scan's (messaging.intake shares a file only when a page joins a reply, and
# a page never leaves REPLY).
UNSHARED_PAGE_STATES = (PageState.BLANK, PageState.DUPLICATE, PageState.DISCARDED)
# A page waiting in triage may be someone's reply, so it is kept while it
# waits, but not for ever: a page nobody sorted within the retention period
# is discarded (and its image deleted) this much later. A month is enough
# for a facility to notice a forgotten triage list, and keeps an unsorted
# page, as private as any reply, from outliving every reply around it by more.
TRIAGE_GRACE = timedelta(days=30)


def _received_before() -> datetime:
    return timezone.now() - timedelta(days=settings.LETTER_SCAN_RETENTION_DAYS)


def expired_scan_pages() -> QuerySet[ScanPage]:
    """Pages in no reply whose image is still stored and was received longer
    than the retention period ago. Counted from the page's arrival (not from
    a liaison discarding it): none of them ever reaches a pen pal."""
    return ScanPage.objects.exclude(image="").filter(
        state__in=UNSHARED_PAGE_STATES, created_at__lt=_received_before()
    )


def unsorted_expired_pages() -> QuerySet[ScanPage]:
    """Pages still waiting in triage past the retention period and its grace."""
    return ScanPage.objects.filter(
        state=PageState.TRIAGE, created_at__lt=_received_before() - TRIAGE_GRACE
    )


def discard_unsorted_pages() -> int:
    """Take pages nobody sorted in time out of triage (discarded, by nobody),
    so expired_scan_pages then finds them; returns how many.

    Under the facility's lock, as messaging.intake.assign_page and
    discard_page take it: a page being put in a reply at this moment is
    either in it already (REPLY, left alone) or found discarded by the
    liaison's request, which then says it is no longer waiting. Discarded
    first and purged after: a failure in between leaves a discarded page
    whose image the next run deletes, never a page in triage without one."""
    discarded = 0
    facility_ids = set(unsorted_expired_pages().values_list("facility_id", flat=True))
    for facility_id in sorted(facility_ids):
        with transaction.atomic():
            Facility.objects.select_for_update().filter(pk=facility_id).values_list("pk").first()
            discarded += (
                unsorted_expired_pages()
                .filter(facility_id=facility_id)
                .update(state=PageState.DISCARDED, resolved_at=timezone.now(), resolved_by=None)
            )
    return discarded


def forget_purged_reply_pages() -> int:
    """Empty the image of pages in a reply whose scan's file was deleted on
    schedule (the same stored file: deleted once, by the scan's purge).
    Returns how many pages forgot their image."""
    still_named = LetterScan.objects.filter(letter=OuterRef("letter_id")).filter(
        Q(file=OuterRef("image")) | Q(page_image=OuterRef("image"))
    )
    purged_letters = LetterScan.objects.filter(file="").values("letter_id")
    return (
        ScanPage.objects.filter(state=PageState.REPLY, letter__in=purged_letters)
        .exclude(image="")
        .exclude(Exists(still_named))
        .update(image="")
    )


def purge_expired_scan_pages(batch_size: int = BATCH_SIZE) -> int:
    """Delete the images of expired pages in no reply (the rows stay, as the
    record that the page was received), after discarding pages left unsorted
    past the grace period; returns how many files were deleted. A page's
    image view answers 404 once its field is empty."""
    discard_unsorted_pages()
    purged = purge_files(expired_scan_pages(), "image", batch_size)
    forget_purged_reply_pages()
    return purged
