"""Links from moderation's pages to the admin page of any object."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html


def admin_url(obj) -> str:
    """The admin page of `obj`, or "" when it has none (or is gone)."""
    if obj is None:
        return ""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def admin_link(obj, text: str) -> str:
    """`text` linked to `obj`'s admin page; the text alone when it has none."""
    url = admin_url(obj)
    return format_html('<a href="{}">{}</a>', url, text) if url else text
