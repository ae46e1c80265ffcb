"""Images from uploads: the only code that lets Pillow parse uploaded data.

`decode` identifies and decodes an upload within a pixel limit and a memory
budget (a reply page's scan and a consent form pass it too: penpals.scans);
`process_original` makes a profile photo's public display and thumbnail from
an original (bytes in, bytes out). The choices they make are explained in
profiles.photos, which runs them for profile photos.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext, gettext_noop
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from penpals.filetypes import HEAD_BYTES, JPEG, PNG, WEBP, sniff

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# The most memory one decode may need, estimated from the header before decoding.
DECODE_MEMORY_BUDGET = 300_000_000
# Peak memory measured per pixel when decoding and resizing these (worst mode: PNG with alpha).
FULL_SIZE_DECODE_BYTES_PER_PIXEL = {"PNG": 9, "WEBP": 16}
DISPLAY_MAX_SIDE = 1200
THUMBNAIL_MAX_SIDE = 320
DISPLAY_QUALITY = 82
THUMBNAIL_QUALITY = 80
OUTPUT_FORMAT = "WEBP"
OUTPUT_EXTENSION = ".webp"

# Reasons are English where they are kept (a photo's status_reason is a
# record); marked with gettext_noop so PhotoRejected.translated() can show
# them in the reader's language.
NOT_AN_IMAGE = gettext_noop("This file is not a JPEG, PNG or WebP image.")
DAMAGED = gettext_noop("This image file is damaged or incomplete.")
EMPTY = gettext_noop("This file is empty.")
# What Pillow and the libraries under it raise for malformed input.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
# The EXIF block is parsed again for orientation; a mangled one is ignored.
_EXIF_ERRORS = (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)
_METADATA_CHUNKS = (b"EXIF", b"ICCP", b"XMP ")


class PhotoRejected(Exception):
    """The upload is not a photo we can publish. str() is the reason in English
    (what a photo's record keeps); translated() is the same reason in the
    active language, for a page. `message` is a gettext_noop() constant with
    named placeholders filled from `params`."""

    def __init__(self, message: str, params: dict[str, object] | None = None) -> None:
        self.message = message
        self.params = params or {}
        super().__init__(message % self.params if self.params else message)

    def translated(self) -> str:
        text = gettext(self.message)
        return text % self.params if self.params else text


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes
    thumbnail: bytes
    format: str
    width: int
    height: int


# --- The pure part: bytes in, bytes out ------------------------------------------------


def process_original(
    original, *, max_bytes: int | None = None, max_pixels: int | None = None
) -> ProcessedPhoto:
    """Validate an original and make its public display and thumbnail.

    `original` is a binary file object. Raises PhotoRejected with a reason a
    liaison can act on. Errors reading `original` itself (storage) propagate
    unchanged so the caller can retry them; everything Pillow does happens on
    an in-memory copy, so its errors are always about the content.
    """
    max_bytes = settings.PHOTO_MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    max_pixels = settings.PHOTO_MAX_PIXELS if max_pixels is None else max_pixels
    content = read_at_most(original, max_bytes)
    image = decode(content, max_pixels)
    display = make_display(image)
    thumbnail = fit_within(display, THUMBNAIL_MAX_SIDE)
    return ProcessedPhoto(
        display=encode_without_metadata(display, DISPLAY_QUALITY),
        thumbnail=encode_without_metadata(thumbnail, THUMBNAIL_QUALITY),
        format=OUTPUT_FORMAT,
        width=display.width,
        height=display.height,
    )


def read_at_most(original, max_bytes: int) -> bytes:
    # One byte more than allowed tells "too big" apart without reading all of it.
    content = original.read(max_bytes + 1)
    if not content:
        raise PhotoRejected(EMPTY)
    if len(content) > max_bytes:
        raise PhotoRejected(
            gettext_noop("This file is larger than %(size)s MB, the most we accept for a photo."),
            {"size": f"{max_bytes / 1_000_000:g}"},
        )
    return content


def decode(content: bytes, max_pixels: int) -> Image.Image:
    """Identify and decode the image; return it loaded, at reduced scale for JPEG."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched it on for the whole process; half an image would be
        # published as if whole, so refuse to work rather than comply.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False.")
    too_many_pixels = PhotoRejected(
        gettext_noop(
            "This image has more pixels than we can safely process; "
            "the most we accept is %(megapixels)s megapixels."
        ),
        {"megapixels": f"{max_pixels / 1_000_000:g}"},
    )
    # Pillow's own bomb check warns before it errors; make the warning an
    # error too, for this block only (catch_warnings restores the filters; it
    # is not thread-safe, and workers run one task per process).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content), formats=ACCEPTED_FORMATS)
            check_size_limits(image, max_pixels)
            decode_reduced(image)
        except UnidentifiedImageError:
            # Pillow says the same of a zip and of a JPEG whose header is cut short.
            reason = DAMAGED if has_accepted_signature(content) else NOT_AN_IMAGE
            raise PhotoRejected(reason) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_many_pixels from None
        except _DECODE_ERRORS:
            raise PhotoRejected(DAMAGED) from None
    return image


def has_accepted_signature(content: bytes) -> bool:
    """Whether the file starts like a JPEG, PNG or WebP, whatever follows."""
    return sniff(content[:HEAD_BYTES]) in (JPEG, PNG, WEBP)


def check_size_limits(image: Image.Image, max_pixels: int) -> None:
    # The size comes from the header: nothing has been decoded yet.
    width, height = image.size
    if width * height > max_pixels:
        raise PhotoRejected(
            gettext_noop(
                "This image is %(width)s × %(height)s pixels; "
                "the most we accept is %(megapixels)s megapixels."
            ),
            {"width": width, "height": height, "megapixels": f"{max_pixels / 1_000_000:g}"},
        )
    if estimated_decode_bytes(image) > DECODE_MEMORY_BUDGET:
        kind = (
            "progressive JPEG"
            if isinstance(image, JpegImageFile)
            else {"PNG": "PNG", "WEBP": "WebP"}[str(image.format)]
        )
        raise PhotoRejected(
            gettext_noop(
                "This %(kind)s image is %(width)s × %(height)s pixels, too large to process "
                "safely in that format; save it as a standard JPEG, or at a smaller size, and "
                "upload it again."
            ),
            {"kind": kind, "width": width, "height": height},
        )


def estimated_decode_bytes(image: Image.Image) -> int:
    """Memory the decode will need beyond a small baseline, from the header alone."""
    width, height = image.size
    if not isinstance(image, JpegImageFile):
        return width * height * FULL_SIZE_DECODE_BYTES_PER_PIXEL[str(image.format)]
    if not image.info.get("progressive"):
        return 0  # decoded at reduced scale: a few tens of MB whatever the size
    # libjpeg buffers every coefficient of a progressive JPEG at full resolution,
    # 2 bytes a sample, for each component at its own sampling.
    layers = image.layer  # (component id, horizontal sampling, vertical sampling, table)
    max_h = max(layer[1] for layer in layers)
    max_v = max(layer[2] for layer in layers)
    return sum(
        2 * math.ceil(width * layer[1] / max_h) * math.ceil(height * layer[2] / max_v)
        for layer in layers
    )


def decode_reduced(image: Image.Image) -> None:
    # JpegImageFile covers MPO too (a JPEG with extra frames).
    if isinstance(image, JpegImageFile):
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding; ask for the display
        # size (aspect kept) so a 50-megapixel photo decodes to a few megapixels.
        # A square request would decode a long panorama at full size.
        image.draft("RGB", fit_size(image.size, DISPLAY_MAX_SIDE))
    image.load()


def make_display(image: Image.Image) -> Image.Image:
    resized = fit_within(to_resizable_mode(image), DISPLAY_MAX_SIDE)
    # Rotating after the resize touches far fewer pixels; resize keeps the
    # image's info, EXIF block included, so the orientation is still known.
    return flatten_onto_white(upright(resized))


def to_resizable_mode(image: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA: the modes Lanczos resizing handles well."""
    if image.mode in ("L", "LA", "RGB", "RGBA") and "transparency" not in image.info:
        return image
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale to 8 bits (a plain convert would clip to white).
        return image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    size = fit_size(image.size, max_side)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except _EXIF_ERRORS:
        # A mangled EXIF block: the pixels are fine, show them as stored.
        return image


def flatten_onto_white(image: Image.Image) -> Image.Image:
    """A fresh RGB image holding only the pixels: no info, EXIF, ICC or XMP."""
    clean = Image.new("RGB", image.size, "white")
    if image.mode in ("LA", "RGBA"):
        clean.paste(image.convert("RGB"), mask=image.getchannel("A"))
    else:
        clean.paste(image.convert("RGB"))
    return clean


def encode_without_metadata(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    # No exif=, icc_profile= or xmp=: the writer adds only what it is given.
    image.save(buffer, OUTPUT_FORMAT, quality=quality, method=4)
    encoded = buffer.getvalue()
    leaked = set(webp_chunk_ids(encoded)) & set(_METADATA_CHUNKS)
    if leaked:
        raise RuntimeError(f"Encoded photo still carries metadata chunks {sorted(leaked)}.")
    return encoded


def webp_chunk_ids(encoded: bytes):
    """The ids of a WebP file's top-level RIFF chunks (VP8, VP8X, EXIF, ICCP...)."""
    position = 12  # after "RIFF", the length and "WEBP"
    while position + 8 <= len(encoded):
        chunk_id = encoded[position : position + 4]
        length = int.from_bytes(encoded[position + 4 : position + 8], "little")
        yield chunk_id
        position += 8 + length + (length & 1)
