"""Checks on one scanned page (a page of a reply, a signed consent form) before
it is stored.

Told by content, never by name or the browser's content type:

- JPEG and PNG are decoded (through penpals.images.decode, the one place
  that lets Pillow parse uploaded images: JPEG, PNG and WebP decoders only,
  the pixel limit settings.PHOTO_MAX_PIXELS, a memory budget, reduced-scale
  JPEG decoding). Decoding, not Pillow's verify(), is what notices a JPEG cut
  short. A multi-picture JPEG (MPO, written by some phones and cameras) is a
  JPEG whose first picture every viewer shows, and is accepted as one. The
  original bytes are stored unchanged: the pen pal should see the page as it
  was scanned, and only that pen pal and staff ever can.
- PDF goes through penpals.pdfs.check_pdf, the one check every uploaded PDF
  passes: parsed by pypdf in a child process within a time and memory
  budget, refused when cut short, damaged, encrypted, or carrying anything a
  viewer would run by itself (JavaScript, launch actions, embedded files,
  additional actions, form submission, XFA, links into other files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from penpals import filetypes
from penpals.images import PhotoRejected, decode
from penpals.pdfs import PdfRefused, check_pdf
from penpals.uploads import megabytes


@dataclass(frozen=True)
class ScanKind:
    content_type: str
    extension: str


JPEG = ScanKind("image/jpeg", ".jpg")
PNG = ScanKind("image/png", ".png")
PDF = ScanKind("application/pdf", ".pdf")

# What Pillow may call a file that starts like each kind. MPO is Pillow's name
# for a JPEG with more pictures after the first.
_PILLOW_FORMATS = {JPEG: {"JPEG", "MPO"}, PNG: {"PNG"}}


def check_scan(uploaded_file) -> ScanKind:
    """What the uploaded page is, or ValidationError naming the file and the reason.

    Reads the whole file (at most settings.SCAN_MAX_UPLOAD_BYTES) and leaves it
    rewound for storing.
    """
    name = PurePosixPath(uploaded_file.name or gettext("file")).name
    limit = settings.SCAN_MAX_UPLOAD_BYTES
    if uploaded_file.size == 0:
        raise ValidationError(gettext("%(name)s is empty.") % {"name": name})
    if uploaded_file.size > limit:
        raise ValidationError(
            gettext("%(name)s is %(size)s; each page may be at most %(limit)s.")
            % {"name": name, "size": megabytes(uploaded_file.size), "limit": megabytes(limit)}
        )
    uploaded_file.seek(0)
    content = uploaded_file.read(limit + 1)
    uploaded_file.seek(0)
    try:
        return scan_kind(content)
    except ValidationError as error:
        raise ValidationError(
            gettext("%(name)s: %(reason)s") % {"name": name, "reason": " ".join(error.messages)}
        ) from None


def scan_kind(content: bytes) -> ScanKind:
    """What `content` is (JPEG, PNG or PDF), or ValidationError with the reason.

    Also the check of a signed consent form (profiles.forms.ConsentForm).
    """
    found = filetypes.sniff(content[: filetypes.HEAD_BYTES])
    if found is filetypes.PDF:
        try:
            check_pdf(content)
        except PdfRefused as refusal:
            raise ValidationError(str(refusal)) from None
        return PDF
    if found in (filetypes.JPEG, filetypes.PNG):
        expected = JPEG if found is filetypes.JPEG else PNG
        check_image(content, expected)
        return expected
    raise ValidationError(
        gettext("this is not a JPEG, PNG or PDF file. Scan the pages to one of those.")
    )


def check_image(content: bytes, expected: ScanKind) -> None:
    try:
        image = decode(content, settings.PHOTO_MAX_PIXELS)
    except PhotoRejected as rejection:
        raise ValidationError(rejection.translated()) from None
    if image.format not in _PILLOW_FORMATS[expected]:
        raise ValidationError(gettext("this image is damaged or incomplete; scan the page again."))
