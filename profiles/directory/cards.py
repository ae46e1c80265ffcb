"""A directory card: the columns it reads and what it shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db.models import F, QuerySet
from django.db.models.functions import Left
from django.urls import reverse
from django.utils.translation import gettext

from profiles.models import InmateProfile, ProfilePhoto

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

BIO_PREVIEW_CHARS = 200


class CardColumns(TypedDict):
    """What `card_fields` annotates each profile with."""

    bio_start: str  # the bio's first BIO_PREVIEW_CHARS + 1 characters
    facility_name: str
    facility_state: str
    thumbnail_name: str | None  # None without a primary photo


@dataclass(frozen=True, slots=True)
class ProfileCard:
    """What one directory card shows, worked out once in Python rather than in
    the template (a page has 24 cards)."""

    pk: int
    display_name: str
    url: str
    meta: str  # age and state: "34 · TX" (the date of birth is never shown)
    facility_name: str
    release: str  # "Release: March 2027"
    initial: str  # drawn when there is no photo
    thumbnail_url: str  # "" when there is no photo
    bio_preview: str  # the bio's first words, cut at a word
    is_accepting_letters: bool


def card_fields(
    profiles: QuerySet[InmateProfile],
) -> QuerySet[WithAnnotations[InmateProfile, CardColumns]]:
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


def build_cards(
    profiles: Iterable[WithAnnotations[InmateProfile, CardColumns]],
) -> list[ProfileCard]:
    """A card for each of `profiles`, which card_fields fetched. No queries."""
    # One reverse() for the page: a slug never needs quoting in a path.
    url_pattern = reverse("directory:profile", args=["--slug--"])
    photo_storage = ProfilePhoto._meta.get_field("thumbnail").storage
    return [
        ProfileCard(
            pk=profile.pk,
            display_name=profile.display_name,
            url=url_pattern.replace("--slug--", profile.slug),
            meta=f"{profile.age} · {profile.facility_state}",
            facility_name=profile.facility_name,
            release=gettext("Release: %(when)s") % {"when": profile.release_label()},
            initial=profile.display_name[:1].upper(),
            thumbnail_url=photo_storage.url(profile.thumbnail_name)
            if profile.thumbnail_name
            else "",
            bio_preview=bio_preview(profile.bio_start),
            is_accepting_letters=profile.is_accepting_letters,
        )
        for profile in profiles
    ]


def bio_preview(bio_start: str) -> str:
    """`bio_start` as is if it fits in BIO_PREVIEW_CHARS, else cut at a word."""
    if len(bio_start) <= BIO_PREVIEW_CHARS:
        return bio_start
    return bio_start[:BIO_PREVIEW_CHARS].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"
