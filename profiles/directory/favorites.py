"""A pen pal's saved profiles (favourites)."""

from __future__ import annotations

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet

from profiles.directory.cards import card_fields, prepare_cards
from profiles.directory.results import PER_PAGE
from profiles.models import Favorite, InmateProfile


def is_saved(user, profile: InmateProfile) -> bool:
    return user.is_authenticated and Favorite.objects.filter(user=user, profile=profile).exists()


def saved_profiles(user) -> QuerySet[InmateProfile]:
    """The user's saved profiles that are listed now, most recently saved first.

    Favourites of profiles that left the directory (paused, released...) stay
    stored, so they come back if the profile does, but are not shown.
    """
    return card_fields(
        InmateProfile.objects.published()
        .filter(favorited_by__user=user)
        # Annotating after filtering reuses the filtered join: this user's favourite.
        .annotate(saved_at=F("favorited_by__created_at"))
        .order_by("-saved_at", "-pk")
    )


def saved_page(user, number: str | None) -> Page:
    """One page of the user's saved profiles (a user's list is short: a plain count is fine)."""
    page = Paginator(saved_profiles(user), PER_PAGE).get_page(number)
    page.object_list = prepare_cards(list(page.object_list))
    return page


class FavoriteForm(forms.Form):
    action = forms.ChoiceField(choices=[("save", "Save"), ("remove", "Remove")])
    # Where to go afterwards: back to the profile, or to the saved list.
    next = forms.ChoiceField(
        required=False, choices=[("profile", "Profile"), ("saved", "Saved profiles")]
    )
