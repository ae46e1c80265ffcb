"""Hostile uploads, made by the tests (nothing binary is checked in), and the
harness that feeds them through the upload paths.

Every file is small except the 100 MB one, which is written sparse to disk
and streamed into the request, so no test holds it in memory.
"""

from __future__ import annotations

import io
import random
import struct
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from tests.factories import MINIMAL_PDF
from tests.hostile.pdfs import (
    action,
    encrypted_pdf,
    javascript,
    mpo_jpeg,
    pdf_hiding_an_object,
    pdf_with_catalog,
    pdf_with_form_field,
    pdf_with_page,
    pillow_pdf,
)

HUNDRED_MB = 100 * 1_000_000
SCRIPT = b"<script>alert(document.cookie)</script>"


# --- Files --------------------------------------------------------------------------------


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def noisy_image(size=(320, 240), seed: int = 7) -> Image.Image:
    # Noise keeps the compressed data long, so a cut lands in the middle of it.
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def valid_jpeg() -> bytes:
    return encode(noisy_image(), "JPEG", quality=85)


def valid_png() -> bytes:
    return encode(noisy_image((160, 120)).convert("RGBA"), "PNG")


def truncated_jpeg() -> bytes:
    content = valid_jpeg()
    return content[: len(content) // 2]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, rows: int | None = None) -> bytes:
    """A well-formed 1-bit PNG whose header says width x height.

    With `rows` None every row is there (all black): a decompression bomb,
    tiny on disk, width x height pixels once decoded. With a number, only that
    many rows follow: a header that lies about the size.
    """
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    count = height if rows is None else rows
    idat = b"".join(compressor.compress(row) for _ in range(count)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def huge_declared_png() -> bytes:
    """100,000 x 100,000 pixels by its header (10 gigapixels), a few hundred bytes long."""
    return png_declaring(100_000, 100_000, rows=1)


def decompression_bomb_png() -> bytes:
    """10,000 x 10,000 real pixels (100 megapixels) in about 15 kB: over the
    project's limit, and under the size at which Pillow itself refuses."""
    return png_declaring(10_000, 10_000)


def zip_bytes(name: str = "payload.html", content: bytes = SCRIPT) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return out.getvalue()


def jpeg_zip_polyglot() -> bytes:
    """A whole JPEG with a zip after it: image viewers show the photo, zip tools
    open the archive (they read the directory at the end)."""
    content = valid_jpeg() + zip_bytes()
    assert zipfile.is_zipfile(io.BytesIO(content))
    return content


def jpeg_html_polyglot() -> bytes:
    """A whole JPEG whose comment segment is an HTML page with a script, for a
    browser that sniffs the content instead of trusting the type."""
    content = encode(noisy_image(), "JPEG", quality=85, comment=b"<html><body>" + SCRIPT)
    assert SCRIPT in content
    return content


def pdf_with_javascript() -> bytes:
    return MINIMAL_PDF.replace(
        b"/Type/Catalog",
        b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.launchURL('https://evil.example'))>>",
    )


def svg_with_script() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        b'<rect width="64" height="64" fill="red"/>' + SCRIPT + b"</svg>"
    )


@dataclass(frozen=True)
class Hostile:
    """One file of the corpus: what it is called and what it holds."""

    id: str
    filename: str
    content: bytes


def corpus() -> list[Hostile]:
    """Every hostile file small enough to hold in memory (the 100 MB one is streamed)."""
    return [
        Hostile("truncated-jpeg", "photo.jpg", truncated_jpeg()),
        Hostile("huge-declared-png", "photo.png", huge_declared_png()),
        Hostile("decompression-bomb", "photo.png", decompression_bomb_png()),
        Hostile("jpeg-zip-polyglot", "photo.jpg", jpeg_zip_polyglot()),
        Hostile("jpeg-html-polyglot", "photo.jpg", jpeg_html_polyglot()),
        Hostile("pdf-with-javascript", "scan.pdf", pdf_with_javascript()),
        Hostile("svg-with-script", "photo.svg", svg_with_script()),
        Hostile("zip-renamed-jpg", "photo.jpg", zip_bytes()),
        Hostile("empty", "photo.jpg", b""),
        Hostile("multi-picture-jpeg", "photo.jpg", mpo_jpeg()),
        Hostile(
            "pdf-page-additional-actions",
            "scan.pdf",
            pdf_with_page(AA=DictionaryObject({NameObject("/O"): javascript()})),
        ),
        Hostile(
            "pdf-submit-form",
            "scan.pdf",
            pdf_with_form_field(A=action("/SubmitForm", F=TextStringObject("https://x.example"))),
        ),
        Hostile(
            "pdf-xfa-form",
            "scan.pdf",
            pdf_with_catalog(
                AcroForm=DictionaryObject(
                    {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): ArrayObject()}
                )
            ),
        ),
        Hostile(
            "pdf-hidden-javascript",
            "scan.pdf",
            pdf_hiding_an_object(b"<</S/JavaScript/JS(app.alert(1))>>"),
        ),
        Hostile("pdf-encrypted", "scan.pdf", encrypted_pdf()),
        Hostile("pdf-by-pillow", "scan.pdf", pillow_pdf()),
    ]


CORPUS = {hostile.id: hostile for hostile in corpus()}


# --- Watching Pillow --------------------------------------------------------------------


class DecodeWatch:
    """Every pixel buffer Pillow allocates to decode a file (ImageFile.load_prepare),
    with its size: a bomb refused before decoding leaves no buffer behind."""

    def __init__(self, monkeypatch):
        self.sizes: list[tuple[int, int]] = []
        real_load_prepare = ImageFile.ImageFile.load_prepare
        watch = self

        def load_prepare(image):
            watch.sizes.append(image.size)
            return real_load_prepare(image)

        monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", load_prepare)

    @property
    def largest_pixels(self) -> int:
        return max((width * height for width, height in self.sizes), default=0)


# --- Storage under watch ------------------------------------------------------------------


@dataclass(frozen=True)
class MediaDirs:
    public: Path
    private: Path
    upload_temp: Path

    def files(self) -> list[Path]:
        """Every file in public and private storage and in the upload temp folder."""
        return sorted(
            path
            for folder in (self.public, self.private, self.upload_temp)
            for path in folder.rglob("*")
            if path.is_file()
        )

    def public_files(self) -> list[Path]:
        return sorted(path for path in self.public.rglob("*") if path.is_file())

    def private_files(self) -> list[Path]:
        return sorted(path for path in self.private.rglob("*") if path.is_file())


def isolate_media(tmp_path: Path, settings, monkeypatch) -> MediaDirs:
    """Public and private storage, and Django's upload temp folder, in folders
    of this test's own, so every file a request leaves behind is seen."""
    from django.core.files.storage import storages

    from messaging.models import LetterScan
    from profiles.models import InmateProfile, ProfilePhoto

    dirs = MediaDirs(tmp_path / "public", tmp_path / "private", tmp_path / "upload-temp")
    for folder in (dirs.public, dirs.private, dirs.upload_temp):
        folder.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(dirs.public), "base_url": settings.MEDIA_URL},
        },
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(dirs.private)},
        },
    }
    settings.FILE_UPLOAD_TEMP_DIR = str(dirs.upload_temp)
    # Private file fields resolved their storage when the models were loaded.
    for model, name in (
        (InmateProfile, "consent_form"),
        (ProfilePhoto, "original"),
        (LetterScan, "file"),
    ):
        monkeypatch.setattr(model._meta.get_field(name), "storage", storages["private"])
    return dirs


# --- A 100 MB upload, streamed ------------------------------------------------------------


def post_streamed_file(
    client,
    url: str,
    folder: Path,
    *,
    fields: dict[str, str],
    file_field: str,
    filename: str,
    size: int = HUNDRED_MB,
    head: bytes = b"\xff\xd8\xff\xe0",
):
    """POST a multipart form whose one file is `size` bytes (starting with
    `head`, zeros after), through the test client, without holding it in memory.

    The body is written to a sparse file and handed to the request as its
    input stream, so Django parses it as it would a slow upload from a browser.
    """
    boundary = f"----hostile{uuid.uuid4().hex}"
    body_path = folder / f"body-{uuid.uuid4().hex}"
    with open(body_path, "wb") as body:
        for name, value in fields.items():
            body.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        body.write(head)
        body.truncate(body.tell() + size - len(head))  # sparse: no disk blocks, no memory
        body.seek(0, io.SEEK_END)
        body.write(f"\r\n--{boundary}--\r\n".encode())
    try:
        with open(body_path, "rb") as stream:
            return client.request(
                REQUEST_METHOD="POST",
                PATH_INFO=url,
                CONTENT_TYPE=f"multipart/form-data; boundary={boundary}",
                CONTENT_LENGTH=str(body_path.stat().st_size),
                **{"wsgi.input": stream},
            )
    finally:
        body_path.unlink()
