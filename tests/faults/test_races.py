"""Races through the real views: two moderators on one item, and a liaison
printing while a moderator decides letters of the batch. Each runs the two
requests in two threads (two database connections) released by a barrier."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from messaging.models import Letter, Notification, PrintBatch
from moderation.models import ModerationDecision, ModerationItem
from tests.factories import ModeratorFactory, activate_totp
from tests.faults.concurrency import approved_letters, at_once, letters_in_review, messages_of

pytestmark = [pytest.mark.xdist_group("faults"), pytest.mark.django_db(transaction=True)]

Status = Letter.Status


@pytest.fixture
def second_moderator(db):
    moderator = ModeratorFactory(email="second-moderator@example.org")
    activate_totp(moderator)
    return moderator


def decide(item: ModerationItem, decision: str) -> Callable[[Client], HttpResponse]:
    url = reverse("admin:moderation_moderationitem_decide", args=[item.pk])
    form = {"decision": decision, "reason_code": "contact", "note": "No phone numbers, please."}
    return lambda client: client.post(url, form)


def bulk_approve(items: list[ModerationItem]) -> Callable[[Client], HttpResponse]:
    url = reverse("admin:moderation_moderationitem_changelist")
    form = {"action": "approve_selected", "_selected_action": [i.pk for i in items], "confirm": "1"}
    return lambda client: client.post(url, form)


def assert_decided_once(letter: Letter, item: ModerationItem) -> None:
    """One decision, and the letter, the item and the email all agree on it."""
    item.refresh_from_db()
    letter.refresh_from_db()
    (decision,) = ModerationDecision.objects.filter(item=item)
    assert decision.status == item.status
    assert (item.status, letter.status) in [
        (ModerationItem.Status.APPROVED, Status.APPROVED),
        (ModerationItem.Status.REJECTED, Status.REJECTED),
    ]
    kind = {
        Status.APPROVED: Notification.Kind.LETTER_APPROVED,
        Status.REJECTED: Notification.Kind.LETTER_REJECTED,
    }[letter.status]
    assert list(Notification.objects.values_list("kind", flat=True)) == [kind]


def test_two_moderators_deciding_one_item_at_once(
    moderator_with_mfa, second_moderator, alice, profile
):
    ((letter, item),) = letters_in_review(alice, profile)
    responses = at_once(
        (moderator_with_mfa, decide(item, "approve")),
        (second_moderator, decide(item, "reject")),
    )
    assert_decided_once(letter, item)
    # The loser is told, on the item's page, what the winner decided.
    said = [" ".join(messages_of(response)) for response in responses]
    assert sum("This item was already" in message for message in said) == 1


def test_a_bulk_approval_racing_a_rejection_of_one_of_its_items(
    moderator_with_mfa, second_moderator, alice, profile
):
    pairs = letters_in_review(alice, profile, 3)
    items = [item for _, item in pairs]
    at_once(
        (moderator_with_mfa, bulk_approve(items)),
        (second_moderator, decide(items[1], "reject")),
    )
    assert ModerationDecision.objects.count() == 3
    for letter, item in pairs:
        item.refresh_from_db()
        letter.refresh_from_db()
        assert ModerationDecision.objects.filter(item=item).count() == 1
        assert (
            letter.status == {"approved": Status.APPROVED, "rejected": Status.REJECTED}[item.status]
        )
    assert {item.status for _, item in pairs[::2]} == {ModerationItem.Status.APPROVED}


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_printing_while_a_moderator_decides_a_selected_letter(
    decision, liaison, facility, profile, moderator_with_mfa, alice, bob
):
    """The liaison's form names a letter still in review (a stale page, or a
    forged one): whichever request wins, only approved letters are printed."""
    printable = approved_letters(alice, profile, 2)
    ((contested, item),) = letters_in_review(bob, profile)
    queue_url = reverse("liaison_letters:queue", args=[facility.slug])
    form = {
        "idempotency_key": str(uuid.uuid4()),
        "scope": "selected",
        "letters": [letter.pk for letter in [*printable, contested]],
    }
    print_response, _ = at_once(
        (liaison, lambda client: client.post(queue_url, form)),
        (moderator_with_mfa, decide(item, decision)),
    )
    batch = PrintBatch.objects.get()
    printed = set(batch.letters.values_list("pk", flat=True))
    contested.refresh_from_db()
    # Nothing in the batch was ever anything but approved; the database says
    # whether the contested letter made it.
    assert {letter.pk for letter in printable} <= printed
    assert not Letter.objects.filter(pk__in=printed, approved_at__isnull=True).exists()
    assert set(Letter.objects.filter(pk__in=printed).values_list("status", flat=True)) == {
        Status.PRINTED
    }
    if decision == "reject":
        assert contested.status == Status.REJECTED
        assert contested.pk not in printed
    elif contested.pk in printed:
        assert contested.status == Status.PRINTED and contested.approved_at < contested.printed_at
    else:
        # Approved after the batch was made: it waits in the queue for the next one.
        assert contested.status == Status.APPROVED
        assert Letter.objects.print_queue(facility).filter(pk=contested.pk).exists()
    assert print_response.status_code == 302
    assert print_response.url == reverse(
        "liaison_letters:batch_detail", args=[facility.slug, batch.pk]
    )


def test_printing_all_while_a_moderator_rejects_everything_left(
    liaison, facility, profile, moderator_with_mfa, second_moderator, alice, bob
):
    """Print all, racing two rejections: every letter ends either printed
    (approved before) or rejected (never approved), never both."""
    printable = approved_letters(alice, profile, 3)
    pairs = letters_in_review(bob, profile, 2)
    queue_url = reverse("liaison_letters:queue", args=[facility.slug])
    form = {"idempotency_key": str(uuid.uuid4()), "scope": "all"}
    at_once(
        (liaison, lambda client: client.post(queue_url, form)),
        (moderator_with_mfa, decide(pairs[0][1], "reject")),
        (second_moderator, decide(pairs[1][1], "reject")),
    )
    statuses = dict(Letter.objects.values_list("pk", "status"))
    assert {statuses[letter.pk] for letter in printable} == {Status.PRINTED}
    assert {statuses[letter.pk] for letter, _ in pairs} == {Status.REJECTED}
    assert not Letter.objects.filter(status=Status.REJECTED, print_batch__isnull=False).exists()
