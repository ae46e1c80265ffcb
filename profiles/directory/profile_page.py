"""What a profile's public page shows beside the profile itself."""

from __future__ import annotations

from profiles.models import InmateProfile, ProfilePhoto

MAX_PROFILE_PHOTOS = 6


def public_photos(profile: InmateProfile) -> list[ProfilePhoto]:
    """The photos the public may see (processed and approved), primary first. One query."""
    return list(
        profile.photos.public()
        .exclude(display="")
        .only("display", "thumbnail", "width", "height", "is_primary", "profile_id")
        .order_by("-is_primary", "created_at")[:MAX_PROFILE_PHOTOS]
    )
