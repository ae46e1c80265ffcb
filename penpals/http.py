"""HTTP helpers every app's views share."""

from __future__ import annotations

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
