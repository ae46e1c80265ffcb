"""Print batches on paper: the print view and the PDF (messaging.printing), and
the views that serve them to the facility's liaison."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from pathlib import Path

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from messaging import printing
from messaging.models import Letter, PrintBatch
from messaging.returns import check_record_return
from messaging.services import (
    check_create_print_batch,
    do_mark_delivered,
    enforce_no_contact_order,
    screen_letter,
)
from moderation.models import ModerationItem, NoContactOrder
from moderation.services import do_decide
from penpals.storage import PrivateFileHasNoURL
from profiles.models import Facility, private_storage
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    PenPalFactory,
    activate_totp,
    screen_and_decide,
    write_letter,
)

pytestmark = pytest.mark.django_db


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture
def facility(liaison):
    """The one facility the `liaison` fixture belongs to."""
    facility = liaison.facility_memberships.get().facility
    facility.name = "Riverside Correctional"
    facility.mailing_address = "PO Box 77\nRiverside, OH 43000"
    facility.save()
    return facility


@pytest.fixture
def liaison_client(client, liaison):
    """A client logged in as the liaison, with MFA set up (the portal requires it)."""
    activate_totp(liaison)
    client.force_login(liaison)
    return client


@pytest.fixture
def private_dir(tmp_path, settings):
    """Private storage in a folder of this test's own, so files can be counted."""
    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


@pytest.fixture
def pen_pal(db):
    return PenPalFactory(email="rosa.private@example.org", display_name="Rosa")


def approved_letter(facility, pen_pal, body="Dear Sam,\nHow was your week?", **profile_fields):
    profile = InmateProfileFactory.published(facility=facility, **profile_fields)
    correspondence = CorrespondenceFactory(pen_pal=pen_pal, profile=profile)
    return LetterFactory(
        correspondence=correspondence, status="approved", approved_at=timezone.now(), body=body
    )


@pytest.fixture
def batch(liaison, facility, pen_pal):
    approved_letter(
        facility,
        pen_pal,
        body="Dear Sam,\nLine two <script>alert(1)</script> & more.",
        legal_name="Samuel J. Legalname",
        display_name="Sam",
        inmate_number="R-12345",
    )
    approved_letter(facility, pen_pal, legal_name="Other Person", inmate_number="R-555")
    approved_letter(facility, pen_pal, legal_name="Third Person", inmate_number="R-777")
    return check_create_print_batch(liaison, facility, None, uuid.uuid4())


def pdf_page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def pdf_producer(pdf: bytes) -> str:
    return str((PdfReader(io.BytesIO(pdf)).metadata or {}).get("/Producer", ""))


def queued_renders(batch) -> int:
    """How many render tasks for `batch` wait in this test process's broker."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    headers = [json.loads(message)["headers"] for message in broker.lrange("celery", 0, -1)]
    return sum(
        1
        for header in headers
        if header["task"] == "messaging.tasks.render_print_batch_pdf"
        and header["argsrepr"] == f"({batch.pk},)"
    )


def print_url(name, batch):
    return reverse(f"liaison_letters:{name}", args=[batch.facility.slug, batch.pk])


# --- The print view -------------------------------------------------------------------------


def test_it_addresses_each_letter_for_the_mailroom(liaison_client, batch):
    response = liaison_client.get(print_url("batch_print", batch))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Samuel J. Legalname" in page
    assert "R-12345" in page
    assert "Riverside Correctional" in page
    assert "PO Box 77<br>Riverside, OH 43000" in page
    code = Letter.objects.get(correspondence__profile__inmate_number="R-12345").correspondence.code
    assert f'Reply reference: <span class="reply-reference">{code}</span>' in page
    assert "write it on your reply" in page
    assert "How to reply" in page
    assert "Rosa" in page
    assert page.count('class="printed-letter"') == 3
    assert 'href="/static/css/print.css"' in page


def test_it_never_prints_the_pen_pals_email(liaison_client, batch, pen_pal):
    page = liaison_client.get(print_url("batch_print", batch)).content.decode()
    assert pen_pal.email not in page
    assert "rosa.private" not in page


def test_it_escapes_the_letter_and_keeps_its_line_breaks(liaison_client, batch):
    page = liaison_client.get(print_url("batch_print", batch)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "Dear Sam,\nLine two &lt;script&gt;alert(1)&lt;/script&gt; &amp; more." in page


def test_it_keeps_the_print_view_out_of_caches(liaison_client, batch):
    response = liaison_client.get(print_url("batch_print", batch))
    assert "no-store" in response["Cache-Control"]


# --- The PDF --------------------------------------------------------------------------------


def test_it_renders_one_page_per_letter_and_its_reply_sheet_with_the_print_stylesheet(batch):
    document = printing.render_batch_document(batch)
    # Each short letter on one page, its reply sheet on the next.
    assert len(document.pages) == 6
    # US Letter from print.css (8.5in = 816 CSS px); without the stylesheet it would be A4.
    assert round(document.pages[0].width) == 816
    pdf = document.write_pdf()
    assert pdf.startswith(b"%PDF-")
    assert pdf_page_count(pdf) == 6
    assert pdf_producer(pdf).startswith("WeasyPrint")


def test_rendering_leaves_pillow_refusing_truncated_images(batch):
    """WeasyPrint switches Pillow's LOAD_TRUNCATED_IMAGES on when imported; a
    worker that renders PDFs must still refuse cut-off photos and scans."""
    from PIL import ImageFile

    printing.render_batch_pdf(batch)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_long_letter_runs_on_to_more_pages(liaison, facility, pen_pal):
    approved_letter(facility, pen_pal, body="A long letter. " * 800)
    approved_letter(facility, pen_pal, body="A short one.")
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    # Two reply sheets and at least three pages of letters.
    assert len(printing.render_batch_document(batch).pages) > 4


def test_the_pdf_fetcher_serves_static_files_and_nothing_else():
    fetcher = printing.static_files_fetcher()
    css = fetcher.fetch(f"{printing.PDF_BASE_URL}static/css/print.css")
    assert b"@page" in css.read()
    assert css.content_type == "text/css"
    for url in [
        "file:///etc/passwd",
        "https://example.org/static/css/print.css",
        "http://169.254.169.254/latest/meta-data/",
        f"{printing.PDF_BASE_URL}static/../../penpals/settings.py",
        f"{printing.PDF_BASE_URL}media/anything.jpg",
        f"{printing.PDF_BASE_URL}static/css/missing.css",
    ]:
        with pytest.raises(ValueError, match="Only static files"):
            fetcher.fetch(url)


def test_it_queues_the_pdf_when_the_batch_is_made(
    liaison_client, facility, pen_pal, django_capture_on_commit_callbacks
):
    approved_letter(facility, pen_pal)
    with django_capture_on_commit_callbacks(execute=True):
        response = liaison_client.post(
            reverse("liaison_letters:queue", args=[facility.slug]),
            {"scope": "all", "idempotency_key": str(uuid.uuid4())},
        )
    batch = PrintBatch.objects.get()
    assert response["Location"] == print_url("batch_detail", batch)
    assert queued_renders(batch) == 1


def test_it_serves_the_stored_pdf_as_a_download(
    liaison_client, batch, private_dir, django_capture_on_commit_callbacks
):
    url = print_url("batch_pdf", batch)
    # Not rendered yet: a page that checks again, and one render queued however often asked.
    with django_capture_on_commit_callbacks(execute=True):
        pending = liaison_client.get(url)
        liaison_client.get(url)
    assert pending.status_code == 202
    # Checked by pdf_pending.js or the "Check again" link, not a meta refresh (see the template).
    assert 'data-refresh-seconds="5"' in pending.content.decode()
    assert f'href="{url}">Check again</a>' in pending.content.decode()
    assert 'http-equiv="refresh"' not in pending.content.decode()
    assert queued_renders(batch) == 1

    assert printing.render_and_store_batch_pdf(batch.pk) == "rendered"
    response = liaison_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="batch-{batch.pk}.pdf"'
    assert "no-store" in response["Cache-Control"]
    pdf = b"".join(response.streaming_content)
    assert pdf.startswith(b"%PDF-")
    assert pdf_page_count(pdf) == 6  # three letters, each with its reply sheet
    # Stored privately, under a name that does not give the batch away.
    stored = [path for path in private_dir.rglob("*") if path.is_file()]
    assert len(stored) == 1
    assert stored[0].parent.name == "print-batches"
    # (A random hex name may contain the batch's digits by chance: compare
    # with the readable name instead.)
    assert stored[0].stem != f"batch-{batch.pk}"
    assert "batch" not in stored[0].name


def test_the_render_task_is_safe_to_run_twice(batch, private_dir):
    assert printing.render_and_store_batch_pdf(batch.pk) == "rendered"
    assert printing.render_and_store_batch_pdf(batch.pk) == "exists"
    assert printing.render_and_store_batch_pdf(10**9) == "missing"
    assert len([path for path in private_dir.rglob("*") if path.is_file()]) == 1


def test_a_new_batch_never_meets_an_old_batchs_file(batch):
    other = PrintBatch(pk=batch.pk, facility=batch.facility, idempotency_key=uuid.uuid4())
    assert printing.stored_pdf_name(other) != printing.stored_pdf_name(batch)


def test_delivering_the_whole_batch_discards_its_pdf(liaison_client, batch, private_dir):
    printing.render_and_store_batch_pdf(batch.pk)
    assert printing.has_stored_pdf(batch)
    liaison_client.post(print_url("batch_delivered", batch))
    assert not printing.has_stored_pdf(batch)


# --- The address block ---------------------------------------------------------------------


def address_blocks(page: str) -> list[str]:
    return re.findall(r'<address class="letter-address">(.*?)</address>', page, re.S)


def test_it_prints_the_facility_name_once_when_the_address_starts_with_it(
    liaison_client, batch, facility
):
    # As addresses are written on envelopes: the name first (spacing and case may differ).
    facility.mailing_address = "RIVERSIDE  Correctional\nPO Box 77\nRiverside, OH 43000"
    facility.save()
    page = liaison_client.get(print_url("batch_print", batch)).content.decode()
    blocks = address_blocks(page)
    assert len(blocks) == 3
    for block in blocks:
        assert block.casefold().count("riverside correctional") == 1
        assert "Riverside Correctional<br>PO Box 77<br>Riverside, OH 43000" in block


def test_it_prints_the_facility_name_above_an_address_without_it(liaison_client, batch):
    page = liaison_client.get(print_url("batch_print", batch)).content.decode()
    for block in address_blocks(page):
        assert "Riverside Correctional<br>PO Box 77<br>Riverside, OH 43000" in block


def test_the_address_lines_drop_only_a_repeated_name(facility):
    facility.mailing_address = "Riverside Correctional Annex\n\n  PO Box 77 \nRiverside, OH"
    assert facility.postal_address_lines() == [
        "Riverside Correctional",
        "Riverside Correctional Annex",
        "PO Box 77",
        "Riverside, OH",
    ]


# --- What the batch page says about the PDF ------------------------------------------------


def pdf_status(liaison_client, batch) -> str:
    page = liaison_client.get(print_url("batch_detail", batch)).content.decode()
    return re.search(r'<p class="small muted" role="status"[^>]*>(.*?)</p>', page, re.S)[1]


def test_it_says_the_pdf_is_ready_once_the_worker_stored_it(liaison_client, batch, private_dir):
    assert pdf_status(liaison_client, batch).startswith("The PDF is being prepared")
    printing.render_and_store_batch_pdf(batch.pk)
    assert pdf_status(liaison_client, batch) == "The PDF is ready."


def test_it_queues_a_pdf_whose_task_was_lost_before_saying_it_is_prepared(
    liaison_client, batch, private_dir, django_capture_on_commit_callbacks
):
    # The queued render died (its pending mark expired) and no PDF was stored.
    cache.delete(printing._pending_key(batch.pk))
    with django_capture_on_commit_callbacks(execute=True):
        status = pdf_status(liaison_client, batch)
    assert status.startswith("The PDF is being prepared")
    assert queued_renders(batch) == 1


def test_it_never_says_a_delivered_batch_pdf_is_being_prepared(
    liaison_client, batch, private_dir, django_capture_on_commit_callbacks
):
    printing.render_and_store_batch_pdf(batch.pk)
    liaison_client.post(print_url("batch_delivered", batch))
    with django_capture_on_commit_callbacks(execute=True):
        status = pdf_status(liaison_client, batch)
    assert "being prepared" not in status
    assert status.startswith("Every letter is delivered, so no PDF is kept.")
    # Nothing is rendered for a page view; a download asks for it again.
    assert queued_renders(batch) == 0


def test_the_status_endpoint_follows_the_pdf(liaison_client, batch, private_dir):
    url = print_url("batch_pdf_status", batch)
    response = liaison_client.get(url)
    # The fixture's batch was made by the service alone (as the demo's are): nothing
    # is queued, and asking where the PDF is queues nothing either.
    assert response.json() == {"state": "not_made"}
    assert queued_renders(batch) == 0
    liaison_client.get(print_url("batch_detail", batch))
    response = liaison_client.get(url)
    assert response.json() == {"state": "preparing"}
    assert "no-store" in response["Cache-Control"]
    printing.render_and_store_batch_pdf(batch.pk)
    assert liaison_client.get(url).json() == {"state": "ready"}


def test_the_batch_page_updates_the_status_in_place_not_by_reloading(liaison_client, batch):
    page = liaison_client.get(print_url("batch_detail", batch)).content.decode()
    assert f'data-pdf-status-url="{print_url("batch_pdf_status", batch)}"' in page
    assert "js/batch_pdf_status.js" in page
    assert 'http-equiv="refresh"' not in page


# --- The language of each sheet ---------------------------------------------------------------


def test_each_sheet_is_in_the_language_of_the_person_it_goes_to(liaison_client, liaison, facility):
    pen_pal = PenPalFactory(display_name="Rosa")
    approved_letter(facility, pen_pal, languages=["es", "en"], inmate_number="R-ES-1")
    approved_letter(facility, pen_pal, languages=["en", "es"], inmate_number="R-EN-1")
    # French is not a site language: that sheet falls back to the site's default.
    approved_letter(facility, pen_pal, languages=["fr"], inmate_number="R-FR-1")
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())

    html = liaison_client.get(print_url("batch_print", batch)).content.decode()

    sheets = re.findall(r'<article class="printed-letter" lang="(\w+)"(.*?)</article>', html, re.S)
    by_number = {re.search(r"R-(\w\w)-1", body).group(1): lang for lang, body in sheets}
    assert by_number == {"ES": "es", "EN": "en", "FR": "en"}
    # Django's own Spanish catalogue already names the month on a Spanish sheet.
    month_es = timezone.localtime(batch.created_at).strftime("%m")
    spanish = next(body for lang, body in sheets if lang == "es")
    english = next(body for lang, body in sheets if lang == "en")
    months_es = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                 "septiembre", "octubre", "noviembre", "diciembre"]  # fmt: skip
    assert months_es[int(month_es) - 1] in spanish
    assert months_es[int(month_es) - 1] not in english


# --- Each letter's PDF, rendered once when it is approved ------------------------------------


def queued(task_name: str, *args) -> int:
    """How many `task_name` tasks with `args` wait in this test process's
    broker (other tests' tasks may wait there too)."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    headers = [json.loads(message)["headers"] for message in broker.lrange("celery", 0, -1)]
    return sum(
        1
        for header in headers
        if header["task"] == task_name and header["argsrepr"] == repr(tuple(args))
    )


def letter_pdf_name(letter) -> str:
    return printing.stored_letter_pdf_name(letter, printing.letter_language(letter))


def test_approval_queues_the_letters_pdf(
    facility, pen_pal, moderator, django_capture_on_commit_callbacks
):
    profile = InmateProfileFactory.published(facility=facility)
    approved, rejected = write_letter(pen_pal, profile), write_letter(pen_pal, profile)
    with django_capture_on_commit_callbacks(execute=True):
        screen_and_decide(approved, moderator)
        screen_and_decide(rejected, moderator, approve=False, reason_code="money")
    assert queued("messaging.tasks.render_letter_pdf", approved.pk) == 1
    assert queued("messaging.tasks.render_letter_pdf", rejected.pk) == 0


def test_automatic_approval_queues_the_letters_pdf_too(
    facility, pen_pal, default_screening_rules, django_capture_on_commit_callbacks
):
    facility.screening_mode = Facility.ScreeningMode.FLAGGED_ONLY
    facility.save()
    letter = write_letter(pen_pal, InmateProfileFactory.published(facility=facility))
    with django_capture_on_commit_callbacks(execute=True):
        screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.APPROVED
    assert queued("messaging.tasks.render_letter_pdf", letter.pk) == 1


def test_the_letter_task_renders_once_and_only_what_is_needed(facility, pen_pal, private_dir):
    letter = approved_letter(facility, pen_pal)
    assert printing.render_and_store_letter_pdf(letter.pk) == "rendered"
    assert printing.render_and_store_letter_pdf(letter.pk) == "exists"
    assert printing.render_and_store_letter_pdf(10**9) == "missing"
    in_review = LetterFactory(correspondence=letter.correspondence, status="in_review")
    assert printing.render_and_store_letter_pdf(in_review.pk) == "not needed"
    stored = [path for path in private_dir.rglob("*") if path.is_file()]
    assert [path.parent.name for path in stored] == ["print-letters"]
    with open(stored[0], "rb") as pdf:
        assert pdf_page_count(pdf.read()) == 2  # the letter, then its reply sheet


def test_a_letters_pdf_is_private_and_its_name_cannot_be_guessed(
    client, liaison, facility, pen_pal, private_dir, settings
):
    letter = approved_letter(facility, pen_pal, languages=["es"])
    printing.render_and_store_letter_pdf(letter.pk)
    name = letter_pdf_name(letter)
    assert re.fullmatch(r"print-letters/[0-9a-f]{32}\.pdf", name)
    assert [path for path in private_dir.rglob("*") if path.is_file()] == [private_dir / name]
    # Under private storage only: nothing serves it, it has no URL.
    assert not (Path(settings.MEDIA_ROOT) / name).exists()
    with pytest.raises(PrivateFileHasNoURL):
        private_storage().url(name)
    # Made of the secret key and the letter's random key, not of anything one can count.
    same_number = Letter(pk=letter.pk, idempotency_key=uuid.uuid4())
    assert printing.stored_letter_pdf_name(same_number, "es") != name
    assert printing.stored_letter_pdf_name(letter, "en") != name
    with override_settings(SECRET_KEY="another-secret-key-long-enough-for-django-0123456789"):
        assert letter_pdf_name(letter) != name
    # The batch PDF made from it is served only to the facility's liaisons.
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    printing.render_and_store_batch_pdf(batch.pk)
    other_liaison = LiaisonFactory().user
    activate_totp(other_liaison)
    client.force_login(other_liaison)
    assert client.get(print_url("batch_pdf", batch)).status_code == 404
    client.force_login(pen_pal)
    assert client.get(print_url("batch_pdf", batch)).status_code in (403, 404)


def stored_letter_pdf_exists(letter) -> bool:
    return private_storage().exists(letter_pdf_name(letter))


def test_delivery_removes_the_letters_pdfs(
    liaison_client, batch, private_dir, django_capture_on_commit_callbacks
):
    letters = printing.batch_letters(batch)
    for letter in letters:
        printing.render_and_store_letter_pdf(letter.pk)
    assert all(stored_letter_pdf_exists(letter) for letter in letters)
    first = letters[0]
    with django_capture_on_commit_callbacks(execute=True):
        liaison_client.post(print_url("batch_delivered", batch), {"letter": first.pk})
    assert queued("messaging.tasks.discard_letter_pdfs", [first.pk]) == 1
    printing.discard_letter_pdfs([first.pk])  # the task's body, as the worker runs it
    assert [stored_letter_pdf_exists(letter) for letter in letters] == [False, True, True]
    # Asked about letters still waiting, it keeps their files.
    printing.discard_letter_pdfs([letter.pk for letter in letters])
    assert [stored_letter_pdf_exists(letter) for letter in letters] == [False, True, True]


def test_a_rejected_letters_pdf_is_removed(
    facility, pen_pal, moderator, private_dir, django_capture_on_commit_callbacks
):
    profile = InmateProfileFactory.published(facility=facility)
    letter = screen_and_decide(write_letter(pen_pal, profile), moderator)
    printing.render_and_store_letter_pdf(letter.pk)
    assert stored_letter_pdf_exists(letter)
    # A no-contact order recorded since puts the approved letter back before a moderator.
    order = NoContactOrder.objects.create(profile=profile, name=pen_pal.display_name)
    enforce_no_contact_order(order.pk)
    item = ModerationItem.objects.for_object(letter).pending().get()
    with django_capture_on_commit_callbacks(execute=True):
        do_decide(item.pk, moderator, approve=False, reason_code="other")
    assert queued("messaging.tasks.discard_letter_pdfs", [letter.pk]) == 1
    printing.discard_letter_pdfs([letter.pk])
    assert not stored_letter_pdf_exists(letter)


def test_the_daily_sweep_removes_a_returned_letters_pdf_and_keeps_the_ones_waiting(
    liaison, batch, private_dir
):
    letters = printing.batch_letters(batch)
    waiting = approved_letter(batch.facility, PenPalFactory())
    for letter in [*letters, waiting]:
        printing.render_and_store_letter_pdf(letter.pk)
    returned = letters[0]
    assert check_record_return(liaison, returned, Letter.ReturnReason.REFUSED, "")
    # A file of an older drawing, which no letter names any more.
    orphan = private_dir / printing.LETTER_PDF_FOLDER / "0123456789abcdef0123456789abcdef.pdf"
    orphan.write_bytes(b"%PDF-1.7")

    # Files younger than the grace period are left alone (a render may be saving one).
    assert printing.sweep_letter_pdfs() == 0
    with time_machine.travel(timezone.now() + printing.LETTER_PDF_SWEEP_GRACE * 2):
        assert printing.sweep_letter_pdfs() == 2
    assert not orphan.exists()
    assert not stored_letter_pdf_exists(returned)
    assert all(stored_letter_pdf_exists(letter) for letter in [*letters[1:], waiting])


def test_the_sweep_is_a_task():
    from messaging import tasks

    assert tasks.sweep_letter_pdfs.name == "messaging.tasks.sweep_letter_pdfs"
    assert tasks.render_letter_pdf.name == "messaging.tasks.render_letter_pdf"


# --- A real worker -----------------------------------------------------------------------------


def wait_until(condition, worker, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"the worker did not {what}"
        assert worker.poll() is None, "the worker died"
        time.sleep(0.2)


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_renders_each_letter_on_approval_and_merges_the_batch(
    celery_worker_process, liaison, moderator
):
    facility = liaison.facility_memberships.get().facility
    pen_pal = PenPalFactory()
    letters = [
        screen_and_decide(
            write_letter(pen_pal, InmateProfileFactory.published(facility=facility)), moderator
        )
        for _letter in range(2)
    ]
    for letter in letters:
        wait_until(
            lambda letter=letter: stored_letter_pdf_exists(letter),
            celery_worker_process,
            "render the approved letter",
        )

    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    printing.request_batch_pdf(batch)
    wait_until(lambda: printing.has_stored_pdf(batch), celery_worker_process, "merge the batch")
    with printing.open_stored_pdf(batch) as stored:
        assert pdf_page_count(stored.read()) == 4

    do_mark_delivered(liaison, batch)
    for letter in letters:
        wait_until(
            lambda letter=letter: not stored_letter_pdf_exists(letter),
            celery_worker_process,
            "remove the delivered letter's PDF",
        )
