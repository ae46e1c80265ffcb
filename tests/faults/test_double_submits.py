"""Every state-changing form, submitted twice: replayed (the same POST again,
same session, same idempotency key) and double-clicked (two requests at once,
from two threads on two database connections). Each has one effect, and both
answers are the page a single submit gives, not an error.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import Correspondence, Letter, Notification, PrintBatch
from moderation.models import ModerationDecision, ModerationItem
from penpals.celery import app as celery_app
from profiles.models import Favorite, InmateProfile, LiaisonAction
from tests.factories import MINIMAL_PDF, CorrespondenceFactory, image_bytes
from tests.faults.concurrency import (
    approved_letters,
    letters_in_review,
    messages_of,
    submit_twice,
)
from tests.profiles.test_csv_import import csv_text, row

pytestmark = [
    pytest.mark.xdist_group("faults"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("mode", ["replayed", "concurrent"]),
]

Status = Letter.Status
Action = LiaisonAction.Kind


@pytest.fixture
def eager_tasks():
    """Tasks enqueued after commit run in the request's thread (screening, emails)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


# --- Pen pals -----------------------------------------------------------------------------


def test_writing_a_letter(mode, alice, profile, eager_tasks, default_screening_rules):
    url = reverse("letters:write", args=[profile.slug])
    form = {"body": "Hello Marcus, how was your week?", "idempotency_key": str(uuid.uuid4())}
    responses = submit_twice(mode, alice, lambda client: client.post(url, form))
    letter = Letter.objects.get()
    thread_url = reverse("letters:thread", args=[letter.correspondence_id])
    assert [(r.status_code, r.url) for r in responses] == [(302, thread_url)] * 2
    assert Correspondence.objects.count() == 1
    # Screened once, after commit: one item in the queue.
    assert ModerationItem.objects.for_object(letter).count() == 1
    assert Letter.objects.get().status == Status.IN_REVIEW


def test_saving_a_favourite(mode, alice, profile):
    url = reverse("directory:favorite", args=[profile.slug])
    responses = submit_twice(mode, alice, lambda client: client.post(url, {"action": "save"}))
    assert [r.status_code for r in responses] == [302, 302]
    assert Favorite.objects.filter(user=alice, profile=profile).count() == 1


def test_blocking(mode, alice, profile):
    correspondence = CorrespondenceFactory(pen_pal=alice, profile=profile)
    url = reverse("letters:block", args=[correspondence.pk])
    responses = submit_twice(mode, alice, lambda client: client.post(url))
    assert [r.status_code for r in responses] == [302, 302]
    correspondence.refresh_from_db()
    assert correspondence.blocked_by_pen_pal_at is not None
    first_block = correspondence.blocked_by_pen_pal_at
    # A third time still keeps the time of the first block.
    submit_twice("replayed", alice, lambda client: client.post(url))
    correspondence.refresh_from_db()
    assert correspondence.blocked_by_pen_pal_at == first_block


# --- Moderators ---------------------------------------------------------------------------


def test_deciding_an_item(mode, moderator_with_mfa, alice, profile, eager_tasks):
    ((letter, item),) = letters_in_review(alice, profile)
    url = reverse("admin:moderation_moderationitem_decide", args=[item.pk])
    responses = submit_twice(
        mode, moderator_with_mfa, lambda client: client.post(url, {"decision": "approve"})
    )
    assert ModerationDecision.objects.filter(item=item).count() == 1
    letter.refresh_from_db()
    assert letter.status == Status.APPROVED
    assert Notification.objects.filter(kind=Notification.Kind.LETTER_APPROVED).count() == 1
    # One request approved it; the other says it already was, on the item's page.
    outcomes = sorted(" ".join(messages_of(response)) for response in responses)
    assert "approved." in outcomes[0]
    assert "This item was already approved." in outcomes[1]


def test_a_bulk_decision(mode, moderator_with_mfa, alice, profile, eager_tasks):
    items = [item for _, item in letters_in_review(alice, profile, 3)]
    url = reverse("admin:moderation_moderationitem_changelist")
    form = {
        "action": "reject_selected",
        "_selected_action": [item.pk for item in items],
        "confirm": "yes",
        "reason_code": "contact",
        "note": "Please leave out phone numbers.",
    }
    responses = submit_twice(mode, moderator_with_mfa, lambda client: client.post(url, form))
    assert [r.status_code for r in responses] == [302, 302]
    assert ModerationDecision.objects.count() == 3
    assert set(Letter.objects.values_list("status", flat=True)) == {Status.REJECTED}
    assert Notification.objects.filter(kind=Notification.Kind.LETTER_REJECTED).count() == 3
    # Between them the two requests rejected each item once, and said so.
    report = " ".join(messages_of(responses[0]) + messages_of(responses[1]))
    assert sum(int(n) for n in re.findall(r"Rejected (\d+) item\(s\)\.", report)) == 3


# --- Liaisons -----------------------------------------------------------------------------


def test_creating_a_print_batch(mode, liaison, facility, profile, alice):
    letters = approved_letters(alice, profile, 3)
    url = reverse("liaison_letters:queue", args=[facility.slug])
    form = {
        "idempotency_key": str(uuid.uuid4()),
        "scope": "selected",
        "letters": [letter.pk for letter in letters],
    }
    responses = submit_twice(mode, liaison, lambda client: client.post(url, form))
    batch = PrintBatch.objects.get()
    assert set(batch.letters.values_list("pk", flat=True)) == {letter.pk for letter in letters}
    assert LiaisonAction.objects.filter(kind=Action.LETTERS_PRINTED).count() == 1
    # Both requests lead to the batch: the second must not say nothing was printed.
    detail = reverse("liaison_letters:batch_detail", args=[facility.slug, batch.pk])
    assert [(r.status_code, r.url) for r in responses] == [(302, detail)] * 2
    for response in responses:
        assert messages_of(response) == [
            f"Print batch {batch.pk}: 3 letters. Print them from the print view or the PDF, "
            "hand them out, then mark them delivered."
        ]


def test_marking_a_batch_delivered(mode, liaison, facility, profile, alice):
    letters = approved_letters(alice, profile, 2)
    batch = PrintBatch.objects.create(
        facility=facility, created_by=liaison, idempotency_key=uuid.uuid4()
    )
    Letter.objects.filter(pk__in=[letter.pk for letter in letters]).update(
        status=Status.PRINTED, printed_at=timezone.now(), print_batch=batch
    )
    url = reverse("liaison_letters:batch_delivered", args=[facility.slug, batch.pk])
    responses = submit_twice(mode, liaison, lambda client: client.post(url, {}))
    assert [r.status_code for r in responses] == [302, 302]
    assert set(Letter.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert Notification.objects.filter(kind=Notification.Kind.LETTER_DELIVERED).count() == 2
    assert LiaisonAction.objects.filter(kind=Action.LETTERS_DELIVERED).count() == 1
    said = sorted(" ".join(messages_of(response)) for response in responses)
    assert said == [
        "Marked 2 letters delivered. Each pen pal is told by email.",
        "Nothing to change: already marked delivered.",
    ]


def test_uploading_a_reply(mode, liaison, facility, profile, alice):
    correspondence = CorrespondenceFactory(pen_pal=alice, profile=profile)
    url = reverse("liaison_letters:reply_upload", args=[facility.slug])
    key = str(uuid.uuid4())

    def post(client: Client) -> HttpResponse:
        # Each request carries its own copy of the files, as a browser sends them.
        scans = [
            SimpleUploadedFile("1.jpg", image_bytes()),
            SimpleUploadedFile("2.pdf", MINIMAL_PDF),
        ]
        form = {"code": correspondence.code, "scans": scans, "idempotency_key": key}
        return client.post(url, form)

    responses = submit_twice(mode, liaison, post)
    reply_list = reverse("liaison_letters:reply_list", args=[facility.slug])
    assert [(r.status_code, r.url) for r in responses] == [(302, reply_list)] * 2
    reply = Letter.objects.get(direction=Letter.Direction.INBOUND)
    assert reply.scans.count() == 2
    assert LiaisonAction.objects.filter(kind=Action.REPLY_UPLOADED).count() == 1


def test_importing_profiles_from_csv(mode, liaison, facility):
    text = csv_text([row(inmate_number="A-1"), row(inmate_number="B-2", display_name="Bea")])
    url = reverse("liaison:csv_import", args=[facility.slug])

    def post(client: Client) -> HttpResponse:
        upload = SimpleUploadedFile("profiles.csv", text.encode(), content_type="text/csv")
        return client.post(url, {"csv_file": upload})

    responses = submit_twice(mode, liaison, post)
    assert [r.status_code for r in responses] == [200, 200]
    assert InmateProfile.objects.filter(facility=facility).count() == 2
    # The later import found both people already there, unchanged.
    reports = sorted(
        tuple(int(stat(response, label)) for label in ("created", "unchanged"))
        for response in responses
    )
    assert reports == [(0, 2), (2, 0)]


def stat(response: HttpResponse, label: str) -> str:
    """A figure of the import report page (response.context is not thread-safe)."""
    found = re.search(
        rf'stat-number">(\d+)</span> <span class="stat-label">{label}<', response.content.decode()
    )
    assert found, f"no {label} figure on the page"
    return found.group(1)
