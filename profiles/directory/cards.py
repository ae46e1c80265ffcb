"""A directory card: the columns it reads and what it shows."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.db.models.functions import Left
from django.urls import reverse

from profiles.models import InmateProfile, ProfilePhoto

BIO_PREVIEW_CHARS = 200


def card_fields(profiles: QuerySet[InmateProfile]) -> QuerySet[InmateProfile]:
    """Only what a directory card shows (not the private columns, not the search
    vector). Facility and photo come as annotations, not related objects: three
    model instances per card would cost more than the query."""
    return profiles.only(
        "slug",
        "display_name",
        "date_of_birth",  # for the age; the date itself is never shown
        "release_kind",
        "release_date",
        "is_accepting_letters",
        "published_at",
    ).annotate(
        bio_start=Left("bio", BIO_PREVIEW_CHARS + 1),
        facility_name=F("facility__name"),
        facility_state=F("facility__state"),
        thumbnail_name=F("primary_photo__thumbnail"),
    )


def prepare_cards(profiles: list[InmateProfile]) -> list[InmateProfile]:
    """Work out what each card shows once, in Python rather than in the template
    (a page has 24 cards): `url`, `meta`, `thumbnail_url`, `release`, `initial`
    and `bio_preview`, the bio's first words cut at a word."""
    # One reverse() for the page: a slug never needs quoting in a path.
    url_pattern = reverse("directory:profile", args=["--slug--"])
    photo_storage = ProfilePhoto._meta.get_field("thumbnail").storage
    for profile in profiles:
        profile.url = url_pattern.replace("--slug--", profile.slug)
        profile.meta = f"{profile.age} · {profile.facility_state}"
        profile.release = f"Release: {profile.release_label()}"
        profile.initial = profile.display_name[:1].upper()
        name = profile.thumbnail_name
        profile.thumbnail_url = photo_storage.url(name) if name else ""
        text = profile.bio_start
        if len(text) > BIO_PREVIEW_CHARS:
            text = text[:BIO_PREVIEW_CHARS].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"
        profile.bio_preview = text
    return profiles
