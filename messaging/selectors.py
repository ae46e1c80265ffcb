"""Read-only queries behind the letter pages, for pen pals and liaisons.

Nothing here checks access: the caller has already resolved the pen pal's
correspondence (messaging.access) or the liaison's facility (profiles.access)
and passes it in. Each function runs a fixed number of queries, whatever the
size of the page, so the views' query counts stay pinned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Left
from django.utils import timezone

from messaging.models import (
    Correspondence,
    CorrespondenceQuerySet,
    Letter,
    LetterQuerySet,
    LetterScan,
    PrintBatch,
)
from penpals.models import User
from profiles.models import Facility, InmateProfile, ProfilePhoto

Direction = Letter.Direction
Status = Letter.Status

# How much of the pen pal's own latest letter the inbox shows.
EXCERPT_LENGTH = 120


# --- The pen pal's side ---------------------------------------------------------------


def correspondence_between(pen_pal: User, profile: InmateProfile) -> Correspondence | None:
    """`pen_pal`'s correspondence with `profile`, if they have written before."""
    return Correspondence.objects.filter(pen_pal=pen_pal, profile=profile).first()


def inbox_correspondences(pen_pal: User) -> CorrespondenceQuerySet:
    """`pen_pal`'s correspondences, newest first, each annotated with what the inbox
    shows: the profile's name and thumbnail, the unread count and the id of the
    newest letter the pen pal may see. One query per page, whatever its size."""
    visible_letters = Letter.objects.filter(correspondence=OuterRef("pk")).visible_to_pen_pal()
    unread = (
        Letter.objects.filter(
            correspondence=OuterRef("pk"), direction=Direction.INBOUND, status=Status.APPROVED
        )
        .order_by()
        .values("correspondence")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        Correspondence.objects.filter(pen_pal=pen_pal)
        .annotate(
            profile_name=F("profile__display_name"),
            profile_slug=F("profile__slug"),
            profile_status=F("profile__status"),
            thumbnail_name=F("profile__primary_photo__thumbnail"),
            unread_count=Coalesce(Subquery(unread, output_field=IntegerField()), 0),
            latest_letter_id=Subquery(
                visible_letters.order_by("-created_at", "-pk").values("pk")[:1]
            ),
        )
        .order_by("-last_letter_at", "-pk")
    )


def attach_latest_letters(correspondences: list[Any]) -> None:
    """Give each correspondence of `inbox_correspondences` its `latest_letter`,
    `thumbnail_url` and `is_profile_listed` (one query for the page). Only the
    start of the pen pal's own letters is read, never a reply's text."""
    ids = [c.latest_letter_id for c in correspondences if c.latest_letter_id]
    letters = (
        Letter.objects.filter(pk__in=ids)
        .only("direction", "status", "created_at", "approved_at", "rejected_at", "delivered_at")
        .annotate(
            excerpt=Case(
                When(direction=Direction.OUTBOUND, then=Left("body", EXCERPT_LENGTH + 1)),
                default=Value(""),
            )
        )
        .in_bulk()
    )
    thumbnail_storage = ProfilePhoto._meta.get_field("thumbnail").storage
    for correspondence in correspondences:
        letter = letters.get(correspondence.latest_letter_id)
        if letter is not None and len(letter.excerpt) > EXCERPT_LENGTH:
            letter.excerpt = letter.excerpt[:EXCERPT_LENGTH].rsplit(" ", 1)[0] + "…"
        correspondence.latest_letter = letter
        # Once a person is no longer listed (released, transferred), their photo
        # is not shown any more, here as in the directory.
        is_listed = correspondence.profile_status in InmateProfile.LISTED_STATUSES
        correspondence.is_profile_listed = (
            correspondence.profile_status == InmateProfile.Status.PUBLISHED
        )
        name = correspondence.thumbnail_name
        correspondence.thumbnail_url = thumbnail_storage.url(name) if name and is_listed else ""


def thread_letters(correspondence: Correspondence) -> LetterQuerySet:
    """The letters of `correspondence` its pen pal may see, oldest first, with
    their scans. The caller reached `correspondence` through messaging.access."""
    return (
        correspondence.letters.visible_to_pen_pal()
        # OCR's words and boxes are for moderators; the thread never needs them.
        .prefetch_related(Prefetch("scans", LetterScan.objects.defer("ocr")))
        .order_by("created_at", "pk")
    )


# --- The liaison's side ---------------------------------------------------------------


def letters_waiting_to_print(facility: Facility) -> LetterQuerySet:
    """The print queue of `facility`, longest waiting first."""
    return (
        Letter.objects.print_queue(facility)
        .select_related("correspondence__profile", "correspondence__pen_pal")
        .order_by("approved_at", "pk")
    )


def print_batches(facility: Facility):
    """`facility`'s print batches, with who made and delivered them (to look one up)."""
    return PrintBatch.objects.filter(facility=facility).select_related(
        "facility", "created_by", "delivered_by"
    )


def print_batches_with_counts(facility: Facility):
    """`facility`'s print batches, newest first, each with its `letter_count` and
    `delivered_count`."""
    return (
        PrintBatch.objects.filter(facility=facility)
        .select_related("created_by", "delivered_by")
        .annotate(
            letter_count=Count("letters"),
            delivered_count=Count("letters", filter=Q(letters__status=Status.DELIVERED)),
        )
        .order_by("-created_at", "-pk")
    )


def replies_for_facility(facility: Facility) -> LetterQuerySet:
    """Replies uploaded for `facility`'s residents, newest first, with `page_count`."""
    return (
        Letter.objects.inbound()
        .filter(correspondence__profile__facility=facility)
        .select_related("correspondence__profile", "correspondence__pen_pal", "created_by")
        .annotate(page_count=Count("scans"))
        .order_by("-created_at", "-pk")
    )


def facility_correspondences(facility: Facility) -> CorrespondenceQuerySet:
    """Every correspondence with someone at `facility`, open or not (a closed
    one is found by its code, then refused with the reason)."""
    return Correspondence.objects.filter(profile__facility=facility).select_related(
        "profile", "pen_pal"
    )


def correspondences_accepting_replies(facility: Facility) -> CorrespondenceQuerySet:
    """The correspondences of `facility` a reply may be uploaded for (open, blocked
    by neither side), in the order the upload form lists them."""
    return (
        facility_correspondences(facility)
        .open()
        .filter(blocked_by_pen_pal_at__isnull=True, blocked_by_inmate_at__isnull=True)
        .order_by("profile__display_name", "profile__inmate_number", "code")
    )


# --- Returned mail: a facility's most common reasons -----------------------------------

# The window, the fewest returns before anything is shown (below it, one
# reason could point at one person's letter), and how many reasons are shown.
RETURN_REASONS_WINDOW = timedelta(days=365)
RETURN_REASONS_MIN_RETURNS = 3
RETURN_REASONS_SHOWN = 3
# The same for every pen pal of a facility and slow to change: counted once an
# hour per facility. Only codes and counts are kept; labels are worded per reader.
RETURN_REASONS_CACHE_SECONDS = 60 * 60


@dataclass(frozen=True)
class ReturnReasonCount:
    reason: str
    count: int

    @property
    def label(self) -> str:
        return str(Letter.ReturnReason(self.reason).label)


def return_reasons_cache_key(facility_id: int) -> str:
    return f"messaging:return-reasons:{facility_id}"


def common_return_reasons(facility: Facility) -> list[ReturnReasonCount]:
    """`facility`'s most common reasons for returning letters over the last
    year, most frequent first, with their counts; empty while it has returned
    fewer than RETURN_REASONS_MIN_RETURNS. At most one query (none when cached)."""
    key = return_reasons_cache_key(facility.pk)
    counted = cache.get(key)
    if counted is None:
        counted = _count_return_reasons(facility.pk)
        cache.set(key, counted, RETURN_REASONS_CACHE_SECONDS)
    return [ReturnReasonCount(reason, count) for reason, count in counted]


def _count_return_reasons(facility_id: int) -> list[tuple[str, int]]:
    # One aggregate, served by the partial index messaging_letter_returned
    # (returned letters only, by correspondence and reason). All reasons are
    # counted (six at most) so the threshold is on the facility's total.
    since = timezone.now() - RETURN_REASONS_WINDOW
    rows = list(
        Letter.objects.filter(
            status=Status.RETURNED,
            correspondence__profile__facility_id=facility_id,
            returned_at__gte=since,
            return_reason__in=Letter.ReturnReason.values,
        )
        .order_by()
        .values_list("return_reason")
        .annotate(count=Count("pk"))
    )
    if sum(count for _, count in rows) < RETURN_REASONS_MIN_RETURNS:
        return []
    order = Letter.ReturnReason.values
    rows.sort(key=lambda row: (-row[1], order.index(row[0])))
    return [(reason, count) for reason, count in rows[:RETURN_REASONS_SHOWN]]
