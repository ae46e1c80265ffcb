from __future__ import annotations

import json
import sys

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from penpals import health
from penpals.adapters import home_url_for
from penpals.forms import AccountSettingsForm, DeleteAccountForm, ResendVerificationForm
from penpals.http import AuthenticatedHttpRequest
from penpals.middleware import MFA_SETUP_NEXT_SESSION_KEY
from penpals.services import do_delete_account, do_resend_verification, export_user_data
from penpals.text import grouped


def page(template_name: str):
    """A static content page (home, about, safety guide, privacy, terms)."""

    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        return render(request, template_name)

    return view


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    form = AccountSettingsForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, gettext("Your settings were saved."))
        return redirect("account_settings")
    # Back from the password prompt of "Download my data": the page starts
    # the download itself (a meta refresh, no script), so the person stays here.
    is_export_ready = request.GET.get("export") == EXPORT_READY
    context = {"form": form, "is_export_ready": is_export_ready}
    return render(request, "penpals/settings.html", context)


EXPORT_READY = "ready"


@login_required
@reauthentication_required
@require_GET
def prepare_export(request: HttpRequest) -> HttpResponse:
    """ "Download my data" from the settings page: after the password prompt the
    browser would otherwise stay on that prompt while the file downloads."""
    messages.success(
        request,
        gettext(
            "Password confirmed. Your data is downloading; if it does not start, "
            "choose “Download my data” again."
        ),
    )
    return redirect(f"{reverse('account_settings')}?export={EXPORT_READY}")


@login_required
@require_GET
def continue_after_setup(request: HttpRequest) -> HttpResponse:
    """The way on from the recovery codes: where the person was going when they
    were sent to set up two-factor authentication, or their own start page."""
    next_url = request.session.pop(MFA_SETUP_NEXT_SESSION_KEY, "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = home_url_for(request.user)
    return redirect(next_url)


@login_required
@reauthentication_required
@require_GET
def export_data(request: AuthenticatedHttpRequest) -> HttpResponse:
    payload = json.dumps(export_user_data(request.user), indent=2, ensure_ascii=False)
    response = HttpResponse(payload, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="penpals-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def delete_account(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_delete_account(request.user)
        logout(request)
        messages.success(request, gettext("Your account was deleted. We are sorry to see you go."))
        return redirect("home")
    return render(request, "penpals/delete_account.html", {"form": form})


@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    """A new verification link, for anyone (signed in or not) who lost the first."""
    form = ResendVerificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_resend_verification(request, form.cleaned_data["email"])
        # The same words whatever the address: nothing tells who has an account.
        messages.info(
            request,
            gettext(
                "If that address waits for verification, a new link is on its way. "
                "It can take a few minutes; check your spam folder too."
            ),
        )
        return redirect("account_resend_verification")
    return render(request, "account/resend_verification.html", {"form": form})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Public and cheap (writes nothing); the deep check that writes to both
    storages only with the token (penpals.health)."""
    deep = health.is_deep_check_requested(request)
    states, down = health.run_checks(deep=deep)
    body = {
        "status": "ok" if not down else "down",
        "down": down,
        "checks": states,
        "deep": deep,
        # How old the storage state is: 0 after a deep check, else beat's last.
        "storage_checked_seconds_ago": 0 if deep else health.last_storage_check()[1],
        "worker": health.worker_state() if "database" not in down else "unknown",
    }
    return JsonResponse(body, status=503 if down else 200)


# How long a client should wait before trying again while the database is away.
DATABASE_RETRY_AFTER_SECONDS = 30


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: the 400 page, saying what was wrong when Django refused the
    request for its size, before any form could (too many files, too many
    fields or too much form data)."""
    reason = ""
    if isinstance(exception, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        reason = ngettext(
            "It sent more than %(count)s file at once; each upload form says how many "
            "it takes. Go back and choose fewer files.",
            "It sent more than %(count)s files at once; each upload form says how many "
            "it takes. Go back and choose fewer files.",
            limit,
        ) % {"count": grouped(limit)}
    elif isinstance(exception, TooManyFieldsSent):
        reason = gettext("It sent more form fields than any of our forms has.")
    elif isinstance(exception, RequestDataTooBig):
        reason = gettext("It sent more form text than any of our forms accepts.")
    body = loader.render_to_string("400.html", {"reason": reason})
    return HttpResponseBadRequest(body)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the standalone 500 page, or, when the database cannot be
    reached (restarting, failing over), a 503 that says to try again shortly.

    Django calls it inside the `except` block of the failed request, so the
    exception is still at hand. Both pages render without the database.
    """
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    return defaults.server_error(request)
