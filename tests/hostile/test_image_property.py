"""Property: whatever bytes arrive as a photo, the pipeline (the upload form,
the upload service, the processing task) ends in "ready" or in "rejected"
with a reason; never an exception, never a photo left uploaded, processing
or failed, never a pixel buffer beyond the project's limit.

Hypothesis mutates small valid images (a JPEG with EXIF orientation and
GPS, an RGBA PNG, a palette PNG with transparency): bit flips, truncation,
inserted bytes, overwritten header bytes, and edited image dimensions (with
the PNG header's checksum mended, so the edit reaches the decoder).
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from penpals.images import DISPLAY_MAX_SIDE, THUMBNAIL_MAX_SIDE
from profiles.forms import PhotoUploadForm
from profiles.models import ProfilePhoto
from profiles.photos import PROCESSING_FAILED
from profiles.services import check_upload_photo
from profiles.tasks import process_photo
from tests.factories import InmateProfileFactory
from tests.hostile.corpus import DecodeWatch, encode, isolate_media, noisy_image

pytestmark = pytest.mark.django_db

Status = ProfilePhoto.Status


def jpeg_from_a_phone() -> bytes:
    """Stored sideways (EXIF orientation 6) with a GPS block: mutations reach the EXIF parser."""
    image = noisy_image((48, 32))
    exif = image.getexif()
    exif[0x0112] = 6  # orientation
    exif.get_ifd(0x8825)[2] = (40.0, 26.0, 46.3)  # GPS latitude
    return encode(image, "JPEG", quality=80, exif=exif)


SEEDS = {
    "jpeg": jpeg_from_a_phone(),
    "png": encode(noisy_image((24, 16)).convert("RGBA"), "PNG"),
    "png-palette": encode(noisy_image((24, 16)).convert("P"), "PNG", transparency=3),
}
JPEG_FRAME_MARKERS = (b"\xff\xc0", b"\xff\xc2")  # baseline, progressive
HEADER_BYTES = 64


# --- Mutations ------------------------------------------------------------------------------


def set_dimensions(content: bytearray, width: int, height: int) -> None:
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 33:
        content[16:24] = struct.pack(">II", width, height)
        content[29:33] = struct.pack(">I", zlib.crc32(bytes(content[12:29])))  # IHDR's CRC
        return
    for marker in JPEG_FRAME_MARKERS:
        # Start of frame: marker, length (2), precision (1), height (2), width (2).
        at = content.find(marker)
        if at != -1 and at + 9 <= len(content):
            content[at + 5 : at + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
            return


def mutate(seed: str, mutations: list[tuple]) -> bytes:
    """Apply mutations in order; positions wrap around the current length."""
    content = bytearray(SEEDS[seed])
    for kind, *args in mutations:
        if not content:
            break
        if kind == "flip":
            position, bit = args
            content[position % len(content)] ^= 1 << bit
        elif kind == "truncate":
            (keep,) = args
            del content[keep % len(content) :]
        elif kind == "insert":
            position, inserted = args
            at = position % (len(content) + 1)
            content[at:at] = inserted
        elif kind == "header":
            position, written = args
            at = position % min(len(content), HEADER_BYTES)
            content[at : at + len(written)] = written
        elif kind == "dimensions":
            set_dimensions(content, *args)
    return bytes(content)


positions = st.integers(min_value=0, max_value=1 << 16)
mutation = st.one_of(
    st.tuples(st.just("flip"), positions, st.integers(min_value=0, max_value=7)),
    st.tuples(st.just("truncate"), positions),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("header"), positions, st.binary(min_size=1, max_size=8)),
    st.tuples(
        st.just("dimensions"),
        st.integers(min_value=0, max_value=120_000),
        st.integers(min_value=0, max_value=120_000),
    ),
)


# --- The pipeline ---------------------------------------------------------------------------


def run_pipeline(liaison, facility, content: bytes) -> ProfilePhoto | list[str]:
    """The photo as the pipeline leaves it, or the upload form's errors."""
    form = PhotoUploadForm(
        {}, MultiValueDict({"photos": [SimpleUploadedFile("photo.jpg", content)]})
    )
    if not form.is_valid():
        return form.errors["photos"]
    profile = InmateProfileFactory(facility=facility)  # its own: no duplicate-file shortcut
    photo, created = check_upload_photo(liaison, profile, form.cleaned_data["photos"][0])
    assert created and photo.status == Status.UPLOADED
    assert process_photo(photo.pk) in ("ready", "rejected")  # the task body, in-process
    photo.refresh_from_db()
    return photo


def assert_clean_variant(name: str, max_side: int) -> None:
    with default_storage.open(name, "rb") as stored:
        image = Image.open(io.BytesIO(stored.read()))
        assert image.format == "WEBP"
        assert max(image.size) <= max_side
        assert not {"exif", "icc_profile", "xmp"} & set(image.info)


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


@pytest.fixture
def media(tmp_path, settings, monkeypatch):
    return isolate_media(tmp_path, settings, monkeypatch)


@pytest.fixture
def decodes(monkeypatch) -> DecodeWatch:
    return DecodeWatch(monkeypatch)


@pytest.fixture(scope="module")
def outcome_counts():
    """How the examples ended, printed with the run's time (pytest -s)."""
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    yield outcomes
    print(f"\nimage property: {outcomes} in {time.monotonic() - started:.1f} s")


# Mangled EXIF blocks make Pillow warn ("Corrupt EXIF data"); the pipeline ignores them.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
# The fixtures (a liaison, isolated storage, Pillow watched) are made once for
# all examples, which is what we want: every example makes its own profile and
# photo, and checks only those.
@settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.sampled_from(sorted(SEEDS)),
    mutations=st.lists(mutation, min_size=1, max_size=3),
)
@example(seed="jpeg", mutations=[("truncate", 300)])
@example(seed="png", mutations=[("dimensions", 100_000, 100_000)])
@example(seed="png", mutations=[("dimensions", 7_000, 7_000)])
@example(seed="jpeg", mutations=[("dimensions", 65_535, 65_535)])
@example(seed="jpeg", mutations=[("dimensions", 0, 0)])
def test_the_photo_pipeline_ends_ready_or_rejected_with_a_reason(
    liaison, facility, media, decodes, settings, outcome_counts, seed, mutations
):
    content = mutate(seed, mutations)
    decodes.sizes.clear()
    outcome = run_pipeline(liaison, facility, content)
    if isinstance(outcome, list):  # refused by the upload form: only an empty file can be
        assert content == b"" and outcome == ["photo.jpg is empty."]
        outcome_counts["refused by the form"] = outcome_counts.get("refused by the form", 0) + 1
        return
    photo = outcome
    assert photo.status in (Status.READY, Status.REJECTED), (photo.status, photo.status_reason)
    assert decodes.largest_pixels <= settings.PHOTO_MAX_PIXELS, decodes.sizes
    outcome_counts[photo.status] = outcome_counts.get(photo.status, 0) + 1
    if photo.status == Status.REJECTED:
        assert photo.status_reason and photo.status_reason != PROCESSING_FAILED
        assert not photo.display and not photo.thumbnail
        return
    assert photo.status_reason == ""
    assert 0 < photo.width <= DISPLAY_MAX_SIDE and 0 < photo.height <= DISPLAY_MAX_SIDE
    assert_clean_variant(photo.display.name, DISPLAY_MAX_SIDE)
    assert_clean_variant(photo.thumbnail.name, THUMBNAIL_MAX_SIDE)
