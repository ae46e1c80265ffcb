"""The facility side of letters in the liaison portal: the print queue, print
batches, delivery, and who may reach them (every URL of
messaging.liaison_urls, scanning runs, triage and returns included)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging import liaison_urls
from messaging.models import Letter, LetterScan, Notification, PrintBatch, ScanPage, ScanRun
from messaging.services import check_create_print_batch, do_block
from profiles.models import LiaisonAction
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    PenPalFactory,
    activate_totp,
    image_bytes,
)

# Scans and PDFs go to a private folder of each test's own (tests/messaging/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_dir")]

Status = Letter.Status


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture
def pen_pal(db):
    return PenPalFactory(email="rosa@example.org", display_name="Rosa")


def approved_letter(facility, pen_pal, *, approved_ago=timedelta(0), **profile_fields):
    profile = InmateProfileFactory.published(facility=facility, **profile_fields)
    correspondence = CorrespondenceFactory(pen_pal=pen_pal, profile=profile)
    return LetterFactory(
        correspondence=correspondence,
        status=Status.APPROVED,
        approved_at=timezone.now() - approved_ago,
        body="Dear friend, the garden is full of tomatoes this year.",
    )


def queue_url(facility):
    return reverse("liaison_letters:queue", args=[facility.slug])


def batch_url(name, batch):
    return reverse(f"liaison_letters:{name}", args=[batch.facility.slug, batch.pk])


def print_post(client, facility, scope="all", letters=(), key=None):
    data = {"scope": scope, "idempotency_key": str(key or uuid.uuid4())}
    if letters:
        data["letters"] = [str(letter.pk) for letter in letters]
    return client.post(queue_url(facility), data)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Who may reach what -----------------------------------------------------------------------


def facility_kwargs(objects) -> dict:
    return {"facility_slug": objects.facility.slug}


def batch_kwargs(objects) -> dict:
    return {"facility_slug": objects.facility.slug, "batch_id": objects.batch.pk}


def reply_post(objects) -> dict:
    return {
        "code": objects.correspondence.code,
        "scans": [SimpleUploadedFile("page.jpg", image_bytes())],
        "idempotency_key": str(uuid.uuid4()),
    }


def run_kwargs(objects) -> dict:
    return {"facility_slug": objects.facility.slug, "run_id": objects.run.pk}


def page_kwargs(objects) -> dict:
    return {"facility_slug": objects.facility.slug, "page_id": objects.triage_page.pk}


def printed_kwargs(objects) -> dict:
    return {"facility_slug": objects.facility.slug, "letter_id": objects.printed.pk}


def returns_kwargs(objects) -> dict:
    return {
        "facility_slug": objects.facility.slug,
        "correspondence_id": objects.printed.correspondence_id,
    }


def run_post(objects) -> dict:
    return {
        "scans": [SimpleUploadedFile("run.jpg", image_bytes())],
        "idempotency_key": str(uuid.uuid4()),
    }


def assign_post(objects) -> dict:
    prefix = f"page-{objects.triage_page.pk}"
    return {f"{prefix}-action": "assign", f"{prefix}-reference": objects.correspondence.code}


def return_post(objects) -> dict:
    return {"reason": Letter.ReturnReason.REFUSED, "note": ""}


# URL name → (its arguments from facility B's objects, {method: POST data maker}).
# The POST data is what a real request sends, so a missing access check would
# really change B's objects (and the test below would notice).
TARGETS = {
    "queue": (
        facility_kwargs,
        {
            "GET": None,
            "POST": lambda objects: {
                "scope": "selected",
                "letters": [str(objects.queued.pk)],
                "idempotency_key": str(uuid.uuid4()),
            },
        },
    ),
    "batch_list": (facility_kwargs, {"GET": None}),
    "batch_detail": (batch_kwargs, {"GET": None}),
    "batch_print": (batch_kwargs, {"GET": None}),
    "batch_pdf": (batch_kwargs, {"GET": None}),
    "batch_pdf_status": (batch_kwargs, {"GET": None}),
    "batch_delivered": (batch_kwargs, {"POST": lambda objects: {}}),
    "reply_list": (facility_kwargs, {"GET": None}),
    "reply_upload": (facility_kwargs, {"GET": None, "POST": reply_post}),
    # Scanning runs and triage (messaging.intake_views).
    "scan_runs": (facility_kwargs, {"GET": None, "POST": run_post}),
    "scan_run": (run_kwargs, {"GET": None}),
    "scan_run_status": (run_kwargs, {"GET": None}),
    "triage": (facility_kwargs, {"GET": None}),
    "triage_page": (page_kwargs, {"POST": assign_post}),
    "scan_page_image": (page_kwargs, {"GET": None}),
    # Returned letters (messaging.return_views).
    "letter_return": (printed_kwargs, {"GET": None, "POST": return_post}),
    "return_find": (
        facility_kwargs,
        {"GET": None, "POST": lambda objects: {"code": objects.printed.correspondence.code}},
    ),
    "return_choose": (
        returns_kwargs,
        {
            "GET": None,
            "POST": lambda objects: {"letter": str(objects.printed.pk), **return_post(objects)},
        },
    ),
}
CASES = [(name, method) for name, (_, methods) in TARGETS.items() for method in methods]


@pytest.fixture
def facility_b():
    """Facility B with its own liaison, a letter in its queue, a printed
    batch, and a scanning run with a page waiting in triage."""
    membership = LiaisonFactory()
    activate_totp(membership.user)
    pen_pal = PenPalFactory()
    printed = approved_letter(membership.facility, pen_pal, legal_name="Bea Secretname")
    batch = check_create_print_batch(membership.user, membership.facility, None, uuid.uuid4())
    queued = approved_letter(membership.facility, pen_pal)
    run = ScanRun.objects.create(
        facility=membership.facility,
        uploaded_by=membership.user,
        idempotency_key=uuid.uuid4(),
        state=ScanRun.State.DONE,
        pages_total=1,
        pages_done=1,
    )
    triage_page = ScanPage(
        run=run,
        facility=membership.facility,
        number=1,
        content_hash="b" * 64,
        state=ScanPage.State.TRIAGE,
        triage_reason=ScanPage.TriageReason.UNREADABLE,
    )
    triage_page.image.save("page.jpg", ContentFile(image_bytes()), save=True)
    return SimpleNamespace(
        facility=membership.facility,
        liaison=membership.user,
        batch=batch,
        printed=printed,
        queued=queued,
        correspondence=queued.correspondence,
        run=run,
        triage_page=triage_page,
    )


def request(client, name: str, method: str, objects):
    kwargs_for, methods = TARGETS[name]
    url = reverse(f"liaison_letters:{name}", kwargs=kwargs_for(objects))
    if method == "GET":
        return client.get(url)
    return client.post(url, methods[method](objects))


def test_it_covers_every_liaison_letters_url():
    assert {pattern.name for pattern in liaison_urls.urlpatterns} == set(TARGETS)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_it_answers_404_to_a_liaison_of_another_facility(
    liaison_client, liaison, facility_b, name, method
):
    response = request(liaison_client, name, method, facility_b)
    assert response.status_code == 404
    # Nothing of B's changed, and nothing was done in A's name.
    assert PrintBatch.objects.count() == 1
    facility_b.printed.refresh_from_db()
    facility_b.queued.refresh_from_db()
    assert facility_b.printed.status == Status.PRINTED
    assert facility_b.queued.status == Status.APPROVED
    assert not Letter.objects.inbound().exists()
    assert not LiaisonAction.objects.filter(actor=liaison).exists()
    assert list(ScanRun.objects.all()) == [facility_b.run]
    facility_b.triage_page.refresh_from_db()
    assert facility_b.triage_page.state == ScanPage.State.TRIAGE


@pytest.mark.parametrize(("name", "method"), CASES)
def test_it_lets_the_facility_own_liaison_through(client, facility_b, name, method):
    """The control: B's own liaison is not refused, so the 404s above come
    from the access check and not from a broken URL."""
    client.force_login(facility_b.liaison)
    response = request(client, name, method, facility_b)
    assert response.status_code in (200, 202, 302)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_it_answers_404_to_pen_pals(client, alice, facility_b, name, method):
    client.force_login(alice)
    assert request(client, name, method, facility_b).status_code == 404


@pytest.mark.parametrize(("name", "method"), CASES)
def test_it_sends_anonymous_visitors_to_log_in(client, facility_b, name, method):
    response = request(client, name, method, facility_b)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_it_asks_a_liaison_without_mfa_to_set_it_up(client, facility_b):
    membership = LiaisonFactory(facility=facility_b.facility)
    client.force_login(membership.user)
    response = request(client, "queue", "GET", facility_b)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_it_answers_the_same_for_a_missing_batch_as_for_another_facilitys(
    liaison_client, facility, facility_b
):
    # B's batch asked for under A's own facility slug: still not found.
    url = reverse("liaison_letters:batch_detail", args=[facility.slug, facility_b.batch.pk])
    assert liaison_client.get(url).status_code == 404
    missing = reverse("liaison_letters:batch_detail", args=[facility.slug, 10**9])
    assert liaison_client.get(missing).status_code == 404


# --- The print queue --------------------------------------------------------------------------


def test_it_lists_the_queue_oldest_approval_first(liaison_client, facility, pen_pal):
    newer = approved_letter(
        facility,
        pen_pal,
        display_name="Newer",
        inmate_number="N-2",
        approved_ago=timedelta(hours=1),
    )
    older = approved_letter(
        facility, pen_pal, display_name="Older", inmate_number="O-1", approved_ago=timedelta(days=2)
    )
    response = liaison_client.get(queue_url(facility))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert [letter.pk for letter in response.context["page"]] == [older.pk, newer.pk]
    page = response.content.decode()
    assert older.correspondence.code in page
    assert "Older" in page and "#O-1" in page
    assert "Rosa" in page
    assert "the garden is full of tomatoes" in page
    assert f'name="letters" value="{older.pk}"' in page
    assert 'name="idempotency_key"' in page


def test_it_leaves_out_letters_that_are_not_waiting_to_be_printed(
    liaison_client, facility, pen_pal
):
    waiting = approved_letter(facility, pen_pal)
    in_review = approved_letter(facility, pen_pal)
    Letter.objects.filter(pk=in_review.pk).update(status=Status.IN_REVIEW)
    blocked = approved_letter(facility, pen_pal)
    do_block(blocked.correspondence)
    elsewhere = approved_letter(InmateProfileFactory().facility, pen_pal)
    response = liaison_client.get(queue_url(facility))
    assert [letter.pk for letter in response.context["page"]] == [waiting.pk]
    assert elsewhere.correspondence.code not in response.content.decode()


def test_it_shows_the_queue_in_a_fixed_number_of_queries(liaison_client, facility, pen_pal):
    approved_letter(facility, pen_pal)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liaison_client.get(queue_url(facility)).status_code == 200
        return len(queries)

    one = count_queries()
    other_pen_pal = PenPalFactory()
    for _number in range(6):
        approved_letter(facility, other_pen_pal)
    assert count_queries() == one
    assert one <= 10


def test_it_prints_the_selected_letters(liaison_client, facility, pen_pal):
    first, second, third = (approved_letter(facility, pen_pal) for _ in range(3))
    response = print_post(liaison_client, facility, "selected", [first, third])
    batch = PrintBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == batch_url("batch_detail", batch)
    assert set(batch.letters.values_list("pk", flat=True)) == {first.pk, third.pk}
    assert batch.created_by.facility_memberships.get().facility == facility
    second.refresh_from_db()
    assert second.status == Status.APPROVED
    assert LiaisonAction.objects.filter(kind=LiaisonAction.Kind.LETTERS_PRINTED).count() == 1


def test_it_prints_the_whole_queue(liaison_client, facility, pen_pal):
    letters = [approved_letter(facility, pen_pal) for _ in range(3)]
    print_post(liaison_client, facility, "all")
    batch = PrintBatch.objects.get()
    assert batch.letters.count() == 3
    for letter in letters:
        letter.refresh_from_db()
        assert (letter.status, letter.print_batch_id) == (Status.PRINTED, batch.pk)


def test_a_double_submit_makes_one_batch(liaison_client, facility, pen_pal):
    approved_letter(facility, pen_pal)
    key = uuid.uuid4()
    first = print_post(liaison_client, facility, "all", key=key)
    second = print_post(liaison_client, facility, "all", key=key)
    assert PrintBatch.objects.count() == 1
    assert first["Location"] == second["Location"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"scope": "selected"}, "Tick the letters to print"),
        ({"scope": "all", "idempotency_key": "not-a-uuid"}, "The form was incomplete"),
        ({"scope": "selected", "letters": ["x"]}, "The form was incomplete"),
        ({"scope": "everything"}, "The form was incomplete"),
    ],
)
def test_it_refuses_a_malformed_print_request_with_a_message(
    liaison_client, facility, pen_pal, data, message
):
    approved_letter(facility, pen_pal)
    data = {"idempotency_key": str(uuid.uuid4()), **data}
    response = liaison_client.post(queue_url(facility), data, follow=True)
    assert response.status_code == 200
    assert any(message in text for text in messages_of(response))
    assert not PrintBatch.objects.exists()


def test_it_says_so_when_nothing_is_waiting(liaison_client, facility, pen_pal):
    response = print_post(liaison_client, facility, "all")
    assert response.status_code == 302
    followed = liaison_client.get(response["Location"])
    assert "None of the selected letters are waiting to be printed." in messages_of(followed)
    assert "No letters are waiting to be printed." in followed.content.decode()
    assert not PrintBatch.objects.exists()


def test_it_never_prints_another_facilitys_letters_by_id(
    liaison_client, facility, pen_pal, facility_b
):
    response = print_post(liaison_client, facility, "selected", [facility_b.queued], key=None)
    followed = liaison_client.get(response["Location"])
    assert "None of the selected letters are waiting to be printed." in messages_of(followed)
    facility_b.queued.refresh_from_db()
    assert facility_b.queued.status == Status.APPROVED
    assert PrintBatch.objects.count() == 1  # B's own


# --- Batches and delivery ---------------------------------------------------------------------


@pytest.fixture
def batch(liaison, facility, pen_pal):
    for _ in range(2):
        approved_letter(facility, pen_pal)
    approved_letter(facility, PenPalFactory(display_name="Theo"))
    return check_create_print_batch(liaison, facility, None, uuid.uuid4())


def test_it_lists_the_facilitys_batches(liaison_client, facility, batch, facility_b):
    response = liaison_client.get(reverse("liaison_letters:batch_list", args=[facility.slug]))
    assert response.status_code == 200
    assert [listed.pk for listed in response.context["page"]] == [batch.pk]
    assert response.context["page"][0].letter_count == 3
    page = response.content.decode()
    assert batch_url("batch_detail", batch) in page
    assert "0 of 3" in page


def test_it_lists_batches_in_a_fixed_number_of_queries(liaison, liaison_client, facility, batch):
    url = reverse("liaison_letters:batch_list", args=[facility.slug])

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liaison_client.get(url).status_code == 200
        return len(queries)

    one = count_queries()
    pen_pal = PenPalFactory()
    for _number in range(3):
        approved_letter(facility, pen_pal)
        check_create_print_batch(liaison, facility, None, uuid.uuid4())
    assert count_queries() == one


def test_it_shows_a_batch_with_its_letters(liaison_client, batch, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = liaison_client.get(batch_url("batch_detail", batch))
    assert response.status_code == 200
    page = response.content.decode()
    for letter in batch.letters.select_related("correspondence__profile"):
        assert letter.correspondence.code in page
        assert letter.correspondence.profile.inmate_number in page
    assert batch_url("batch_print", batch) in page
    assert batch_url("batch_pdf", batch) in page
    assert "Mark all delivered" in page
    assert page.count("Mark delivered<") == 3


def test_it_marks_one_letter_delivered_and_tells_its_pen_pal_once(liaison_client, batch):
    letter = batch.letters.order_by("pk").first()
    url = batch_url("batch_delivered", batch)
    response = liaison_client.post(url, {"letter": letter.pk}, follow=True)
    assert "Marked 1 letter delivered. Each pen pal is told by email." in messages_of(response)
    again = liaison_client.post(url, {"letter": letter.pk}, follow=True)
    assert "Nothing to change: already marked delivered." in messages_of(again)
    letter.refresh_from_db()
    assert letter.status == Status.DELIVERED
    assert letter.delivered_at is not None
    notifications = Notification.objects.filter(kind=Notification.Kind.LETTER_DELIVERED)
    assert [(n.recipient_id, n.context["letter_id"]) for n in notifications] == [
        (letter.correspondence.pen_pal_id, letter.pk)
    ]
    batch.refresh_from_db()
    assert batch.delivered_at is None
    assert batch.letters.filter(status=Status.PRINTED).count() == 2


def test_it_marks_the_whole_batch_delivered_once(liaison, liaison_client, batch):
    url = batch_url("batch_delivered", batch)
    response = liaison_client.post(url, follow=True)
    assert "Marked 3 letters delivered. Each pen pal is told by email." in messages_of(response)
    liaison_client.post(url)
    assert set(batch.letters.values_list("status", flat=True)) == {Status.DELIVERED}
    assert Notification.objects.filter(kind=Notification.Kind.LETTER_DELIVERED).count() == 3
    batch.refresh_from_db()
    assert batch.delivered_at is not None
    assert batch.delivered_by == liaison
    assert LiaisonAction.objects.filter(kind=LiaisonAction.Kind.LETTERS_DELIVERED).count() == 1
    page = liaison_client.get(batch_url("batch_detail", batch)).content.decode()
    assert "Mark all delivered" not in page


def test_it_ignores_a_letter_of_another_batch(liaison_client, batch, facility_b):
    response = liaison_client.post(
        batch_url("batch_delivered", batch), {"letter": facility_b.printed.pk}, follow=True
    )
    assert "Nothing to change: already marked delivered." in messages_of(response)
    facility_b.printed.refresh_from_db()
    assert facility_b.printed.status == Status.PRINTED


def test_it_refuses_a_malformed_letter_id(liaison_client, batch):
    response = liaison_client.post(
        batch_url("batch_delivered", batch), {"letter": "x"}, follow=True
    )
    assert "Choose a letter of this batch." in messages_of(response)
    assert not batch.letters.filter(status=Status.DELIVERED).exists()


def test_delivery_is_post_only(liaison_client, batch):
    assert liaison_client.get(batch_url("batch_delivered", batch)).status_code == 405


# --- The dashboard --------------------------------------------------------------------------


def test_the_dashboard_links_to_the_queue_with_what_waits(liaison_client, facility, pen_pal, batch):
    for _ in range(2):
        approved_letter(facility, pen_pal)
    reply = LetterFactory(
        correspondence=CorrespondenceFactory(
            pen_pal=pen_pal, profile=InmateProfileFactory.published(facility=facility)
        ),
        direction="in",
        status=Status.IN_REVIEW,
    )
    LetterScan.objects.create(letter=reply, page=1, file="x.jpg", content_type="image/jpeg", size=1)
    response = liaison_client.get(reverse("liaison:facility_dashboard", args=[facility.slug]))
    assert response.status_code == 200
    page = response.content.decode()
    assert queue_url(facility) in page
    assert reverse("liaison_letters:reply_upload", args=[facility.slug]) in page
    assert (
        '<span class="stat-number">2</span> <span class="stat-label">Waiting to be printed</span>'
        in page
    )
    assert (
        '<span class="stat-number">1</span> <span class="stat-label">Batches not yet delivered'
        in page
    )
    assert '<span class="stat-number">1</span> <span class="stat-label">Replies in review' in page
