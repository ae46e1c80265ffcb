"""Photo processing: validate by content, orient, strip metadata, resize, publish.

Every image is made here with Pillow. Memory is measured in a fresh process
from the kernel's peak resident size (VmHWM): tracemalloc cannot see
Pillow's image buffers, which are allocated in C.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFile

from moderation.models import ModerationItem
from moderation.services import current_version, do_decide
from penpals import images
from penpals.celery import app as celery_app
from penpals.images import DAMAGED, NOT_AN_IMAGE, PhotoRejected, process_original
from profiles import photos
from profiles.models import ProfilePhoto
from profiles.photos import (
    ORIGINAL_MISSING,
    PROCESSING_FAILED,
    run_photo_processing,
    sweep_unprocessed_photos,
)
from profiles.services import PhotoUploadError, check_upload_photo
from profiles.tasks import process_photo
from tests.factories import InmateProfileFactory, ProfilePhotoFactory
from tests.utils import task_sends

ROOT = Path(__file__).resolve().parents[2]
Status = ProfilePhoto.Status
ORIENTATION = 0x0112
GPS_IFD = 0x8825
RED, BLUE = (220, 20, 20), (20, 20, 220)


# --- Images made for the tests ---------------------------------------------------------


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def two_colour_image(size: tuple[int, int]) -> Image.Image:
    """Red on the left half, blue on the right: shows which way is up after rotation."""
    image = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=RED)
    return image


def phone_jpeg() -> bytes:
    """A 1600 x 1200 JPEG stored sideways (EXIF orientation 6) with GPS, camera, ICC and XMP."""
    image = two_colour_image((1600, 1200))
    exif = image.getexif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (40.0, 26.0, 46.3)  # latitude
    gps[3], gps[4] = "W", (79.0, 58.0, 56.1)  # longitude
    return encode(
        image,
        "JPEG",
        exif=exif,
        icc_profile=b"not-really-an-icc-profile" * 8,
        xmp=b"<x:xmpmeta><exif:GPSLatitude>40,26N</exif:GPSLatitude></x:xmpmeta>",
    )


def png_with_alpha() -> bytes:
    """Opaque red on the left, fully transparent on the right."""
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 199, 299), fill=(*RED, 255))
    return encode(image, "PNG")


def noisy_jpeg(size=(600, 400)) -> bytes:
    # Noise keeps the scan data long, so cutting the file lands in the middle of it.
    return encode(Image.effect_noise(size, 60).convert("RGB"), "JPEG", quality=90)


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of black pixels: a few KB on disk, width x height when decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8\xff\xe0 hidden inside a zip")
    return out.getvalue()


def assert_no_metadata(encoded: bytes) -> None:
    image = Image.open(io.BytesIO(encoded))
    assert image.format == "WEBP"
    assert dict(image.getexif()) == {}
    assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp"} & set(image.info)
    for marker in (b"Exif", b"EXIF", b"ICCP", b"XMP ", b"GPS", b"PhoneMaker", b"xmpmeta"):
        assert marker not in encoded, marker


def dominant(pixel: tuple[int, int, int]) -> str:
    red, _, blue = pixel
    return "red" if red > blue else "blue"


# --- Photos in the database ------------------------------------------------------------


def uploaded_photo(content: bytes, **fields) -> ProfilePhoto:
    return cast(ProfilePhoto, ProfilePhotoFactory(original__data=content, **fields))


def processed(content: bytes) -> ProfilePhoto:
    photo = uploaded_photo(content)
    run_photo_processing(photo.pk)
    photo.refresh_from_db()
    return photo


def read_public(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        return stored.read()


def liaison_profile(liaison):
    return InmateProfileFactory(facility=liaison.facility_memberships.get().facility)


# --- Memory, measured in a fresh process -----------------------------------------------

MEASURE_SCRIPT = r"""
import io, json, re, sys
import django
django.setup()
from PIL import Image
from penpals import images

Image.init()  # plugin imports happen once per process, not per photo
decode_reduced = images.decode_reduced

def status_kb(key):
    with open("/proc/self/status") as status:
        return int(re.search(rf"^{key}:\s+(\d+) kB", status.read(), re.M).group(1))

peaks = {}
for name, path, mode in json.loads(sys.argv[1]):
    images.decode_reduced = (lambda image: image.load()) if mode == "without-draft" else decode_reduced
    content = open(path, "rb").read()
    before = status_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # reset the peak to the current size
    except OSError:
        pass  # the peak then includes what ran before: an overestimate, still a bound
    try:
        result = images.process_original(io.BytesIO(content))
        outcome = f"ready {result.width}x{result.height}"
    except images.PhotoRejected as rejection:
        outcome = str(rejection)
    del content
    peaks[name] = {"peak_mb": (status_kb("VmHWM") - before) / 1024, "outcome": outcome}
print(json.dumps(peaks))
"""


def fifty_megapixel_jpeg(path: Path) -> None:
    """An 8660 x 5774 photo-like JPEG (a sky, a face-sized disc, grass), about 1 MB."""
    image = Image.new("RGB", (8660, 5774), (90, 120, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((2000, 1000, 6000, 5000), fill=(200, 160, 120))
    draw.rectangle((0, 4000, 8660, 5774), fill=(40, 90, 40))
    image.save(path, "JPEG", quality=85)


@pytest.fixture(scope="module")
def memory_peaks(tmp_path_factory) -> dict:
    """Peak memory of processing each file, measured in one fresh process
    (starting Django takes seconds). Smallest first, in case the peak cannot
    be reset and each figure includes the ones before it."""
    if not Path("/proc/self/status").exists():
        pytest.skip("measures memory through /proc")
    folder = tmp_path_factory.mktemp("memory")
    (folder / "bomb-400mp.png").write_bytes(bomb_png(20000, 20000))
    (folder / "bomb-64mp.png").write_bytes(bomb_png(8000, 8000))
    fifty_megapixel_jpeg(folder / "50mp.jpg")
    runs = [
        ("bomb-400mp", str(folder / "bomb-400mp.png"), "normal"),
        ("bomb-64mp", str(folder / "bomb-64mp.png"), "normal"),
        ("50mp", str(folder / "50mp.jpg"), "normal"),
        ("50mp-without-draft", str(folder / "50mp.jpg"), "without-draft"),
    ]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_SCRIPT, json.dumps(runs)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "penpals.settings"},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    peaks = json.loads(result.stdout.strip().splitlines()[-1])
    print({name: f"{peak['peak_mb']:.1f} MB" for name, peak in peaks.items()})
    return peaks


# --- The pure function -----------------------------------------------------------------


def test_it_orients_resizes_and_strips_a_phone_jpeg():
    original = phone_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test is real
    result = process_original(io.BytesIO(original))
    assert (result.format, result.width, result.height) == ("WEBP", 900, 1200)
    display = Image.open(io.BytesIO(result.display))
    assert display.size == (900, 1200)
    # Stored sideways with red on the left: upright, red is on top.
    assert dominant(display.convert("RGB").getpixel((450, 100))) == "red"
    assert dominant(display.convert("RGB").getpixel((450, 1100))) == "blue"
    assert Image.open(io.BytesIO(result.thumbnail)).size == (240, 320)
    assert_no_metadata(result.display)
    assert_no_metadata(result.thumbnail)


def test_it_never_enlarges_a_small_photo():
    result = process_original(io.BytesIO(encode(two_colour_image((200, 150)), "PNG")))
    assert (result.width, result.height) == (200, 150)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (200, 150)


def test_it_reads_16_bit_greyscale_without_washing_it_out():
    grey = Image.new("I;16", (64, 64), 32768)
    result = process_original(io.BytesIO(encode(grey, "PNG")))
    red, green, blue = Image.open(io.BytesIO(result.display)).convert("RGB").getpixel((32, 32))
    assert 120 <= red <= 135 and abs(red - green) <= 2 and abs(red - blue) <= 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "This file is empty."),
        (b"x" * 101, "This file is larger than 0.0001 MB, the most we accept for a photo."),
    ],
    ids=["empty", "too-big"],
)
def test_it_refuses_empty_and_oversize_files(content, reason):
    with pytest.raises(PhotoRejected, match=reason):
        process_original(io.BytesIO(content), max_bytes=100)


def test_it_refuses_a_progressive_jpeg_too_big_to_decode_cheaply(monkeypatch):
    """libjpeg keeps every coefficient of a progressive JPEG, so draft mode does not help."""
    image = Image.effect_noise((1000, 1000), 40).convert("RGB")
    progressive = encode(image, "JPEG", progressive=True, subsampling=0)  # 6 MB of coefficients
    baseline = encode(image, "JPEG", subsampling=0)
    monkeypatch.setattr(images, "DECODE_MEMORY_BUDGET", 5_000_000)
    with pytest.raises(PhotoRejected, match=r"This progressive JPEG image is 1000 × 1000 pixels"):
        process_original(io.BytesIO(progressive))
    assert process_original(io.BytesIO(baseline)).width == 1000


def test_it_refuses_a_png_too_big_to_decode_at_full_size():
    with pytest.raises(PhotoRejected, match=r"This PNG image is 7000 × 8500 pixels, too large"):
        process_original(io.BytesIO(bomb_png(7000, 8500)))


def test_it_refuses_to_decode_if_truncated_images_were_allowed(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        process_original(io.BytesIO(noisy_jpeg()))


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_it_never_runs_another_decoder(monkeypatch, image_format):
    Image.init()
    ran = []
    for name, (_, accept) in list(Image.OPEN.items()):
        if name not in images.ACCEPTED_FORMATS:
            # A spy in place of every other format's parser: it must never be called.
            monkeypatch.setitem(Image.OPEN, name, (lambda *args, n=name: ran.append(n), accept))
    content = encode(two_colour_image((64, 48)), image_format)
    with pytest.raises(PhotoRejected, match=NOT_AN_IMAGE):
        process_original(io.BytesIO(content))
    assert ran == []


# One test process measures everything once (see memory_peaks).
@pytest.mark.xdist_group("photo-memory")
def test_it_decodes_a_fifty_megapixel_jpeg_in_draft_mode_in_little_memory(memory_peaks):
    with_draft, without_draft = memory_peaks["50mp"], memory_peaks["50mp-without-draft"]
    assert with_draft["outcome"] == without_draft["outcome"] == "ready 1200x800"
    assert with_draft["peak_mb"] < 64
    # The instrument sees Pillow's buffers: a full decode of 50 MP is ~200 MB.
    assert without_draft["peak_mb"] > 150


@pytest.mark.xdist_group("photo-memory")
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bomb-400mp", "This image has more pixels than we can safely process; the most"),
        ("bomb-64mp", "This image is 8000 × 8000 pixels; the most we accept is 60 megapixels."),
    ],
)
def test_it_refuses_a_decompression_bomb_without_decoding_it(memory_peaks, name, reason):
    assert memory_peaks[name]["outcome"].startswith(reason)
    assert memory_peaks[name]["peak_mb"] < 20


# --- The task body ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_publishes_an_upright_metadata_free_jpeg_and_keeps_the_original_private():
    photo = processed(phone_jpeg())
    assert photo.status == Status.READY
    assert (photo.width, photo.height, photo.status_reason) == (900, 1200, "")
    assert photo.processed_at is not None
    for variant in (photo.display, photo.thumbnail):
        assert variant.name.endswith(".webp")
        assert default_storage.exists(variant.name)
        assert not photo.original.storage.exists(variant.name)
        assert_no_metadata(read_public(variant.name))
    assert photo.display.name.startswith("photos/display/")
    assert photo.thumbnail.name.startswith("photos/thumbs/")
    # The original, GPS and all, stays where only access-checked views reach it.
    assert photo.original.storage.exists(photo.original.name)
    assert not default_storage.exists(photo.original.name)
    assert Path(photo.original.path).is_relative_to(settings.PRIVATE_MEDIA_ROOT)
    item = ModerationItem.objects.for_object(photo).get()
    assert (item.kind, item.status) == (ModerationItem.Kind.PHOTO, ModerationItem.Status.PENDING)
    assert item.facility == photo.profile.facility


@pytest.mark.django_db
def test_it_flattens_a_png_with_alpha_onto_white():
    photo = processed(png_with_alpha())
    assert photo.status == Status.READY
    display = Image.open(io.BytesIO(read_public(photo.display.name)))
    assert display.mode == "RGB"
    assert dominant(display.getpixel((50, 150))) == "red"
    assert min(display.getpixel((350, 150))) > 245  # transparent became white


@pytest.mark.django_db
def test_it_accepts_a_webp():
    photo = processed(encode(two_colour_image((640, 480)), "WEBP", quality=90))
    assert (photo.status, photo.width, photo.height) == (Status.READY, 640, 480)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (noisy_jpeg()[:6000], DAMAGED),
        (encode(two_colour_image((300, 200)), "PNG")[:-40], DAMAGED),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, DAMAGED),
        (zip_file(), NOT_AN_IMAGE),
        (b"Dear liaison, this is plain text saved as photo.jpg\n", NOT_AN_IMAGE),
        (encode(two_colour_image((64, 48)), "GIF"), NOT_AN_IMAGE),
        (encode(two_colour_image((64, 48)), "BMP"), NOT_AN_IMAGE),
        (encode(two_colour_image((64, 48)), "TIFF"), NOT_AN_IMAGE),
    ],
    ids=[
        "truncated-jpeg",
        "truncated-png",
        "jpeg-header-only",
        "zip",
        "text",
        "gif",
        "bmp",
        "tiff",
    ],
)
def test_it_rejects_what_is_not_a_whole_jpeg_png_or_webp(content, reason):
    photo = processed(content)
    assert (photo.status, photo.status_reason) == (Status.REJECTED, reason)
    assert not photo.display and not photo.thumbnail
    assert photo.original.storage.exists(photo.original.name)  # kept, private, for the audit
    assert not ModerationItem.objects.for_object(photo).exists()


@pytest.mark.django_db
def test_it_rejects_a_decompression_bomb_with_the_reason():
    photo = processed(bomb_png(20000, 20000))
    assert photo.status == Status.REJECTED
    assert "the most we accept is 60 megapixels" in photo.status_reason


@pytest.mark.django_db
def test_it_runs_twice_with_one_review_and_the_same_files():
    photo = processed(phone_jpeg())
    files = (photo.display.name, photo.thumbnail.name, read_public(photo.display.name))
    assert run_photo_processing(photo.pk) == "skipped"
    photo.refresh_from_db()
    assert (photo.display.name, photo.thumbnail.name, read_public(photo.display.name)) == files
    assert ModerationItem.objects.for_object(photo).count() == 1


@pytest.mark.django_db
def test_it_finishes_the_job_of_a_run_that_died_after_writing_files(monkeypatch):
    photo = uploaded_photo(phone_jpeg())

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(photos, "submit_for_review", database_gone)
        with pytest.raises(OperationalError):
            run_photo_processing(photo.pk)
    photo.refresh_from_db()
    assert photo.status == Status.PROCESSING  # left for the retry, not failed
    display_name, thumbnail_name = photos.variant_names(photo)
    assert default_storage.exists(display_name)  # the files were written

    assert run_photo_processing(photo.pk) == "ready"
    photo.refresh_from_db()
    assert (photo.display.name, photo.thumbnail.name) == (display_name, thumbnail_name)
    token = Path(display_name).stem
    _, display_files = default_storage.listdir("photos/display")
    assert [name for name in display_files if name.startswith(token)] == [f"{token}.webp"]
    assert ModerationItem.objects.for_object(photo).count() == 1


@pytest.mark.django_db
def test_it_leaves_storage_errors_to_the_task_retry(monkeypatch):
    photo = uploaded_photo(phone_jpeg())

    def storage_down(*args, **kwargs):
        raise ConnectionError("storage unreachable")

    monkeypatch.setattr(type(photo.original.storage), "open", storage_down)
    with pytest.raises(ConnectionError):
        run_photo_processing(photo.pk)
    photo.refresh_from_db()
    assert photo.status == Status.PROCESSING
    assert OSError in process_photo.autoretry_for


@pytest.mark.django_db
def test_it_fails_with_a_reason_when_the_original_is_missing():
    photo = uploaded_photo(phone_jpeg())
    photo.original.storage.delete(photo.original.name)
    assert run_photo_processing(photo.pk) == "failed"
    photo.refresh_from_db()
    assert (photo.status, photo.status_reason) == (Status.FAILED, ORIGINAL_MISSING)


@pytest.mark.django_db
def test_it_fails_and_logs_an_unexpected_error(monkeypatch, caplog):
    photo = uploaded_photo(noisy_jpeg())
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert run_photo_processing(photo.pk) == "failed"
    photo.refresh_from_db()
    assert (photo.status, photo.status_reason) == (Status.FAILED, PROCESSING_FAILED)
    assert not photo.display
    assert "photo processing failed" in caplog.text


@pytest.mark.django_db
def test_it_makes_an_approved_photo_the_primary_photo(moderator):
    photo = processed(phone_jpeg())
    assert photo.profile.primary_photo is None
    item = ModerationItem.objects.for_object(photo).get()
    do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
    photo.refresh_from_db()
    photo.profile.refresh_from_db()
    assert photo.is_public
    assert photo.profile.primary_photo == photo


@pytest.mark.django_db(transaction=True)
def test_it_processes_once_when_two_runs_race(monkeypatch):
    photo = uploaded_photo(phone_jpeg())
    calls = []

    def slow_process_original(original):
        calls.append(1)
        time.sleep(0.5)  # long enough for the other run to reach the row lock
        return process_original(original)

    monkeypatch.setattr(photos, "process_original", slow_process_original)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(run_photo_processing(photo.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ready", "skipped"]
    assert len(calls) == 1
    assert ModerationItem.objects.for_object(photo).count() == 1


# --- Upload: checksum, dedupe, limits --------------------------------------------------


@pytest.mark.django_db
def test_it_stores_the_same_file_twice_as_one_photo(liaison, django_capture_on_commit_callbacks):
    profile = liaison_profile(liaison)
    content = phone_jpeg()
    with django_capture_on_commit_callbacks() as callbacks:
        first, first_created = check_upload_photo(
            liaison, profile, SimpleUploadedFile("a.jpg", content)
        )
        second, second_created = check_upload_photo(
            liaison, profile, SimpleUploadedFile("copy of a.jpg", content)
        )
    assert (first_created, second_created) == (True, False)
    assert first.pk == second.pk
    assert ProfilePhoto.objects.filter(profile=profile).count() == 1
    assert first.size_bytes == len(content) and len(first.checksum) == 64
    assert first.status == Status.UPLOADED
    assert len(task_sends(callbacks)) == 1  # processing is enqueued once, after commit


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("size", "message"),
    [
        (settings.PHOTO_MAX_UPLOAD_BYTES + 1, "This file is 15.0 MB; the limit is 15 MB."),
        (0, "This file is empty."),
    ],
    ids=["too-big", "empty"],
)
def test_it_refuses_oversize_and_empty_uploads(liaison, size, message):
    profile = liaison_profile(liaison)
    with pytest.raises(PhotoUploadError, match=message):
        check_upload_photo(liaison, profile, SimpleUploadedFile("big.jpg", b"\0" * size))
    assert not ProfilePhoto.objects.filter(profile=profile).exists()


# --- The sweep -------------------------------------------------------------------------


@pytest.fixture
def sent_photo_ids(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(process_photo, "delay", lambda photo_id: sent.append(photo_id))
    return sent


def photo_created_ago(age: timedelta, status: str) -> ProfilePhoto:
    photo = uploaded_photo(noisy_jpeg((32, 32)), status=status)
    ProfilePhoto.objects.filter(pk=photo.pk).update(created_at=timezone.now() - age)
    return photo


@pytest.mark.django_db
def test_it_sweeps_photos_whose_task_was_lost_or_whose_worker_died(
    sent_photo_ids, django_capture_on_commit_callbacks
):
    lost = photo_created_ago(timedelta(minutes=2), Status.UPLOADED)
    abandoned = photo_created_ago(timedelta(minutes=20), Status.PROCESSING)
    photo_created_ago(timedelta(seconds=10), Status.UPLOADED)  # its task is on the way
    photo_created_ago(timedelta(minutes=5), Status.PROCESSING)  # probably still running
    for status in (Status.READY, Status.REJECTED, Status.FAILED):
        photo_created_ago(timedelta(hours=1), status)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_unprocessed_photos() == 2
    assert sorted(sent_photo_ids) == sorted([lost.pk, abandoned.pk])


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_photo_alone_while_a_run_holds_it(sent_photo_ids):
    photo = photo_created_ago(timedelta(minutes=20), Status.PROCESSING)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                ProfilePhoto.objects.select_for_update().get(pk=photo.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    worker = threading.Thread(target=hold_the_row)
    worker.start()
    try:
        assert locked.wait(timeout=10)
        assert sweep_unprocessed_photos() == 0
    finally:
        release.set()
        worker.join(timeout=30)
    assert sweep_unprocessed_photos() == 1
    assert sent_photo_ids == [photo.pk]


def test_it_schedules_the_sweep_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-unprocessed-photos"]
    assert entry == {"task": "profiles.tasks.sweep_unprocessed_photos", "schedule": 300.0}
    assert entry["task"] in celery_app.tasks


# --- A real worker ---------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_it_processes_an_upload_on_a_real_worker(celery_worker_process, liaison):
    profile = liaison_profile(liaison)
    with transaction.atomic():
        photo, created = check_upload_photo(
            liaison, profile, SimpleUploadedFile("phone.jpg", phone_jpeg())
        )
        assert created
    deadline = time.monotonic() + 60
    while True:
        photo.refresh_from_db()
        if photo.status not in (Status.UPLOADED, Status.PROCESSING):
            break
        assert time.monotonic() < deadline, "the worker did not process the photo"
        assert celery_worker_process.poll() is None, "the worker died"
        time.sleep(0.2)
    assert (photo.status, photo.status_reason) == (Status.READY, "")
    assert (photo.width, photo.height) == (900, 1200)
    assert_no_metadata(read_public(photo.display.name))
    assert ModerationItem.objects.for_object(photo).pending().count() == 1
