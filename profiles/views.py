"""Public directory views: the list, a profile, and a pen pal's saved profiles.

Search rules and pagination live in profiles.directory, favourites in
profiles.services; every
profile is reached through profiles.access.get_published_profile.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from profiles import directory, services
from profiles.access import get_published_profile


@require_GET
def directory_list(request: HttpRequest) -> HttpResponse:
    form, page = directory.search_directory(request.GET)
    return render(request, "profiles/directory.html", {"form": form, "page": page})


@require_GET
def profile(request: HttpRequest, slug: str) -> HttpResponse:
    inmate = get_published_profile(slug)
    return render(
        request,
        "profiles/profile_detail.html",
        {
            "profile": inmate,
            "photos": directory.public_photos(inmate),
            "is_saved": directory.is_saved(request.user, inmate),
        },
    )


@require_POST
def favorite(request: HttpRequest, slug: str) -> HttpResponse:
    """Save or remove a profile (idempotent: the form says which, not "toggle")."""
    profile_url = reverse("directory:profile", args=[slug])
    # Not @login_required: after logging in, a GET of this URL would fail; the
    # profile page is where the pen pal wanted to be.
    if not request.user.is_authenticated:
        return redirect_to_login(profile_url)
    inmate = get_published_profile(slug)
    form = directory.FavoriteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That request was not understood; nothing was changed.")
        return redirect(profile_url)
    if form.cleaned_data["action"] == "save":
        services.do_save_favorite(request.user, inmate)
        messages.success(request, f"{inmate.display_name} is in your saved profiles.")
    else:
        services.do_remove_favorite(request.user, inmate)
        messages.success(request, f"{inmate.display_name} was removed from your saved profiles.")
    if form.cleaned_data["next"] == "saved":
        return redirect("directory:saved")
    return redirect(profile_url)


@login_required
@require_GET
def saved(request: HttpRequest) -> HttpResponse:
    page = directory.saved_page(request.user, request.GET.get("page"))
    return render(request, "profiles/saved.html", {"page": page})
