"""A pen pal's saved profiles (favourites)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from profiles.directory.cards import CardColumns, ProfileCard, build_cards, card_fields
from profiles.directory.results import PER_PAGE
from profiles.models import Favorite, InmateProfile

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django_stubs_ext import WithAnnotations

    from penpals.models import User


def is_saved(user: User | AnonymousUser, profile: InmateProfile) -> bool:
    return user.is_authenticated and Favorite.objects.filter(user=user, profile=profile).exists()


def saved_profiles(user: User) -> QuerySet[WithAnnotations[InmateProfile, CardColumns]]:
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


def saved_page(user, number: str | None) -> Page[ProfileCard]:
    """One page of the user's saved profiles (a user's list is short: a plain count is fine).

    `user` is signed in: the view requires it. (It is left untyped because
    views hold it as `User | AnonymousUser` whatever their decorators say.)
    """
    page = Paginator(saved_profiles(user), PER_PAGE).get_page(number)
    cards = build_cards(page.object_list)
    # Page reads only the paginator's count and page size, never its rows, but
    # django-stubs ties the page's row type to the paginator's.
    return Page(cards, page.number, page.paginator)  # type: ignore[arg-type]


class FavoriteForm(forms.Form):
    action = forms.ChoiceField(choices=[("save", _("Save")), ("remove", _("Remove"))])
    # Where to go afterwards: back to the profile, or to the saved list.
    next = forms.ChoiceField(
        required=False, choices=[("profile", _("Profile")), ("saved", _("Saved profiles"))]
    )
