"""The limits on letters and replies, one rule each: the forms, the services
and the admin all ask here, so a limit and its message mean one thing."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext, ngettext

from penpals.text import grouped


def letter_too_long(body: str) -> str:
    """Why `body` is too long for a letter, or ""."""
    limit = settings.LETTER_MAX_LENGTH
    if len(body) <= limit:
        return ""
    return gettext(
        "Letters can be at most %(limit)s characters; this one has %(length)s. "
        "Shorten it, or send the rest in another letter."
    ) % {"limit": grouped(limit), "length": grouped(len(body))}


def transcription_too_long(text: str) -> str:
    """Why a reply's transcription is too long, or ""."""
    limit = settings.LETTER_MAX_LENGTH
    if len(text) <= limit:
        return ""
    return gettext(
        "The transcription can be at most %(limit)s characters; this one has %(length)s."
    ) % {"limit": grouped(limit), "length": grouped(len(text))}


def too_many_scans(count: int) -> str:
    """Why `count` files are too many for one reply, or ""."""
    limit = settings.SCAN_MAX_PAGES
    if count <= limit:
        return ""
    return ngettext(
        "Upload at most %(limit)s file for one reply (%(count)s chosen). "
        "Put several pages in one PDF if needed.",
        "Upload at most %(limit)s files for one reply (%(count)s chosen). "
        "Put several pages in one PDF if needed.",
        limit,
    ) % {"limit": limit, "count": count}
