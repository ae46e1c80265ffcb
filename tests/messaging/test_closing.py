"""Every way a correspondence closes takes what it held out of the queue.

A profile released or transferred, a moderator closing the correspondence,
and a no-contact order naming the pen pal's address all close it through one
function (messaging.services.close_correspondences): letters still waiting
for a decision, either way, are not delivered, and no moderator can approve
them afterwards (an inmate's reply approved after a no-contact order would
reach the protected person's inbox).
"""

from __future__ import annotations

import pytest

from messaging.models import Correspondence, Letter
from messaging.services import enforce_no_contact_order, screen_letter
from moderation import protection
from moderation.models import ModerationItem, NoContactOrder
from moderation.services import AlreadyDecided, current_version, do_decide, submit_for_review
from profiles.models import Facility
from profiles.services import check_change_lifecycle
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    PenPalFactory,
    write_letter,
)


@pytest.fixture
def correspondence(db, liaison):
    facility = liaison.facility_memberships.get().facility
    facility.screening_mode = Facility.ScreeningMode.EVERY_LETTER
    facility.save()
    profile = InmateProfileFactory.published(facility=facility)
    return CorrespondenceFactory(pen_pal=PenPalFactory(email="robin@example.org"), profile=profile)


def waiting_letters(correspondence):
    """An outbound letter and an inmate's reply, both before a moderator."""
    outbound = write_letter(correspondence.pen_pal, correspondence.profile)
    screen_letter(outbound.pk)
    reply = LetterFactory(
        correspondence=correspondence, direction="in", status="in_review", created_by=None
    )
    submit_for_review(
        reply, ModerationItem.Kind.LETTER_IN, facility=correspondence.profile.facility
    )
    return outbound, reply


def close_by_release(correspondence, liaison, moderator):
    check_change_lifecycle(liaison, correspondence.profile, "released")


def close_by_moderator(correspondence, liaison, moderator):
    protection.do_close_correspondence(correspondence)


def close_by_no_contact_order(correspondence, liaison, moderator):
    order = NoContactOrder.objects.create(
        profile=correspondence.profile, email="Robin@example.org", created_by=moderator
    )
    enforce_no_contact_order(order.pk)


@pytest.mark.parametrize("close", [close_by_release, close_by_moderator, close_by_no_contact_order])
def test_closing_takes_every_waiting_letter_out_of_the_queue(
    correspondence, liaison, moderator, close
):
    letters = waiting_letters(correspondence)
    items = [ModerationItem.objects.for_object(letter).pending().get() for letter in letters]
    close(correspondence, liaison, moderator)
    correspondence.refresh_from_db()
    assert correspondence.is_closed
    for letter, item in zip(letters, items, strict=True):
        item.refresh_from_db()
        assert item.status == ModerationItem.Status.WITHDRAWN
        with pytest.raises(AlreadyDecided):
            do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
        letter.refresh_from_db()
        assert letter.status == Letter.Status.REJECTED  # shown as "Not delivered"
    assert not ModerationItem.objects.filter(
        pk__in=[item.pk for item in items], status=ModerationItem.Status.PENDING
    ).exists()


def test_closing_twice_changes_nothing_more(correspondence, liaison, moderator):
    waiting_letters(correspondence)
    protection.do_close_correspondence(correspondence)
    closed_at = Correspondence.objects.get(pk=correspondence.pk).closed_at
    assert not protection.do_close_correspondence(correspondence)
    assert Correspondence.objects.get(pk=correspondence.pk).closed_at == closed_at
