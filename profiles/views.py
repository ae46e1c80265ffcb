"""Public directory views: the list, a profile, and a pen pal's saved profiles.

Search rules and pagination live in profiles.directory, favourites in
profiles.services; every
profile is reached through profiles.access.get_published_profile.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from moderation.reports import ReportForm, existing_report, file_report
from profiles import directory, services
from profiles.access import get_published_profile, is_published
from profiles.public_cache import cached_for_visitors


@require_GET
def directory_list(request: HttpRequest) -> HttpResponse:
    def render_page():
        form, page = directory.search_directory(request.GET)
        response = render(request, "profiles/directory.html", {"form": form, "page": page})
        return response, directory.is_canonical_query(request.GET, page)

    return cached_for_visitors(request, render_page)


@require_GET
def profile(request: HttpRequest, slug: str) -> HttpResponse:
    def still_published():
        # Checked for a cached page too: an unpublished profile is a 404 at once.
        if not is_published(slug):
            raise Http404("No such profile.")

    def render_page():
        inmate = get_published_profile(slug)
        context = {
            "profile": inmate,
            "photos": directory.public_photos(inmate),
            "is_saved": directory.is_saved(request.user, inmate),
        }
        # The page reads no parameter: only the bare URL is kept, so made-up
        # query strings cannot each become a cache entry.
        return render(request, "profiles/profile_detail.html", context), not request.GET

    return cached_for_visitors(request, render_page, before_cached=still_published)


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
        messages.error(request, gettext("That request was not understood; nothing was changed."))
        return redirect(profile_url)
    if form.cleaned_data["action"] == "save":
        services.do_save_favorite(request.user, inmate)
        messages.success(
            request,
            gettext("%(name)s is in your saved profiles.") % {"name": inmate.display_name},
        )
    else:
        services.do_remove_favorite(request.user, inmate)
        messages.success(
            request,
            gettext("%(name)s was removed from your saved profiles.")
            % {"name": inmate.display_name},
        )
    if form.cleaned_data["next"] == "saved":
        return redirect("directory:saved")
    return redirect(profile_url)


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, slug: str) -> HttpResponse:
    """Report a profile. A visitor is asked to log in (and comes back here), or
    pointed to the protection request, which needs no account."""
    inmate = get_published_profile(slug)
    context = {"profile": inmate}
    if not request.user.is_authenticated:
        return render(request, "profiles/report_profile.html", context)
    earlier = existing_report(request.user, inmate)
    if earlier is not None:
        return render(
            request, "profiles/report_profile.html", {**context, "earlier_report": earlier}
        )
    form = ReportForm(
        request.POST if request.method == "POST" else None,
        question=gettext("What is wrong with this profile?"),
        privacy_note=gettext("Nobody is told who reported."),
    )
    if request.method == "POST" and file_report(form, request.user, inmate):
        messages.success(
            request,
            gettext(
                "Thank you. The Penpals team will look at this profile; nobody is told "
                "who reported it."
            ),
        )
        return redirect("directory:profile", slug=inmate.slug)
    return render(request, "profiles/report_profile.html", {**context, "form": form})


@login_required
@require_GET
def saved(request: HttpRequest) -> HttpResponse:
    page = directory.saved_page(request.user, request.GET.get("page"))
    return render(request, "profiles/saved.html", {"page": page})
