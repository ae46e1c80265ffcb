"""HTTP helpers every app's views share."""

from __future__ import annotations

from django.views.decorators.cache import cache_control

# A page with someone's private facts or letters: never stored by a browser
# or a proxy cache, and never shared between people.
private_page = cache_control(private=True, no_store=True)
