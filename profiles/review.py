"""What a moderator reads of a profile under review."""

from __future__ import annotations

from django.urls import reverse

from moderation.models import ModerationItem
from moderation.screening import highlight_segments, screen_text


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
