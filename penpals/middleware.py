from __future__ import annotations

from typing import Literal, cast

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

SameSite = Literal["Lax", "Strict", "None"]

ADMIN_PREFIX = "/admin/"
# Areas a staff member or liaison may reach only with a second factor set up.
MFA_PROTECTED_PREFIXES = (ADMIN_PREFIX, "/liaison/")
MFA_SETUP_NEXT_SESSION_KEY = "penpals_mfa_setup_next"

# Every path check here reads request.path_info, the path the URL resolver
# routes, never request.path: under a prefix (SCRIPT_NAME from the proxy, or
# FORCE_SCRIPT_NAME) request.path is "/prefix/admin/" and would not start
# with "/admin/", while the resolver still serves the admin.


class RequireMFAMiddleware:
    """Send staff and liaisons without MFA to set it up before the admin or portal.

    allauth offers MFA to everyone but has no setting to require it, so this
    is the one place the requirement lives.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            request.path_info.startswith(MFA_PROTECTED_PREFIXES)
            and user.is_authenticated
            and user.requires_mfa()
            and not is_mfa_enabled(user)
        ):
            if request.method == "GET":
                # Where to continue once TOTP and the recovery codes are done
                # (penpals.views.continue_after_setup). A path of this site,
                # under the admin or the portal, so safe to redirect to.
                request.session[MFA_SETUP_NEXT_SESSION_KEY] = request.get_full_path()
            messages.warning(
                request,
                gettext(
                    "Staff and facility liaisons must set up two-factor authentication "
                    "before they continue."
                ),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class RefuseNulInAdminQueryMiddleware:
    """Answer 400 to an admin URL whose query string holds a NUL character.

    The admin's list filters put query values straight into queries, and
    PostgreSQL refuses NUL in text with an error (a 500 page). Pages outside
    the admin read their query strings through forms, which refuse NUL with
    a message (penpals.text).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(ADMIN_PREFIX) and any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            raise BadRequest("A NUL character in the query string.")
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in person's saved language wins over the cookie and the browser.

    Django's LocaleMiddleware (before this one) picks the language from the
    language cookie, then Accept-Language; it cannot see the account, as it
    runs before authentication. Reading the choice from the account on each
    request (the user row is loaded anyway, so no query) keeps one source of
    truth, so a choice made on another device applies here at once.

    Two ways keep the account and the cookie together:

    - the switcher (django.views.i18n.set_language) answers with the cookie;
      for a signed-in person the same choice is saved on the account;
    - a signed-in person whose cookie differs is given the cookie of their
      saved language, so the site stays in it after they log out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        saved = user.language if user.is_authenticated else ""
        if saved and translation.check_for_language(saved):
            translation.activate(saved)
            request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if not user.is_authenticated:
            return response
        chosen = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen is not None and request.path_info == reverse("set_language"):
            # set_language sets the cookie only for a supported language.
            if chosen.value != user.language:
                user.language = chosen.value
                user.save(update_fields=["language"])
        elif request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != user.language:
            # user.language as it is now: the settings page may just have changed it.
            set_language_cookie(response, user.language)
        return response


def set_language_cookie(response: HttpResponse, language: str) -> None:
    """The language cookie as django.views.i18n.set_language sets it."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        # A str in django-stubs' settings; one of the literals set_cookie takes.
        samesite=cast(SameSite, settings.LANGUAGE_COOKIE_SAMESITE),
    )
