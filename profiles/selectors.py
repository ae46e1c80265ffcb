"""Read-only queries behind the liaison portal's pages (and the public
protection page's look-up of a listed profile).

Nothing here checks access: the caller has already resolved the facility or
profile through profiles.access and passes it in (`facilities_with_counts`
starts from profiles.access.liaison_facilities). Each function runs a fixed
number of queries, whatever the size of the facility, so the views' query
counts stay pinned.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.validators import slug_re
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from moderation.models import ModerationItem, NoContactOrder
from profiles.access import liaison_facilities
from profiles.models import Facility, FacilityLiaison, InmateProfile, LiaisonAction, ProfilePhoto
from profiles.services import EDITABLE_STATUSES

Status = InmateProfile.Status
PhotoStatus = ProfilePhoto.Status
Review = ProfilePhoto.Review

DASHBOARD_LIST_SIZE = 10
PROFILE_REVIEWS_SIZE = 10
# Listings this close to expiry show up under "needs your action".
EXPIRY_WARNING = timedelta(days=30)


def facilities_with_counts(user):
    """The facilities `user` is a liaison of (as profiles.access.liaison_facilities,
    which takes any user), each with its profile counts by status."""
    return liaison_facilities(user).annotate(
        profile_count=Count("profiles"),
        draft_count=Count("profiles", filter=Q(profiles__status=Status.DRAFT)),
        pending_count=Count("profiles", filter=Q(profiles__status=Status.PENDING_REVIEW)),
        published_count=Count("profiles", filter=Q(profiles__status=Status.PUBLISHED)),
    )


def dashboard_summary(facility: Facility) -> dict[str, Any]:
    """Everything the facility dashboard shows, in seven queries whatever the size.

    `recent_actions` are bare LiaisonAction rows (with actor and profile); the
    caller describes them for the page.
    """
    profiles = InmateProfile.objects.filter(facility=facility)
    counts = dict(profiles.values_list("status").annotate(count=Count("id")).order_by())
    photos = ProfilePhoto.objects.filter(profile__facility=facility)
    photos_to_replace = Q(status__in=[PhotoStatus.REJECTED, PhotoStatus.FAILED]) | Q(
        review_status=Review.REJECTED
    )
    photo_counts = photos.aggregate(
        awaiting_processing=Count(
            "id", filter=Q(status__in=[PhotoStatus.UPLOADED, PhotoStatus.PROCESSING])
        ),
        awaiting_review=Count(
            "id", filter=Q(status=PhotoStatus.READY, review_status=Review.PENDING)
        ),
        to_replace=Count("id", filter=photos_to_replace),
    )
    consent_confirmed = ~Q(consent_form="") & Q(consent_confirmed_at__isnull=False)
    drafts = profiles.filter(status=Status.DRAFT).order_by("-updated_at", "id")
    limit = DASHBOARD_LIST_SIZE
    return {
        "status_counts": [(status, counts.get(status.value, 0)) for status in Status],
        "photo_counts": photo_counts,
        "needs_consent": list(drafts.exclude(consent_confirmed)[:limit]),
        "ready_to_submit": list(drafts.filter(consent_confirmed)[:limit]),
        "photos_to_replace": list(
            photos.filter(photos_to_replace, profile__status__in=EDITABLE_STATUSES)
            .select_related("profile")
            .order_by("-created_at")[:limit]
        ),
        "expiring": list(
            profiles.listed()
            .filter(expires_at__lte=timezone.localdate() + EXPIRY_WARNING)
            .order_by("expires_at", "id")[:limit]
        ),
        "recent_actions": list(facility_actions(facility)[:limit]),
    }


def facility_profiles(facility: Facility, *, status: str = "", search: str = ""):
    """`facility`'s profiles by name, each with its `photo_count`; only those in
    `status` and those whose display name, legal name or inmate number contains
    `search`, when given."""
    profiles = (
        InmateProfile.objects.filter(facility=facility)
        .annotate(photo_count=Count("photos"))
        .order_by("display_name", "id")
    )
    if status:
        profiles = profiles.filter(status=status)
    if search:
        profiles = profiles.filter(
            Q(display_name__icontains=search)
            | Q(legal_name__icontains=search)
            | Q(inmate_number__icontains=search)
        )
    return profiles


def facility_actions(facility: Facility):
    """`facility`'s audit trail, newest first, with who did each action and to whom."""
    return (
        LiaisonAction.objects.filter(facility=facility)
        .select_related("actor", "profile")
        .order_by("-created_at", "-id")
    )


def colleague_ids_of(facility: Facility) -> set[int]:
    """The ids of `facility`'s liaisons."""
    return set(FacilityLiaison.objects.filter(facility=facility).values_list("user_id", flat=True))


def profile_history(profile: InmateProfile, limit: int) -> list[LiaisonAction]:
    """The latest `limit` liaison actions on `profile`, newest first, with their actors."""
    return list(
        profile.liaison_actions.select_related("actor").order_by("-created_at", "-id")[:limit]
    )


def profile_photos(profile: InmateProfile) -> list[ProfilePhoto]:
    return list(profile.photos.all())


def profile_reviews(profile: InmateProfile) -> list[ModerationItem]:
    """The latest moderation items about `profile`, newest first."""
    return list(
        ModerationItem.objects.for_object(profile).order_by("-created_at")[:PROFILE_REVIEWS_SIZE]
    )


def find_listed_profile(slug: str) -> InmateProfile | None:
    """The profile a request comes from, if the slug names one the public can
    see (or could until it was paused); otherwise the form asks who it is about."""
    if not slug_re.match(slug):
        # Not a slug (a NUL byte would even crash the query): ask who it is about.
        return None
    return InmateProfile.objects.listed().filter(slug=slug).select_related("facility").first()


def active_no_contact_orders(profile: InmateProfile) -> QuerySet[NoContactOrder]:
    """The profile's orders in force, newest first (the liaison's list)."""
    return NoContactOrder.objects.active().filter(profile=profile).order_by("-created_at")
