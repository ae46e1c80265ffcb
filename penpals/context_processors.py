"""What every page's layout needs: the site's name and contact address, and
which places the header offers the person signed in."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

# Whether the signed-in person is a facility liaison, noted in the session at
# login so the header costs no query on each page. A liaison added later sees
# the portal link at the next login; access itself never reads this (the
# portal checks memberships on every request).
IS_LIAISON_SESSION_KEY = "penpals_is_liaison"


def remember_role(sender, request: HttpRequest, user, **kwargs) -> None:
    """user_logged_in receiver: note the role the header shows."""
    if request is not None and hasattr(request, "session"):
        request.session[IS_LIAISON_SESSION_KEY] = user.is_liaison()


def is_liaison(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return False
    if IS_LIAISON_SESSION_KEY not in request.session:
        # A session from before the role was noted at login: look it up once.
        request.session[IS_LIAISON_SESSION_KEY] = user.is_liaison()
    return request.session[IS_LIAISON_SESSION_KEY]


def site(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    liaison = is_liaison(request)
    staff = signed_in and user is not None and user.is_staff
    return {
        "SITE_NAME": settings.SITE_NAME,
        "CONTACT_EMAIL": settings.CONTACT_EMAIL,
        "header_is_liaison": liaison,
        "header_is_staff": staff,
        # Letters and saved profiles belong to pen pals, not to people at work.
        "header_is_pen_pal": signed_in and not (liaison or staff),
    }
