"""Checks on one scanned page of a reply before it is stored.

Told by content, never by name or the browser's content type:

- JPEG and PNG are decoded (through profiles.photos.decode, the one place
  that lets Pillow parse uploaded images: JPEG, PNG and WebP decoders only,
  the pixel limit settings.PHOTO_MAX_PIXELS, a memory budget, reduced-scale
  JPEG decoding). Decoding, not Pillow's verify(), is what notices a JPEG cut
  short. The original bytes are stored unchanged: the pen pal should see the
  page as it was scanned, and only that pen pal and staff ever can.
- PDF must start with %PDF- and end with %%EOF (an upload cut short does
  not), and must not carry active content: JavaScript, launch actions or
  embedded files. Names are read after undoing #xx escapes (/J#61vaScript is
  /JavaScript) and inside compressed object streams, where a PDF writer may
  put any dictionary; an encrypted PDF cannot be checked and is refused.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError

from profiles.forms import megabytes
from profiles.photos import PhotoRejected, decode

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Where %%EOF must appear: a few trailing bytes (line ends, padding) are usual.
PDF_TRAILER_WINDOW = 1024
# Object streams hold dictionaries only, and are small; one that inflates past
# this is not something a scanner wrote.
OBJECT_STREAM_MAX_BYTES = 20_000_000

UNCHECKABLE_PDF = "this PDF is built in a way we cannot check; upload the pages as images."

# Names that make a PDF do something when opened, or carry other files.
_FORBIDDEN_PDF_NAMES = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?)(?=[\s()<>\[\]{}/%]|$)")
_PDF_ENCRYPT = re.compile(rb"/Encrypt(?=[\s()<>\[\]{}/%]|$)")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM_START = re.compile(rb">>\s*stream\r?\n")
_PDF_OBJECT_HEADER = re.compile(rb"\d+\s+\d+\s+obj\b")
_PDF_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+)")


@dataclass(frozen=True)
class ScanKind:
    content_type: str
    extension: str


JPEG = ScanKind("image/jpeg", ".jpg")
PNG = ScanKind("image/png", ".png")
PDF = ScanKind("application/pdf", ".pdf")


def check_scan(uploaded_file) -> ScanKind:
    """What the uploaded page is, or ValidationError naming the file and the reason.

    Reads the whole file (at most settings.SCAN_MAX_UPLOAD_BYTES) and leaves it
    rewound for storing.
    """
    name = PurePosixPath(uploaded_file.name or "file").name
    limit = settings.SCAN_MAX_UPLOAD_BYTES
    if uploaded_file.size == 0:
        raise ValidationError(f"{name} is empty.")
    if uploaded_file.size > limit:
        raise ValidationError(
            f"{name} is {megabytes(uploaded_file.size)}; each page may be at most {megabytes(limit)}."
        )
    uploaded_file.seek(0)
    content = uploaded_file.read(limit + 1)
    uploaded_file.seek(0)
    try:
        return scan_kind(content)
    except ValidationError as error:
        raise ValidationError(f"{name}: {' '.join(error.messages)}") from None


def scan_kind(content: bytes) -> ScanKind:
    if content.startswith(PDF_MAGIC):
        check_pdf(content)
        return PDF
    if content.startswith((JPEG_MAGIC, PNG_MAGIC)):
        expected = JPEG if content.startswith(JPEG_MAGIC) else PNG
        check_image(content, expected)
        return expected
    raise ValidationError("this is not a JPEG, PNG or PDF file. Scan the pages to one of those.")


def check_image(content: bytes, expected: ScanKind) -> None:
    try:
        image = decode(content, settings.PHOTO_MAX_PIXELS)
    except PhotoRejected as rejection:
        raise ValidationError(str(rejection)) from None
    if image.format != expected.content_type.split("/")[1].upper():
        raise ValidationError("this image is damaged or incomplete; scan the page again.")


def check_pdf(content: bytes) -> None:
    if not content.startswith(PDF_MAGIC) or b"%%EOF" not in content[-PDF_TRAILER_WINDOW:]:
        raise ValidationError("this PDF looks incomplete; upload it again.")
    skeleton, streams = split_pdf(content)
    if _PDF_ENCRYPT.search(skeleton):
        raise ValidationError(
            "this PDF is encrypted or password-protected, so it cannot be checked. "
            "Save it without a password, or upload the pages as images."
        )
    object_streams = (
        object_stream_text(dictionary, data)
        for dictionary, data in streams
        if b"/ObjStm" in dictionary
    )
    for part in (skeleton, *object_streams):
        if match := _FORBIDDEN_PDF_NAMES.search(part):
            what = {
                b"JavaScript": "JavaScript",
                b"JS": "JavaScript",
                b"Launch": "a launch action",
            }.get(match.group(1), "embedded files")
            raise ValidationError(
                f"this PDF contains {what}, which we do not accept. "
                "Print it and scan the paper, or upload the pages as images."
            )


def split_pdf(content: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The file without its stream data (every dictionary, with #xx escapes
    undone), and each stream's (dictionary, raw data).

    Stream data (scanned images, mostly) is left out of the name search:
    random image bytes would now and then spell "/JS" and refuse a good scan.
    """
    pieces, streams, position = [], [], 0
    for match in _PDF_STREAM_START.finditer(content):
        if match.start() < position:
            continue  # inside the data of the stream before
        data_end = content.find(b"endstream", match.end())
        if data_end == -1:
            raise ValidationError("this PDF is damaged; upload it again.")
        head = unescape_pdf_names(content[position : match.end()])
        headers = list(_PDF_OBJECT_HEADER.finditer(head))
        dictionary = head[headers[-1].end() :] if headers else head
        pieces.append(head)
        streams.append((dictionary, content[match.end() : data_end]))
        position = data_end
    pieces.append(unescape_pdf_names(content[position:]))
    return b"".join(pieces), streams


def unescape_pdf_names(content: bytes) -> bytes:
    """#xx escapes undone, so /J#61vaScript reads /JavaScript. Applied to
    every byte outside streams, which can only add matches, never hide one."""
    return _PDF_NAME_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), content)


def object_stream_text(dictionary: bytes, data: bytes) -> bytes:
    """The dictionaries inside an object stream. PDF writers compress them
    with Flate, or not at all; any other filter is refused as uncheckable."""
    filter_value = _PDF_FILTER.search(dictionary)
    if filter_value is None:
        return unescape_pdf_names(data)
    filters = re.findall(rb"/([^\s/\[\]<>()]+)", filter_value.group(1))
    if filters != [b"FlateDecode"] or b"/DecodeParms" in dictionary:
        raise ValidationError(UNCHECKABLE_PDF)
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, OBJECT_STREAM_MAX_BYTES)
    except zlib.error:
        raise ValidationError(UNCHECKABLE_PDF) from None
    if inflater.unconsumed_tail:
        raise ValidationError(UNCHECKABLE_PDF)
    return unescape_pdf_names(inflated)
