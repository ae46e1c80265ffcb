"""The limits on what a liaison uploads, one rule each: the forms and the
services ask here, so a limit and its message mean one thing."""

from __future__ import annotations

from django.conf import settings

from penpals.uploads import too_big


def photo_refusal(size: int, name: str = "This file") -> str:
    """Why a photo of `size` bytes is refused before anything looks inside
    it, or "". The upload form asks per file (by name), check_upload_photo
    for the file it stores."""
    if size == 0:
        return f"{name} is empty."
    return too_big(name, size, settings.PHOTO_MAX_UPLOAD_BYTES)
