"""The public victim-protection page: no account needed.

A person harmed by someone listed (or their advocate) asks that this person
never be able to contact them, or that a profile be reviewed. The page says
nothing about the person listed beyond what their public profile shows.
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from moderation.protection import (
    RATE_LIMITED_MESSAGE,
    consume_rate_limit,
    do_create_protection_request,
)
from moderation.safety_forms import ProtectionRequestForm
from penpals.http import private_page
from profiles.selectors import find_listed_profile


@require_http_methods(["GET", "POST"])
@private_page
def protection_request(request: HttpRequest) -> HttpResponse:
    profile = find_listed_profile(request.GET.get("profile", ""))
    form = ProtectionRequestForm(
        request.POST if request.method == "POST" else None, profile=profile
    )
    status = 200
    if request.method == "POST":
        if not consume_rate_limit(get_adapter().get_client_ip(request)):
            form.add_error(None, gettext(RATE_LIMITED_MESSAGE))
            status = 429
        elif form.is_valid():
            # A bot that filled the honeypot sees the same page as a person.
            if not form.is_bot:
                do_create_protection_request(form.request_fields())
            return redirect("protection:sent")
    return render(
        request,
        "moderation/protection_request.html",
        {"form": form, "profile": profile},
        status=status,
    )


@require_GET
def protection_request_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "moderation/protection_request_sent.html")
