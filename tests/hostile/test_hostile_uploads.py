"""Hostile uploads through every upload path: the liaison's photo upload and
its processing task, the consent form, and a reply's scans (liaison portal and
staff admin).

Each file of the corpus (tests/hostile/corpus.py) is refused with a reason
the uploader can act on, or stored safely; a refusal leaves no row and no
file (private, public or upload temp) behind; Pillow never allocates pixels
beyond the project's limit, so a bomb is refused before it is decoded.
"""

from __future__ import annotations

import os
import time
import tracemalloc
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from messaging.models import Letter, LetterScan, ScanRun, ScanRunFile
from moderation.models import ModerationItem
from penpals.images import DAMAGED, NOT_AN_IMAGE
from penpals.uploads import SizeCappedUploadHandler
from profiles import csv_import
from profiles.models import InmateProfile, LiaisonAction, ProfilePhoto
from profiles.tasks import process_photo
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    PenPalFactory,
    UserFactory,
    activate_totp,
)
from tests.hostile.corpus import (
    CORPUS,
    HUNDRED_MB,
    SCRIPT,
    DecodeWatch,
    isolate_media,
    post_streamed_file,
    valid_jpeg,
)
from tests.hostile.pdfs import pdf_with_digit_runs

pytestmark = pytest.mark.django_db

Status = ProfilePhoto.Status
TOO_MANY_PIXELS = "more pixels than we can safely process; the most we accept is 60 megapixels"
ZIP_LOCAL_HEADER = b"PK\x03\x04"
READY = "ready"  # in the outcome tables: stored (or published), not refused


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture
def media(tmp_path, settings, monkeypatch):
    return isolate_media(tmp_path, settings, monkeypatch)


@pytest.fixture
def decodes(monkeypatch) -> DecodeWatch:
    return DecodeWatch(monkeypatch)


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


@pytest.fixture
def liaison_client(client, liaison):
    activate_totp(liaison)
    client.force_login(liaison)
    return client


@pytest.fixture
def staff_client(client):
    superuser = UserFactory(is_staff=True, is_superuser=True, email="admin@example.org")
    activate_totp(superuser)
    client.force_login(superuser)
    return client


@pytest.fixture
def profile(facility):
    """A draft: photos and consent forms can be uploaded."""
    return InmateProfileFactory(facility=facility, display_name="Marcus")


@pytest.fixture
def correspondence(facility):
    profile = InmateProfileFactory.published(facility=facility, display_name="Marcus")
    return CorrespondenceFactory(pen_pal=PenPalFactory(display_name="Rosa"), profile=profile)


def form_errors(response) -> str:
    form = response.context["form"]
    return " ".join(message for messages in form.errors.values() for message in messages)


def assert_pixels_within_limit(decodes: DecodeWatch, settings) -> None:
    assert decodes.largest_pixels <= settings.PHOTO_MAX_PIXELS, decodes.sizes


def stored_type(hostile) -> tuple[str, str]:
    """(content type, extension) an accepted corpus file is stored as."""
    if hostile.content.startswith(b"%PDF-"):
        return "application/pdf", ".pdf"
    return "image/jpeg", ".jpg"


BOMBS = {"huge-declared-png", "decompression-bomb"}


# --- The photo upload and its processing task ------------------------------------------

# What becomes of each file: READY, or the reason it is rejected.
PHOTO_OUTCOMES = {
    "truncated-jpeg": DAMAGED,
    "huge-declared-png": TOO_MANY_PIXELS,
    "decompression-bomb": TOO_MANY_PIXELS,
    "jpeg-zip-polyglot": READY,
    "jpeg-html-polyglot": READY,
    "pdf-with-javascript": NOT_AN_IMAGE,
    "svg-with-script": NOT_AN_IMAGE,
    "zip-renamed-jpg": NOT_AN_IMAGE,
    "multi-picture-jpeg": READY,
}


def test_the_photo_upload_refuses_an_empty_file(liaison_client, profile, media):
    hostile = CORPUS["empty"]
    response = liaison_client.post(
        reverse("liaison:photo_upload", args=[profile.pk]),
        {"photos": SimpleUploadedFile(hostile.filename, hostile.content)},
    )
    assert response.status_code == 200
    assert form_errors(response) == "photo.jpg is empty."
    assert not ProfilePhoto.objects.exists()
    assert not LiaisonAction.objects.exists()
    assert media.files() == []


@pytest.mark.parametrize("hostile_id", PHOTO_OUTCOMES)
def test_the_photo_pipeline_rejects_with_a_reason_or_publishes_a_clean_image(
    liaison_client, profile, media, decodes, settings, hostile_id
):
    hostile = CORPUS[hostile_id]
    response = liaison_client.post(
        reverse("liaison:photo_upload", args=[profile.pk]),
        {"photos": SimpleUploadedFile(hostile.filename, hostile.content)},
    )
    # Content is checked by the worker: the upload itself is stored privately.
    assert response.status_code == 302
    photo = ProfilePhoto.objects.get(profile=profile)
    assert photo.status == Status.UPLOADED
    assert media.public_files() == []
    assert len(media.private_files()) == 1

    expected = PHOTO_OUTCOMES[hostile_id]
    # The task body, in-process: it returns its outcome and raises nothing.
    assert process_photo(photo.pk) == ("ready" if expected == READY else "rejected")

    photo.refresh_from_db()
    assert_pixels_within_limit(decodes, settings)
    if expected == READY:
        assert decodes.sizes  # the watch sees Pillow decode, so an empty watch means something
        assert (photo.status, photo.status_reason) == (Status.READY, "")
        published = media.public_files()
        assert len(published) == 2  # the display and the thumbnail
        for variant in published:
            encoded = variant.read_bytes()
            assert encoded[8:12] == b"WEBP"
            # Re-encoded from the pixels alone: the payload riding along is gone.
            assert SCRIPT not in encoded and ZIP_LOCAL_HEADER not in encoded
        assert ModerationItem.objects.for_object(photo).exists()
    else:
        assert photo.status == Status.REJECTED
        assert expected in photo.status_reason
        assert media.public_files() == []
        assert not ModerationItem.objects.for_object(photo).exists()
        page = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk]))
        assert expected in page.content.decode().replace("&#x27;", "'")
    if hostile_id in BOMBS:
        assert decodes.sizes == []  # refused from the header, nothing decoded
    # The original stays private (for the audit); nothing else is left anywhere.
    assert len(media.private_files()) == 1
    assert list(media.upload_temp.iterdir()) == []


# --- The consent form ---------------------------------------------------------------------

CONSENT_OUTCOMES = {
    "truncated-jpeg": "This image file is damaged or incomplete.",
    "huge-declared-png": TOO_MANY_PIXELS,
    "decompression-bomb": TOO_MANY_PIXELS,
    "jpeg-zip-polyglot": READY,
    "jpeg-html-polyglot": READY,
    "pdf-with-javascript": "This PDF contains JavaScript, which we do not accept.",
    "svg-with-script": "This file is not a PDF, JPEG or PNG.",
    "zip-renamed-jpg": "This file is not a PDF, JPEG or PNG.",
    "empty": "The submitted file is empty.",
    # A multi-picture JPEG (phones, cameras) is the JPEG it starts with.
    "multi-picture-jpeg": READY,
    "pdf-by-pillow": READY,
    "pdf-page-additional-actions": "This PDF contains actions that run when it is opened or used (/AA)",
    "pdf-submit-form": "This PDF contains a form that sends data elsewhere",
    "pdf-xfa-form": "This PDF contains an XFA form",
    "pdf-hidden-javascript": "This PDF contains JavaScript",
    "pdf-encrypted": "This PDF is encrypted or password-protected",
}


@pytest.mark.parametrize("hostile_id", CONSENT_OUTCOMES)
def test_the_consent_form_upload_refuses_with_a_reason_or_stores_privately(
    liaison_client, profile, media, decodes, settings, hostile_id
):
    hostile = CORPUS[hostile_id]
    response = liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]),
        {
            "consent_form": SimpleUploadedFile(hostile.filename, hostile.content),
            "is_confirmed": "on",
        },
    )
    profile.refresh_from_db()
    assert_pixels_within_limit(decodes, settings)
    expected = CONSENT_OUTCOMES[hostile_id]
    if expected != READY:
        assert response.status_code == 200
        assert expected in form_errors(response)
        assert not profile.consent_form and profile.consent_confirmed_at is None
        assert not LiaisonAction.objects.exists()
        assert media.files() == []
        return
    assert response.status_code == 302
    content_type, extension = stored_type(hostile)
    # Named by its content, kept as uploaded, and private.
    assert profile.consent_form.name.endswith(extension)
    assert [path.read_bytes() for path in media.private_files()] == [hostile.content]
    assert media.public_files() == []
    # A browser is told what it is, to download, never something to sniff and render.
    download = liaison_client.get(reverse("liaison:consent_download", args=[profile.pk]))
    assert download["Content-Type"] == content_type
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"


# --- A reply's scanned pages, in the liaison portal and the admin -----------------------------

SCAN_OUTCOMES = {
    "truncated-jpeg": "photo.jpg: This image file is damaged or incomplete.",
    "huge-declared-png": f"photo.png: This image has {TOO_MANY_PIXELS}",
    "decompression-bomb": f"photo.png: This image has {TOO_MANY_PIXELS}",
    "jpeg-zip-polyglot": READY,
    "jpeg-html-polyglot": READY,
    "pdf-with-javascript": "scan.pdf: this PDF contains JavaScript, which we do not accept.",
    "svg-with-script": "photo.svg: this is not a JPEG, PNG or PDF file.",
    "zip-renamed-jpg": "photo.jpg: this is not a JPEG, PNG or PDF file.",
    "empty": "photo.jpg is empty.",
    "multi-picture-jpeg": READY,
    "pdf-by-pillow": READY,
    "pdf-page-additional-actions": "scan.pdf: this PDF contains actions that run when it is opened or used (/AA)",
    "pdf-submit-form": "scan.pdf: this PDF contains a form that sends data elsewhere",
    "pdf-xfa-form": "scan.pdf: this PDF contains an XFA form",
    "pdf-hidden-javascript": "scan.pdf: this PDF contains JavaScript",
    "pdf-encrypted": "scan.pdf: this PDF is encrypted or password-protected",
}
CLIENTS = {"liaison": "liaison_client", "admin": "staff_client"}
UPLOAD_URLS = {
    "liaison": lambda facility: reverse("liaison_letters:reply_upload", args=[facility.slug]),
    "admin": lambda facility: reverse("admin:messaging_letter_upload_postal_reply"),
}


@pytest.mark.parametrize("uploader", UPLOAD_URLS)
@pytest.mark.parametrize("hostile_id", SCAN_OUTCOMES)
def test_the_reply_upload_refuses_with_a_reason_or_stores_the_scan_unchanged(
    request, facility, correspondence, media, decodes, settings, hostile_id, uploader
):
    client = request.getfixturevalue(CLIENTS[uploader])
    hostile = CORPUS[hostile_id]
    response = client.post(
        UPLOAD_URLS[uploader](facility),
        {
            "code": correspondence.code,
            "scans": [SimpleUploadedFile(hostile.filename, hostile.content)],
            "transcription": "",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert_pixels_within_limit(decodes, settings)
    expected = SCAN_OUTCOMES[hostile_id]
    if expected != READY:
        assert response.status_code == 200
        assert expected in form_errors(response)
        assert not Letter.objects.exists() and not LetterScan.objects.exists()
        assert not LiaisonAction.objects.exists()
        assert media.files() == []
        return
    assert response.status_code == 302
    content_type, _extension = stored_type(hostile)
    scan = LetterScan.objects.get()
    assert scan.content_type == content_type
    assert [path.read_bytes() for path in media.private_files()] == [hostile.content]
    assert media.public_files() == []
    # Served as what it was checked to be; nosniff keeps a browser from running the HTML inside.
    served = client.get(reverse("letters:scan", args=[scan.pk]))
    assert served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == hostile.content


# --- Long runs of digits at the size limit, on every path that takes PDFs ---------------------

# Generous: the check's budget is penpals.pdfs.PDF_CHECK_SECONDS. The regular
# expression it replaced took 110 s on a 401 kB file, four times as long for
# each doubling, and would have taken days on these.
WITHIN_A_FEW_SECONDS = 10


@pytest.mark.parametrize("in_content", [True, False], ids=["in-a-stream", "loose"])
@pytest.mark.parametrize("path", ["consent", "liaison-reply", "admin-reply"])
def test_a_pdf_of_digits_at_the_size_limit_is_checked_within_a_few_seconds(
    request, facility, profile, correspondence, media, settings, path, in_content
):
    limit = (
        settings.CONSENT_FORM_MAX_UPLOAD_BYTES
        if path == "consent"
        else settings.SCAN_MAX_UPLOAD_BYTES
    )
    content = pdf_with_digit_runs(limit - 1000, in_content=in_content)
    assert limit - 2000 < len(content) <= limit
    if path == "consent":
        client = request.getfixturevalue("liaison_client")
        url = reverse("liaison:consent_upload", args=[profile.pk])
        fields = {"consent_form": SimpleUploadedFile("form.pdf", content), "is_confirmed": "on"}
    else:
        client = request.getfixturevalue(
            "staff_client" if path == "admin-reply" else "liaison_client"
        )
        url = UPLOAD_URLS["admin" if path == "admin-reply" else "liaison"](facility)
        fields = {
            "code": correspondence.code,
            "scans": [SimpleUploadedFile("scan.pdf", content)],
            "transcription": "",
            "idempotency_key": str(uuid.uuid4()),
        }
    started = time.monotonic()
    response = client.post(url, fields)
    assert time.monotonic() - started < WITHIN_A_FEW_SECONDS
    # A well-formed PDF: accepted, and stored as uploaded.
    assert response.status_code == 302
    assert [stored.read_bytes() for stored in media.private_files()] == [content]


# --- 100 MB, on every upload path -----------------------------------------------------------


def upload_100_mb(kind: str, request):
    """(client, url, form fields, file field, expected message) for one upload path."""
    facility = request.getfixturevalue("facility")
    if kind == "admin-reply":
        client = request.getfixturevalue("staff_client")
    else:
        client = request.getfixturevalue("liaison_client")
    if kind == "photo":
        profile = request.getfixturevalue("profile")
        url = reverse("liaison:photo_upload", args=[profile.pk])
        return client, url, {}, "photos", "big.jpg is 100 MB; the limit is 15 MB."
    if kind == "consent":
        profile = request.getfixturevalue("profile")
        url = reverse("liaison:consent_upload", args=[profile.pk])
        fields = {"is_confirmed": "on"}
        return client, url, fields, "consent_form", "This file is 100 MB; the limit is 10 MB."
    if kind == "csv":
        url = reverse("liaison:csv_import", args=[facility.slug])
        limit = csv_import.MAX_BYTES // 1_000_000
        return client, url, {}, "csv_file", f"This file is larger than {limit} MB."
    correspondence = request.getfixturevalue("correspondence")
    fields = {"code": correspondence.code, "idempotency_key": str(uuid.uuid4())}
    url = UPLOAD_URLS[kind.removesuffix("-reply")](facility)
    return client, url, fields, "scans", "big.jpg is 100 MB; each page may be at most 20 MB."


def spy_on_spooled_sizes(monkeypatch) -> list[tuple[int, int]]:
    """(bytes on disk, size reported to the form) of each file the upload
    handler completes, read from the real temporary file."""
    completed = []
    file_complete = SizeCappedUploadHandler.file_complete

    def spy(handler, file_size):
        uploaded = file_complete(handler, file_size)
        on_disk = os.path.getsize(uploaded.temporary_file_path())
        completed.append((on_disk, uploaded.size))
        return uploaded

    monkeypatch.setattr(SizeCappedUploadHandler, "file_complete", spy)
    return completed


def test_a_file_within_the_limits_is_spooled_whole(liaison_client, profile, media, monkeypatch):
    spooled = spy_on_spooled_sizes(monkeypatch)
    # Past FILE_UPLOAD_MAX_MEMORY_SIZE, so it goes to a temporary file.
    photo = valid_jpeg() + b"\0" * 3_000_000
    response = liaison_client.post(
        reverse("liaison:photo_upload", args=[profile.pk]),
        {"photos": SimpleUploadedFile("big-but-fine.jpg", photo)},
    )
    assert response.status_code == 302
    assert spooled == [(len(photo), len(photo))]
    assert ProfilePhoto.objects.get().size_bytes == len(photo)


@pytest.mark.parametrize("kind", ["photo", "consent", "liaison-reply", "admin-reply", "csv"])
def test_a_100_mb_upload_gets_a_clear_message_and_leaves_nothing(
    request, media, tmp_path, settings, monkeypatch, kind
):
    # Files never count against DATA_UPLOAD_MAX_MEMORY_SIZE; past
    # FILE_UPLOAD_MAX_MEMORY_SIZE they stream to a temp file, so each form's own
    # limit is what refuses them, with a page that says why (not a 413 or a 500).
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE < 10_000_000
    client, url, fields, file_field, message = upload_100_mb(kind, request)
    spooled = spy_on_spooled_sizes(monkeypatch)
    tracemalloc.start()
    try:
        response = post_streamed_file(
            client, url, tmp_path, fields=fields, file_field=file_field, filename="big.jpg"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert message in form_errors(response)
    print(f"{kind}: 100 MB upload refused, peak Python memory {peak / 1e6:.1f} MB")
    assert peak < HUNDRED_MB / 10  # streamed: never held whole
    # Nor written to disk: the temporary file was emptied once past the largest
    # accepted size, while the size the form checked is the true one.
    assert spooled == [(0, HUNDRED_MB)]
    assert not ProfilePhoto.objects.exists() and not LetterScan.objects.exists()
    assert not Letter.objects.exists() and not LiaisonAction.objects.exists()
    assert not InmateProfile.objects.exclude(consent_form="").exists()
    assert media.files() == []  # the temp file is gone with the request


def test_the_file_limit_is_a_whole_scanning_run(settings):
    """The flood tests below send one file more than the real limit: as many
    files as a scanning run may have pages (500; Django's default is 100)."""
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == settings.SCAN_RUN_MAX_PAGES == 500


def test_more_files_than_django_parses_is_a_400_that_stores_nothing(
    liaison_client, profile, media, settings
):
    # DATA_UPLOAD_MAX_NUMBER_FILES (500, the pages of a scanning run sent as
    # images) stops the parse before the form runs, so the form's "at most 10
    # photos" cannot say it; the 400 page (penpals.views.bad_request) says why
    # instead. Never a 500, and nothing is stored.
    photos = [
        SimpleUploadedFile(f"photo-{number}.jpg", CORPUS["truncated-jpeg"].content)
        for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    ]
    response = liaison_client.post(
        reverse("liaison:photo_upload", args=[profile.pk]), {"photos": photos}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "couldn’t understand that request" in page
    assert f"It sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files at once" in page
    assert "Go back and choose fewer files." in page
    assert not ProfilePhoto.objects.exists()
    assert media.files() == []


def test_more_files_than_a_run_may_have_is_refused_with_a_message(
    liaison_client, facility, media, settings
):
    """The run upload reads its own body (messaging.intake_views): one page
    image more than a run may have is refused there, in its own words, with
    the form shown again. Never a 500, and no run, file or temporary file."""
    pages = [
        SimpleUploadedFile(f"page-{number}.jpg", CORPUS["truncated-jpeg"].content)
        for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    ]
    response = liaison_client.post(
        reverse("liaison_letters:scan_runs", args=[facility.slug]),
        {"scans": pages, "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        f"That is more files than one run may have ({settings.DATA_UPLOAD_MAX_NUMBER_FILES})"
        in page
    )
    assert 'name="scans"' in page
    assert not ScanRun.objects.exists() and not ScanRunFile.objects.exists()
    assert media.files() == []
