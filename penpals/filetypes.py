"""The one table of file types the service recognises, by their first bytes.

Every upload is typed from its content, never its name or the browser's
claim: photos, consent forms, letter scans and liaison downloads all ask
`sniff` here, then check the file properly (Pillow decodes an image,
penpals.pdfs reads a PDF).
"""

from __future__ import annotations

from dataclasses import dataclass

# How many bytes `sniff` needs to see.
HEAD_BYTES = 16


@dataclass(frozen=True)
class FileType:
    name: str  # "pdf", "jpeg", "png", "gif", "webp", "heic"
    content_type: str
    extension: str
    signature: bytes  # the first bytes; see `matches` for the RIFF and ISO types

    def matches(self, head: bytes) -> bool:
        if self.name == "webp":
            return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        if self.name == "heic":
            return head[4:8] == b"ftyp"
        return head.startswith(self.signature)


PDF = FileType("pdf", "application/pdf", ".pdf", b"%PDF-")
JPEG = FileType("jpeg", "image/jpeg", ".jpg", b"\xff\xd8\xff")
PNG = FileType("png", "image/png", ".png", b"\x89PNG\r\n\x1a\n")
GIF = FileType("gif", "image/gif", ".gif", b"GIF8")
WEBP = FileType("webp", "image/webp", ".webp", b"RIFF")
HEIC = FileType("heic", "image/heic", ".heic", b"")

FILE_TYPES = (PDF, JPEG, PNG, GIF, WEBP, HEIC)


def sniff(head: bytes) -> FileType | None:
    """The type `head` (a file's first bytes) starts like, or None."""
    for file_type in FILE_TYPES:
        if file_type.matches(head):
            return file_type
    return None
