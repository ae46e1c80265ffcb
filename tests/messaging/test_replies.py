"""Replies from people in prison: scans checked by content (penpals.scans),
stored with the letter or not at all (messaging.replies), uploaded by the
facility's liaison (portal) or by staff for replies that came by post (admin)."""

from __future__ import annotations

import io
import json
import random
import uuid
import zipfile
import zlib

import pytest
import redis
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from messaging.models import Correspondence, Letter, LetterScan
from messaging.replies import ReplyRefused, check_upload_reply
from messaging.services import close_correspondences, do_block, screen_letter
from moderation.models import ModerationItem
from penpals.scans import check_scan
from profiles.models import Facility, LiaisonAction
from tests.factories import (
    MINIMAL_PDF,
    CorrespondenceFactory,
    InmateProfileFactory,
    LiaisonFactory,
    PenPalFactory,
    UserFactory,
    activate_totp,
    image_bytes,
)

# Scans and PDFs go to a private folder of each test's own (tests/messaging/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_dir")]


# --- Fixtures and files ---------------------------------------------------------------------


def stored_files(location) -> list:
    return [path for path in location.rglob("*") if path.is_file()] if location.exists() else []


@pytest.fixture
def correspondence(facility):
    profile = InmateProfileFactory.published(
        facility=facility, display_name="Marcus", inmate_number="M-4711"
    )
    return CorrespondenceFactory(
        pen_pal=PenPalFactory(display_name="Rosa", email="rosa@example.org"), profile=profile
    )


def noisy_jpeg(size=(300, 200)) -> bytes:
    """A JPEG whose data is not trivially short, so cutting it loses pixels."""
    rng = random.Random(7)  # noqa: S311
    image = Image.frombytes(
        "RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3))
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("letter.txt", "hello")
    return out.getvalue()


def pdf_with(catalog_extra: bytes) -> bytes:
    return MINIMAL_PDF.replace(b"/Type/Catalog", b"/Type/Catalog" + catalog_extra)


def pdf_with_object_stream(catalog_extra: bytes = b"") -> bytes:
    """A PDF whose dictionaries sit in a compressed object stream, as modern
    writers do (no cross-reference table: viewers, and the check, find them)."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>",
    ]
    offsets, body = [], b""
    for dictionary in objects:
        offsets.append(len(body))
        body += dictionary + b" "
    header = b" ".join(b"%d %d" % (number, offset) for number, offset in enumerate(offsets, 1))
    data = zlib.compress(header + b" " + body)
    return (
        b"%PDF-1.5\n"
        + b"4 0 obj\n<</Type/ObjStm/N 3/First %d/Filter/FlateDecode/Length %d>>stream\n"
        % (len(header) + 1, len(data))
        + data
        + b"\nendstream\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def pdf_with_image_stream(data: bytes) -> bytes:
    """A PDF carrying `data` as image bytes (never read as PDF syntax)."""
    return MINIMAL_PDF.replace(
        b"trailer",
        b"5 0 obj<</Type/XObject/Subtype/Image/Filter/DCTDecode/Length %d>>stream\n" % len(data)
        + data
        + b"\nendstream\nendobj\ntrailer",
    )


def queued_readings(letter) -> int:
    """Reading tasks queued for `letter` (reading OCRs the scans, then screens)."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    headers = [json.loads(message)["headers"] for message in broker.lrange("celery", 0, -1)]
    return sum(
        1
        for header in headers
        if header["task"] == "messaging.tasks.read_reply"
        and header["argsrepr"] == f"({letter.pk},)"
    )


# --- Checking one scan --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("PNG"), "image/png"),
        (MINIMAL_PDF, "application/pdf"),
        # Random image bytes inside a stream are not PDF syntax, even when they spell /JS.
        (pdf_with_image_stream(b"\x00\x17/JS /Launch\x99"), "application/pdf"),
        (pdf_with_object_stream(), "application/pdf"),
    ],
)
def test_it_accepts_jpeg_png_and_pdf_by_content(content, content_type):
    # The name says nothing: a PNG called .pdf is still a PNG.
    assert check_scan(upload("scan.pdf", content)).content_type == content_type


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("page.jpg", zip_bytes(), "page.jpg: this is not a JPEG, PNG or PDF file"),
        ("page.jpg", b"", "page.jpg is empty."),
        ("page.jpg", noisy_jpeg()[:2500], "page.jpg: This image file is damaged or incomplete."),
        ("page.png", image_bytes("PNG")[:-30], "page.png: This image file is damaged"),
        ("page.gif", image_bytes("GIF"), "not a JPEG, PNG or PDF file"),
        ("page.webp", image_bytes("WEBP"), "not a JPEG, PNG or PDF file"),
        ("letter.pdf", MINIMAL_PDF[:-10], "letter.pdf: this PDF looks incomplete"),
        ("letter.pdf", pdf_with(b"/OpenAction<</S/JavaScript/JS(app.alert(1))>>"), "JavaScript"),
        ("letter.pdf", pdf_with(b"/OpenAction<</S/J#61vaScript/J#53(x)>>"), "JavaScript"),
        ("letter.pdf", pdf_with(b"/OpenAction<</S/Launch/F(cmd.exe)>>"), "a launch action"),
        ("letter.pdf", pdf_with(b"/Names<</EmbeddedFiles 9 0 R>>"), "embedded files"),
        ("letter.pdf", pdf_with(b"/Encrypt 8 0 R"), "encrypted or password-protected"),
        (
            "letter.pdf",
            pdf_with_object_stream(b"/OpenAction<</S/JavaScript/JS(x)>>"),
            "JavaScript",
        ),
        (
            "letter.pdf",
            pdf_with_object_stream().replace(b"/FlateDecode", b"/LZWDecode"),
            "has no pages we can read",
        ),
    ],
)
def test_it_refuses_what_is_not_a_clean_scan(name, content, message):
    with pytest.raises(ValidationError) as refused:
        check_scan(upload(name, content))
    assert message in " ".join(refused.value.messages)


def test_it_refuses_an_image_with_too_many_pixels(settings):
    settings.PHOTO_MAX_PIXELS = 1000
    with pytest.raises(ValidationError, match="megapixels"):
        check_scan(upload("big.png", image_bytes("PNG", (100, 100))))


def test_it_refuses_a_file_over_the_size_limit(settings):
    settings.SCAN_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(
        ValidationError, match=r"big.jpg is \d+ kB; each page may be at most 1 kB\."
    ):
        check_scan(upload("big.jpg", noisy_jpeg()))


# --- Uploading a reply (the service) -----------------------------------------------------------


def test_it_stores_a_reply_with_its_scans_and_queues_reading(
    liaison, correspondence, private_dir, django_capture_on_commit_callbacks
):
    files = [
        upload("one.jpg", image_bytes("JPEG")),
        upload("two.png", image_bytes("PNG")),
        upload("three.bin", MINIMAL_PDF),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        letter = check_upload_reply(
            liaison, correspondence, files, "  Dear Rosa, thanks for the book.  ", uuid.uuid4()
        )
    assert (letter.direction, letter.status) == (Letter.Direction.INBOUND, Letter.Status.SUBMITTED)
    assert letter.created_by == liaison
    assert letter.body == "Dear Rosa, thanks for the book."
    scans = list(letter.scans.order_by("page"))
    assert [(scan.page, scan.content_type) for scan in scans] == [
        (1, "image/jpeg"),
        (2, "image/png"),
        (3, "application/pdf"),
    ]
    # In private storage, under random names whose extension follows the content.
    assert len(stored_files(private_dir)) == 3
    assert scans[2].file.name.endswith(".pdf")
    assert scans[0].file.read() == image_bytes("JPEG")
    assert queued_readings(letter) == 1
    # Typed by the uploader from the pages: confirmed, so the pen pal may read it.
    assert letter.transcription_confirmed_by == liaison
    assert letter.transcription_confirmed_at is not None
    action = LiaisonAction.objects.get(kind=LiaisonAction.Kind.REPLY_UPLOADED)
    assert (action.actor, action.profile) == (liaison, correspondence.profile)
    assert action.detail == {"letter": letter.pk, "code": correspondence.code, "pages": 3}


def test_screening_puts_the_reply_in_the_moderation_queue(liaison, correspondence):
    letter = check_upload_reply(
        liaison,
        correspondence,
        [upload("p.jpg", image_bytes())],
        "Send money via cashapp",
        uuid.uuid4(),
    )
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    item = ModerationItem.objects.for_object(letter).get()
    assert item.kind == ModerationItem.Kind.LETTER_IN
    assert item.facility == correspondence.profile.facility
    assert item.summary == "Send money via cashapp"


def test_a_person_reviews_every_reply_even_where_only_flagged_letters_are(
    liaison, facility, correspondence
):
    """Nothing machine-reads the scans, so "flagged letters only" never
    approves a reply by itself, however clean its transcription."""
    facility.screening_mode = Facility.ScreeningMode.FLAGGED_ONLY
    facility.save()
    letter = check_upload_reply(
        liaison, correspondence, [upload("p.jpg", image_bytes())], "", uuid.uuid4()
    )
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert ModerationItem.objects.for_object(letter).pending().exists()


def test_a_resubmit_with_the_same_key_stores_nothing_twice(liaison, correspondence, private_dir):
    key = uuid.uuid4()
    first = check_upload_reply(liaison, correspondence, [upload("a.jpg", image_bytes())], "", key)
    second = check_upload_reply(
        liaison,
        correspondence,
        [upload("a.jpg", image_bytes()), upload("b.pdf", MINIMAL_PDF)],
        "",
        key,
    )
    assert first.pk == second.pk
    assert Letter.objects.count() == 1
    assert LetterScan.objects.count() == 1
    assert len(stored_files(private_dir)) == 1


@pytest.mark.parametrize(
    "files",
    [
        [upload("good.jpg", image_bytes()), upload("bad.jpg", zip_bytes())],
        [upload("empty.jpg", b"")],
        [upload("evil.pdf", pdf_with(b"/OpenAction<</S/JavaScript/JS(x)>>"))],
        [upload("cut.jpg", noisy_jpeg()[:2500])],
        [],
    ],
)
def test_a_bad_upload_stores_nothing(liaison, correspondence, private_dir, files):
    with pytest.raises(ReplyRefused):
        check_upload_reply(liaison, correspondence, files, "", uuid.uuid4())
    assert not Letter.objects.exists()
    assert not LetterScan.objects.exists()
    assert stored_files(private_dir) == []


def test_it_refuses_too_many_files(liaison, correspondence, settings, private_dir):
    settings.SCAN_MAX_PAGES = 2
    files = [upload(f"{n}.jpg", image_bytes()) for n in range(3)]
    with pytest.raises(ReplyRefused, match=r"at most 2 files for one reply \(3 chosen\)"):
        check_upload_reply(liaison, correspondence, files, "", uuid.uuid4())
    assert not Letter.objects.exists()
    assert stored_files(private_dir) == []


def test_it_refuses_a_too_long_transcription(liaison, correspondence, settings):
    settings.LETTER_MAX_LENGTH = 10
    with pytest.raises(ReplyRefused, match="at most 10 characters; this one has 11"):
        check_upload_reply(
            liaison, correspondence, [upload("a.jpg", image_bytes())], "x" * 11, uuid.uuid4()
        )


def test_a_storage_failure_leaves_nothing_half_stored(
    liaison, correspondence, private_dir, monkeypatch
):
    storage = LetterScan._meta.get_field("file").storage
    real_save = type(storage)._save
    calls = []

    def save_then_fail(self, name, content):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_save(self, name, content)

    monkeypatch.setattr(type(storage), "_save", save_then_fail)
    files = [
        upload("a.jpg", image_bytes()),
        upload("b.jpg", image_bytes()),
        upload("c.pdf", MINIMAL_PDF),
    ]
    with pytest.raises(OSError, match="disk full"):
        check_upload_reply(liaison, correspondence, files, "", uuid.uuid4())
    assert len(calls) == 2  # the first file was stored, then removed
    assert not Letter.objects.exists()
    assert not LetterScan.objects.exists()
    assert stored_files(private_dir) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: close_correspondences(
                c.profile.correspondences.all(), Correspondence.CloseReason.RELEASED
            ),
            "is closed",
        ),
        (lambda c: do_block(c), "The pen pal has blocked"),
        (
            lambda c: Correspondence.objects.filter(pk=c.pk).update(
                blocked_by_inmate_at=timezone.now()
            ),
            "blocked on the writer's behalf",
        ),
    ],
)
def test_it_refuses_a_reply_in_a_closed_or_blocked_correspondence(
    liaison, correspondence, private_dir, change, message
):
    change(correspondence)
    correspondence.refresh_from_db()
    with pytest.raises(ReplyRefused, match=message):
        check_upload_reply(
            liaison, correspondence, [upload("a.jpg", image_bytes())], "", uuid.uuid4()
        )
    assert not Letter.objects.exists()
    assert stored_files(private_dir) == []


def test_it_refuses_a_liaison_of_another_facility(correspondence):
    outsider = LiaisonFactory().user
    with pytest.raises(PermissionDenied):
        check_upload_reply(
            outsider, correspondence, [upload("a.jpg", image_bytes())], "", uuid.uuid4()
        )
    assert not Letter.objects.exists()


# --- The liaison's upload page ------------------------------------------------------------------


def reply_url(facility):
    return reverse("liaison_letters:reply_upload", args=[facility.slug])


def test_it_offers_the_facilitys_open_correspondences(
    liaison_client, facility, correspondence, django_assert_max_num_queries
):
    closed = CorrespondenceFactory(
        pen_pal=correspondence.pen_pal, profile=InmateProfileFactory.published(facility=facility)
    )
    Correspondence.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    elsewhere = CorrespondenceFactory(pen_pal=correspondence.pen_pal)
    with django_assert_max_num_queries(10):
        response = liaison_client.get(reply_url(facility))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert f"Marcus #M-4711 — Rosa — {correspondence.code}" in page
    assert closed.code not in page
    assert elsewhere.code not in page
    assert 'type="file" name="scans" accept="image/jpeg,image/png,application/pdf"' in page
    assert "multiple" in page


@pytest.mark.parametrize("typed", ["lower", "no-dashes", "exact"])
def test_it_uploads_a_reply_by_its_reference_typed_any_way(
    liaison_client, facility, correspondence, typed
):
    code = correspondence.code
    code = {"lower": code.lower(), "no-dashes": code.replace("-", " "), "exact": code}[typed]
    response = liaison_client.post(
        reply_url(facility),
        {
            "code": code,
            "scans": [upload("1.jpg", image_bytes()), upload("2.pdf", MINIMAL_PDF)],
            "transcription": "Dear Rosa",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("liaison_letters:reply_list", args=[facility.slug])
    letter = Letter.objects.get()
    assert letter.correspondence == correspondence
    assert letter.scans.count() == 2
    followed = liaison_client.get(response["Location"])
    assert f"Reply for {correspondence.code} uploaded (2 files)." in followed.content.decode()


def test_it_uploads_a_reply_chosen_from_the_list(liaison_client, facility, correspondence):
    key = str(uuid.uuid4())
    data = {"correspondence": correspondence.pk, "idempotency_key": key}
    liaison_client.post(
        reply_url(facility), {**data, "scans": [upload("1.png", image_bytes("PNG"))]}
    )
    # The same form sent again (a double click): still one letter.
    liaison_client.post(
        reply_url(facility), {**data, "scans": [upload("1.png", image_bytes("PNG"))]}
    )
    assert Letter.objects.get().correspondence == correspondence
    assert LetterScan.objects.count() == 1


def test_it_lists_uploaded_replies(liaison, liaison_client, facility, correspondence):
    check_upload_reply(liaison, correspondence, [upload("a.jpg", image_bytes())], "", uuid.uuid4())
    response = liaison_client.get(reverse("liaison_letters:reply_list", args=[facility.slug]))
    page = response.content.decode()
    assert correspondence.code in page
    assert "Submitted" in page
    assert response.context["page"][0].page_count == 1


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        ({"code": "PP-2345"}, True, "This is not a reply reference"),
        ({"code": "PP-2345-6789"}, True, "No correspondence you can reach has the reference"),
        ({}, True, "Enter the reply reference or choose the correspondence."),
        ({"code": "{code}"}, False, "Choose the scanned pages of the reply."),
        ({"code": "{code}", "correspondence": "{other}"}, True, "differ; use one of them"),
        ({"code": "{code}", "transcription": "x" * 51}, True, "at most 50 characters"),
        (
            {"code": "{code}", "idempotency_key": "nope"},
            True,
            "This form was damaged or has expired",
        ),
    ],
)
def test_it_explains_what_is_wrong_with_the_form(
    liaison_client, facility, correspondence, settings, private_dir, data, files, message
):
    settings.LETTER_MAX_LENGTH = 50
    other = CorrespondenceFactory(
        pen_pal=correspondence.pen_pal, profile=InmateProfileFactory.published(facility=facility)
    )
    values = {"code": correspondence.code, "other": other.pk}
    post = {"idempotency_key": str(uuid.uuid4())}
    post.update({name: str(value).format(**values) for name, value in data.items()})
    if files:
        post["scans"] = [upload("a.jpg", image_bytes())]
    response = liaison_client.post(reply_url(facility), post)
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Letter.objects.exists()
    assert stored_files(private_dir) == []


def test_it_explains_a_bad_file_on_the_page(liaison_client, facility, correspondence, private_dir):
    response = liaison_client.post(
        reply_url(facility),
        {
            "code": correspondence.code,
            "scans": [upload("ok.jpg", image_bytes()), upload("letter.jpg", zip_bytes())],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200
    assert "letter.jpg: this is not a JPEG, PNG or PDF file" in response.content.decode()
    assert not Letter.objects.exists()
    assert stored_files(private_dir) == []


def test_it_refuses_a_reference_of_another_facility(liaison_client, facility, private_dir):
    elsewhere = CorrespondenceFactory()
    response = liaison_client.post(
        reply_url(facility),
        {
            "code": elsewhere.code,
            "scans": [upload("a.jpg", image_bytes())],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200
    assert "No correspondence you can reach has the reference" in response.content.decode()
    assert not Letter.objects.exists()


def test_it_explains_a_closed_correspondence(liaison_client, facility, correspondence):
    close_correspondences(
        correspondence.profile.correspondences.all(), Correspondence.CloseReason.TRANSFERRED
    )
    response = liaison_client.post(
        reply_url(facility),
        {
            "code": correspondence.code,
            "scans": [upload("a.jpg", image_bytes())],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200
    assert "is closed (the person has moved to another facility)" in response.content.decode()
    assert not Letter.objects.exists()


# --- Staff: replies that came by post (admin) ---------------------------------------------------


@pytest.fixture
def staff_client(client):
    superuser = UserFactory(is_staff=True, is_superuser=True, email="admin@example.org")
    activate_totp(superuser)
    client.force_login(superuser)
    client.user = superuser
    return client


ADMIN_UPLOAD = "admin:messaging_letter_upload_postal_reply"


def test_staff_upload_a_postal_reply_in_the_admin(staff_client, correspondence, private_dir):
    assert staff_client.get(reverse(ADMIN_UPLOAD)).status_code == 200
    changelist = staff_client.get(reverse("admin:messaging_letter_changelist"))
    assert reverse(ADMIN_UPLOAD) in changelist.content.decode()
    response = staff_client.post(
        reverse(ADMIN_UPLOAD),
        {
            "code": correspondence.code.lower(),
            "scans": [upload("posted.pdf", MINIMAL_PDF)],
            "transcription": "Posted from the county jail",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    letter = Letter.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:messaging_letter_change", args=[letter.pk])
    assert letter.created_by == staff_client.user
    assert letter.direction == Letter.Direction.INBOUND
    assert letter.scans.get().content_type == "application/pdf"
    assert len(stored_files(private_dir)) == 1
    action = LiaisonAction.objects.get(kind=LiaisonAction.Kind.REPLY_UPLOADED)
    assert action.facility == correspondence.profile.facility


def test_staff_see_the_same_refusals(staff_client, correspondence, private_dir):
    response = staff_client.post(
        reverse(ADMIN_UPLOAD),
        {
            "code": correspondence.code,
            "scans": [upload("posted.jpg", zip_bytes())],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200
    assert "posted.jpg: this is not a JPEG, PNG or PDF file" in response.content.decode()
    assert not Letter.objects.exists()


def test_staff_without_the_permission_cannot_upload(client):
    # Staff outside the Moderators group hold no letter permissions.
    staff = PenPalFactory(is_staff=True)
    activate_totp(staff)
    client.force_login(staff)
    assert client.get(reverse(ADMIN_UPLOAD)).status_code == 403


def test_moderators_may_upload_postal_replies(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    assert client.get(reverse(ADMIN_UPLOAD)).status_code == 200


def test_staff_without_mfa_are_sent_to_set_it_up(client):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    response = client.get(reverse(ADMIN_UPLOAD))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_the_admin_shows_letters_read_only(staff_client, liaison, correspondence):
    letter = check_upload_reply(
        liaison, correspondence, [upload("a.jpg", image_bytes())], "Original text", uuid.uuid4()
    )
    url = reverse("admin:messaging_letter_change", args=[letter.pk])
    page = staff_client.get(url).content.decode()
    assert "Original text" in page
    assert 'name="body"' not in page
    assert reverse("letters:scan", args=[letter.scans.get().pk]) in page
    staff_client.post(url, {"body": "Changed by staff"})
    letter.refresh_from_db()
    assert letter.body == "Original text"
    delete = reverse("admin:messaging_letter_delete", args=[letter.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert Letter.objects.filter(pk=letter.pk).exists()


@pytest.mark.parametrize("model", ["letter", "correspondence", "printbatch", "notification"])
def test_the_admin_lists_load_in_a_fixed_number_of_queries(
    staff_client, correspondence, model, django_assert_max_num_queries
):
    from tests.factories import LetterFactory

    for _ in range(3):
        LetterFactory(correspondence=correspondence)
    with django_assert_max_num_queries(15):
        response = staff_client.get(reverse(f"admin:messaging_{model}_changelist"))
    assert response.status_code == 200


def test_staff_find_a_correspondence_by_its_code_typed_as_on_paper(staff_client, correspondence):
    CorrespondenceFactory(pen_pal=correspondence.pen_pal)
    spaced = correspondence.code.lower().replace("-", " ")
    response = staff_client.get(reverse("admin:messaging_correspondence_changelist"), {"q": spaced})
    assert list(response.context["cl"].result_list) == [correspondence]
