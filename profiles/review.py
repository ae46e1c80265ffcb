"""What moderation knows of profiles and photos: what a moderator reads of a
profile under review, how the queue finds and previews them, and pausing a
profile from a report (registered with moderation.registry at start-up)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext

from moderation import registry
from moderation.active_rules import screen_text
from moderation.models import ModerationItem
from moderation.registry import StaffSearch
from moderation.screening import highlight_segments
from profiles.models import InmateProfile, ProfilePhoto
from profiles.protection import pause_profile


def consent_context(profile, *, may_download: bool) -> dict:
    """Whether a new profile's signed consent form is on file and who confirmed
    it; the link to the form itself only with `may_download` (superusers: the
    form carries the legal name and number, private facts)."""
    confirmed_by = profile.consent_confirmed_by
    return {
        "is_on_file": bool(profile.consent_form),
        "confirmed_at": profile.consent_confirmed_at,
        "confirmed_by": str(confirmed_by) if confirmed_by is not None else "",
        "download_url": (
            reverse("liaison:consent_download", args=[profile.pk])
            if may_download and profile.consent_form
            else ""
        ),
    }


def profile_changes(profile, kind: str) -> list[dict]:
    """The reviewed public fields: for a change, the approved value beside the
    proposed one (changed rows first); for a new profile, what would go public.

    The text under review (every field of a new profile, the changed fields
    of a change: what profiles.services.screen_profile screened for the
    item's risk and flags) is screened again as shown, with the profile
    scope, and its hits highlighted in `segments`: a millisecond a field, and
    the spans always fit the text on the page."""
    is_change = kind == ModerationItem.Kind.PROFILE_CHANGE
    rows = []
    for name in profile.REVIEWED_FIELDS:
        current = getattr(profile, name)
        proposed = profile.pending_changes.get(name, current)
        changed = is_change and proposed != current
        shown = _shown(proposed)
        rows.append(
            {
                "label": profile._meta.get_field(name).verbose_name.capitalize(),
                "approved": _shown(current) if is_change else "",
                "proposed": shown,
                "changed": changed,
                "segments": (
                    highlight_segments(
                        shown,
                        screen_text(shown, scope="profile", facility_id=profile.facility_id).hits,
                    )
                    if changed or not is_change
                    else None
                ),
            }
        )
    return sorted(rows, key=lambda row: not row["changed"])


def _shown(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


# --- What moderation may know of profiles and photos (moderation.registry) -------------


def profiles_named(search: StaffSearch) -> QuerySet:
    """Profiles a staff search names: by display name, and by inmate number
    only for those who may see private facts. A values("pk") subquery."""
    match = Q(display_name__icontains=search.term)
    if search.by_private_facts:
        match |= Q(inmate_number=search.term) | Q(inmate_number=search.term.upper())
    return InmateProfile.objects.filter(match).values("pk")


def _profile_review(profile, item, may_see_private_facts: bool) -> dict:
    context: dict = {"profile_changes": profile_changes(profile, item.kind)}
    if item.kind == ModerationItem.Kind.PROFILE:
        context["consent"] = consent_context(profile, may_download=may_see_private_facts)
    return context


def _attach_photos(items: list) -> None:
    photos = ProfilePhoto.objects.only("pk", "thumbnail").in_bulk([i.object_id for i in items])
    for item in items:
        item.photo = photos.get(item.object_id)


def register() -> None:
    registry.register_subject(
        InmateProfile,
        registry.Subject(
            name_of=lambda profile: profile.display_name,
            label_of=lambda profile: gettext("Profile: %(name)s") % {"name": profile.display_name},
            profile_of=lambda profile: profile,
            review_context=_profile_review,
            matching=profiles_named,
        ),
    )
    registry.register_subject(
        ProfilePhoto,
        registry.Subject(
            name_of=lambda photo: photo.profile.display_name,
            profile_of=lambda photo: photo.profile,
            review_context=lambda photo, item, private: {"photo": photo},
            matching=lambda search: ProfilePhoto.objects.filter(
                profile__in=profiles_named(search)
            ).values("pk"),
            attach_previews=_attach_photos,
        ),
    )
    registry.register_action(registry.PAUSE_PROFILE, pause_profile)
