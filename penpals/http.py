"""HTTP helpers every app's views share."""

from __future__ import annotations

import hmac

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.views.decorators.cache import cache_control

from penpals.models import User

# A page with someone's private facts or letters: never stored by a browser
# or a proxy cache, and never shared between people.
private_page = cache_control(private=True, no_store=True)


class AuthenticatedHttpRequest(HttpRequest):
    """What @login_required guarantees: `user` is a real account. (For type
    checking only: views behind login_required annotate their request with it.)"""

    user: User


def has_bearer_token(request: HttpRequest, expected: str, purpose: str) -> bool:
    """Whether the request presents `Authorization: Bearer <expected>`.

    No header: False. The right token: True. Any other token, or any token
    while `expected` is unset: PermissionDenied (403), since a caller sending
    the wrong secret is misconfigured and should hear so. A header and not a
    query parameter, so the token stays out of access logs; compared in
    constant time."""
    header = request.headers.get("Authorization", "")
    if not header:
        return False
    scheme, _, presented = header.partition(" ")
    if (
        scheme.lower() != "bearer"
        or not expected
        or not hmac.compare_digest(presented.strip().encode(), expected.encode())
    ):
        raise PermissionDenied(f"Wrong {purpose} token.")
    return True
