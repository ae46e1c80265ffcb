"""The read-only queries behind the letter pages (messaging.selectors), against
the real database: what each returns, in which order, and how many queries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import selectors
from messaging.models import Letter, LetterScan, PrintBatch
from tests.factories import (
    CorrespondenceFactory,
    FacilityFactory,
    InmateProfileFactory,
    LetterFactory,
    PenPalFactory,
)

pytestmark = pytest.mark.django_db

Direction = Letter.Direction
Status = Letter.Status


def correspondence_at(facility, pen_pal=None, **fields):
    profile = InmateProfileFactory.published(facility=facility)
    return CorrespondenceFactory(pen_pal=pen_pal or PenPalFactory(), profile=profile, **fields)


def reply(correspondence, status=Status.APPROVED, **fields):
    return LetterFactory(
        correspondence=correspondence,
        direction=Direction.INBOUND,
        status=status,
        created_by=None,
        **fields,
    )


# --- The pen pal's side ---------------------------------------------------------------


def test_it_finds_the_correspondence_between_a_pen_pal_and_a_profile(alice, bob):
    correspondence = CorrespondenceFactory(pen_pal=alice)

    assert selectors.correspondence_between(alice, correspondence.profile) == correspondence
    assert selectors.correspondence_between(bob, correspondence.profile) is None


def test_it_lists_only_the_pen_pals_correspondences_newest_first(alice, bob):
    now = timezone.now()
    older = CorrespondenceFactory(pen_pal=alice, last_letter_at=now - timedelta(days=2))
    newer = CorrespondenceFactory(pen_pal=alice, last_letter_at=now - timedelta(days=1))
    CorrespondenceFactory(pen_pal=bob)

    assert list(selectors.inbox_correspondences(alice)) == [newer, older]


def test_it_counts_only_approved_replies_as_unread(alice):
    correspondence = CorrespondenceFactory(pen_pal=alice)
    reply(correspondence, Status.APPROVED)
    reply(correspondence, Status.APPROVED)
    reply(correspondence, Status.READ)
    reply(correspondence, Status.SUBMITTED)
    LetterFactory(correspondence=correspondence, status=Status.APPROVED)

    (row,) = selectors.inbox_correspondences(alice)

    assert row.unread_count == 2
    assert row.profile_name == correspondence.profile.display_name


def test_the_latest_letter_is_never_a_reply_the_pen_pal_may_not_see_yet(alice):
    correspondence = CorrespondenceFactory(pen_pal=alice)
    now = timezone.now()
    mine = LetterFactory(correspondence=correspondence, created_at=now - timedelta(hours=2))
    reply(correspondence, Status.SUBMITTED, created_at=now - timedelta(hours=1))

    (row,) = selectors.inbox_correspondences(alice)

    assert row.latest_letter_id == mine.pk


def test_it_attaches_an_excerpt_of_the_pen_pals_own_letter_only(alice, django_assert_num_queries):
    mine = CorrespondenceFactory(pen_pal=alice)
    LetterFactory(correspondence=mine, body="word " * 100)
    theirs = CorrespondenceFactory(pen_pal=alice)
    reply(theirs, Status.APPROVED, body="A reply whose text the inbox never shows.")
    rows = list(selectors.inbox_correspondences(alice))

    with django_assert_num_queries(1):
        selectors.attach_latest_letters(rows)

    excerpts = {row.pk: row.latest_letter.excerpt for row in rows}
    assert excerpts[mine.pk].endswith("…")
    assert len(excerpts[mine.pk]) <= selectors.EXCERPT_LENGTH + 1
    assert excerpts[theirs.pk] == ""
    assert all(row.is_profile_listed for row in rows)


def test_thread_letters_are_what_the_pen_pal_may_see_oldest_first(alice):
    correspondence = CorrespondenceFactory(pen_pal=alice)
    now = timezone.now()
    first = LetterFactory(correspondence=correspondence, created_at=now - timedelta(hours=3))
    second = reply(correspondence, Status.APPROVED, created_at=now - timedelta(hours=2))
    reply(correspondence, Status.IN_REVIEW, created_at=now - timedelta(hours=1))
    LetterFactory(created_at=now)  # someone else's thread

    assert list(selectors.thread_letters(correspondence)) == [first, second]


# --- The liaison's side ---------------------------------------------------------------


def test_the_print_queue_holds_approved_letters_of_the_facility_longest_waiting_first():
    facility = FacilityFactory()
    now = timezone.now()
    newer = LetterFactory(
        correspondence=correspondence_at(facility), status=Status.APPROVED, approved_at=now
    )
    older = LetterFactory(
        correspondence=correspondence_at(facility),
        status=Status.APPROVED,
        approved_at=now - timedelta(days=1),
    )
    LetterFactory(correspondence=correspondence_at(facility), status=Status.SUBMITTED)
    LetterFactory(
        correspondence=correspondence_at(facility, blocked_by_inmate_at=now),
        status=Status.APPROVED,
        approved_at=now,
    )
    LetterFactory(
        correspondence=correspondence_at(FacilityFactory()),
        status=Status.APPROVED,
        approved_at=now,
    )

    assert list(selectors.letters_waiting_to_print(facility)) == [older, newer]


def test_print_batches_are_only_the_facilitys_with_their_counts(liaison):
    facility = FacilityFactory()
    batch = PrintBatch.objects.create(
        facility=facility, created_by=liaison, idempotency_key=uuid.uuid4()
    )
    correspondence = correspondence_at(facility)
    LetterFactory(correspondence=correspondence, status=Status.DELIVERED, print_batch=batch)
    LetterFactory(correspondence=correspondence, status=Status.PRINTED, print_batch=batch)
    other = PrintBatch.objects.create(
        facility=FacilityFactory(), created_by=liaison, idempotency_key=uuid.uuid4()
    )

    (row,) = selectors.print_batches_with_counts(facility)

    assert (row, row.letter_count, row.delivered_count) == (batch, 2, 1)
    assert list(selectors.print_batches(facility)) == [batch]
    assert not selectors.print_batches(facility).filter(pk=other.pk).exists()


def test_replies_are_the_facilitys_inbound_letters_with_their_page_count():
    facility = FacilityFactory()
    uploaded = reply(correspondence_at(facility), Status.IN_REVIEW)
    for page in (1, 2):
        LetterScan.objects.create(
            letter=uploaded, page=page, file=f"scans/{page}.png", content_type="image/png", size=1
        )
    LetterFactory(correspondence=correspondence_at(facility))
    reply(correspondence_at(FacilityFactory()))

    (row,) = selectors.replies_for_facility(facility)

    assert (row, row.page_count) == (uploaded, 2)


def test_replies_may_be_uploaded_only_for_open_unblocked_correspondences():
    facility = FacilityFactory()
    now = timezone.now()
    open_one = correspondence_at(facility)
    closed = correspondence_at(facility, closed_at=now)
    blocked = correspondence_at(facility, blocked_by_pen_pal_at=now)
    correspondence_at(FacilityFactory())

    assert set(selectors.facility_correspondences(facility)) == {open_one, closed, blocked}
    assert list(selectors.correspondences_accepting_replies(facility)) == [open_one]
