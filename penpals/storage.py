"""Storage classes of our own."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage


class PrivateFileHasNoURL(ValueError):
    # Templates render a missing URL as empty instead of failing the page.
    silent_variable_failure = True


class PrivateFileSystemStorage(FileSystemStorage):
    """Local private files (originals, scans, consent forms).

    They have no URL at all: FileSystemStorage would otherwise fall back to
    MEDIA_URL. Views stream them after an access check.
    """

    def url(self, name: str | None) -> str:
        raise PrivateFileHasNoURL("Private files are served only through access-checked views.")
