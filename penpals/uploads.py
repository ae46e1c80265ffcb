"""Upload handling shared by every form that takes files.

Django spools any upload over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary
file before a form sees it, whatever its size: a 100 MB file was written to
disk in full only to be refused by size. The handler below stops writing a
file once it is past the largest file any form accepts and keeps counting,
so the form still sees the file's true size and refuses it with its usual
message ("at most 15 MB"), and the disk holds no more than that limit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext


def largest_accepted_upload() -> int:
    """The largest single file any form of the service accepts."""
    return max(
        settings.PHOTO_MAX_UPLOAD_BYTES,
        settings.CONSENT_FORM_MAX_UPLOAD_BYTES,
        settings.SCAN_MAX_UPLOAD_BYTES,
    )


class SizeCappedUploadHandler(TemporaryFileUploadHandler):
    """A temporary-file handler that keeps no byte of a file that is too big.

    A file over the limit ends as an empty temporary file whose `size` is the
    number of bytes sent, so size checks refuse it and nothing can process a
    truncated copy by mistake.
    """

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.limit = largest_accepted_upload()
        self.is_over_limit = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.is_over_limit:
            return None
        if start + len(raw_data) > self.limit:
            self.is_over_limit = True
            self.file.seek(0)
            self.file.truncate()
            return None
        return super().receive_data_chunk(raw_data, start)


def megabytes(size: int) -> str:
    """A file size as a limit is written in messages: "15 MB", "800 kB"."""
    return f"{size / 1_000_000:.0f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"


def too_big(name: str, size: int, limit: int) -> str:
    """ "photo.jpg is 100 MB; the limit is 15 MB." when `size` is over `limit`,
    else "". A file just over the limit shows a decimal, never "15 MB; the
    limit is 15 MB"."""
    if size <= limit:
        return ""
    shown = megabytes(size)
    if shown == megabytes(limit):
        shown = f"{size / 1_000_000:.1f} MB"
    return gettext("%(name)s is %(size)s; the limit is %(limit)s.") % {
        "name": name,
        "size": shown,
        "limit": megabytes(limit),
    }
