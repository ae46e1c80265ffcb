"""Deleting an account removes the person's data everywhere it is held, while
their letters stay for the audit trail under the anonymous author.

tests/penpals/test_account.py already proves the user row is wiped (email,
display name, password, addresses, MFA) and the session ends; this adds what
other apps hold: favourites, pending emails, reports, and the data export.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.core import mail

from messaging.models import Letter, Notification
from messaging.notifications import deliver_notification
from moderation.models import Report
from moderation.reports import check_report
from penpals.models import User
from penpals.services import do_delete_account, export_user_data
from profiles.models import Favorite
from profiles.services import do_save_favorite
from tests.factories import InmateProfileFactory, screen_and_decide, write_letter

pytestmark = pytest.mark.django_db


@pytest.fixture
def pen_pal_with_history(alice, bob, moderator):
    """Alice has favourites, letters (one approved, so an email waits in the
    outbox), a report she made; Bob has the same, and must keep all of it."""
    for person in (alice, bob):
        first, second = InmateProfileFactory.published(), InmateProfileFactory.published()
        do_save_favorite(person, first)
        do_save_favorite(person, second)
        letter = screen_and_decide(
            write_letter(person, first, "Hello! How is the library job going?"), moderator
        )
        assert letter.status == "approved"
        reply = Letter.objects.create(
            correspondence=letter.correspondence,
            direction="in",
            status="approved",
            body="A reply.",
            idempotency_key=uuid.uuid4(),
        )
        check_report(person, reply, "scam", "This looks like a scam to me.")
    assert Notification.objects.filter(recipient=alice, state="pending").exists()
    return alice


def test_it_removes_the_persons_data_and_keeps_their_letters(pen_pal_with_history, bob):
    alice = pen_pal_with_history
    letters = list(Letter.objects.filter(created_by=alice).values_list("pk", "body"))
    bob_before = (
        Favorite.objects.filter(user=bob).count(),
        Notification.objects.filter(recipient=bob, state="pending").count(),
        Report.objects.filter(reporter=bob).count(),
    )

    do_delete_account(alice)

    alice = User.objects.get(pk=alice.pk)
    assert alice.is_deleted and alice.email.endswith("@deleted.invalid")
    assert alice.display_name == ""
    assert not Favorite.objects.filter(user=alice).exists()
    # No email will ever go to the old address.
    assert not Notification.objects.filter(recipient=alice, state__in=["pending", "sending"])
    mail.outbox = []
    for notification in Notification.objects.filter(recipient=alice):
        assert deliver_notification(notification.pk) in ("skipped", "cancelled")
    assert mail.outbox == []
    # Reports stay for moderation, but no longer point at the person.
    assert not Report.objects.filter(reporter=alice).exists()
    assert Report.objects.filter(reporter=None).count() == 1
    # Letters stay for the audit trail, under the anonymous author.
    assert list(Letter.objects.filter(created_by=alice).values_list("pk", "body")) == letters
    assert alice.public_name == "Former member"

    # Nothing of the person is left in what an export of the row would hold.
    export = json.dumps(export_user_data(alice))
    assert "alice@example.org" not in export
    assert "Alice" not in export
    assert json.loads(export)["profiles"]["favorites"] == []
    assert json.loads(export)["penpals"]["email_addresses"] == []

    # Bob keeps everything.
    assert bob_before == (
        Favorite.objects.filter(user=bob).count(),
        Notification.objects.filter(recipient=bob, state="pending").count(),
        Report.objects.filter(reporter=bob).count(),
    )
    assert bob_before[0] == 2 and bob_before[1] >= 1 and bob_before[2] == 1
