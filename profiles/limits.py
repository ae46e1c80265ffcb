"""The limits on what a liaison uploads, one rule each: the forms and the
services ask here, so a limit and its message mean one thing."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext

from penpals.uploads import too_big


def photo_refusal(size: int, name: str | None = None) -> str:
    """Why a photo of `size` bytes is refused before anything looks inside
    it, or "". The upload form asks per file (by name), check_upload_photo
    for the file it stores."""
    name = name if name is not None else gettext("This file")
    if size == 0:
        return gettext("%(name)s is empty.") % {"name": name}
    return too_big(name, size, settings.PHOTO_MAX_UPLOAD_BYTES)
