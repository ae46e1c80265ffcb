"""The limits on letters and replies, one rule each: the forms, the services
and the admin all ask here, so a limit and its message mean one thing."""

from __future__ import annotations

from django.conf import settings


def letter_too_long(body: str) -> str:
    """Why `body` is too long for a letter, or ""."""
    limit = settings.LETTER_MAX_LENGTH
    if len(body) <= limit:
        return ""
    return (
        f"Letters can be at most {limit:,} characters; this one has {len(body):,}. "
        "Shorten it, or send the rest in another letter."
    )


def transcription_too_long(text: str) -> str:
    """Why a reply's transcription is too long, or ""."""
    limit = settings.LETTER_MAX_LENGTH
    if len(text) <= limit:
        return ""
    return f"The transcription can be at most {limit:,} characters; this one has {len(text):,}."


def too_many_scans(count: int) -> str:
    """Why `count` files are too many for one reply, or ""."""
    limit = settings.SCAN_MAX_PAGES
    if count <= limit:
        return ""
    return (
        f"Upload at most {limit} files for one reply ({count} chosen). "
        "Put several pages in one PDF if needed."
    )
