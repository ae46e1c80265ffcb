"""The letter's life in messaging.services: limits, idempotency, statuses, screening."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from messaging.models import Correspondence, Letter, Notification, PrintBatch
from messaging.services import (
    NOT_ACCEPTING_MESSAGE,
    LetterRefused,
    check_create_print_batch,
    check_write_letter,
    do_block,
    do_mark_delivered,
    screen_letter,
)
from moderation.alerts import alert_text
from moderation.models import ModerationDecision, ModerationItem, NoContactOrder
from profiles.models import Facility
from tests.factories import (
    InmateProfileFactory,
    LiaisonFactory,
    UserFactory,
    screen_and_decide,
    write_letter,
)

pytestmark = pytest.mark.django_db


def test_writing_creates_a_submitted_letter_and_a_correspondence_with_a_code(alice, profile):
    letter = write_letter(alice, profile, "  Hello Marcus!  ")
    assert letter.status == Letter.Status.SUBMITTED
    assert letter.body == "Hello Marcus!"
    correspondence = letter.correspondence
    assert (correspondence.pen_pal, correspondence.profile) == (alice, profile)
    assert correspondence.code.startswith("PP-") and len(correspondence.code) == 12
    # A second letter goes into the same correspondence.
    assert write_letter(alice, profile).correspondence == correspondence


def test_the_same_idempotency_key_makes_one_letter(alice, profile):
    key = uuid.uuid4()
    first = check_write_letter(alice, profile, "Hello", key)
    second = check_write_letter(alice, profile, "Hello", key)
    assert first.pk == second.pk
    assert Letter.objects.count() == 1


def test_a_replayed_key_returns_the_letter_even_after_the_daily_limit(alice, profile, settings):
    settings.LETTERS_PER_DAY = 1
    key = uuid.uuid4()
    first = check_write_letter(alice, profile, "Hello", key)
    assert check_write_letter(alice, profile, "Hello", key).pk == first.pk


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write something"),
        ("   \n ", "Write something"),
        ("x" * 101, "at most 100 characters; this one has 101"),
    ],
)
def test_empty_and_too_long_letters_are_refused(alice, profile, settings, body, message):
    settings.LETTER_MAX_LENGTH = 100
    with pytest.raises(LetterRefused, match=message):
        write_letter(alice, profile, body)
    assert not Letter.objects.exists()


def test_nul_characters_are_dropped_not_stored(alice, profile):
    assert write_letter(alice, profile, "Hel\x00lo").body == "Hello"


def test_letters_per_day_limit(alice, profile, settings):
    settings.LETTERS_PER_DAY = 2
    write_letter(alice, profile)
    write_letter(alice, profile)
    with pytest.raises(LetterRefused, match="2 letters a day"):
        write_letter(alice, profile)


def test_letters_older_than_a_day_do_not_count(alice, profile, settings, time_machine):
    settings.LETTERS_PER_DAY = 1
    time_machine.move_to("2026-11-01 10:00Z")
    write_letter(alice, profile)
    time_machine.move_to("2026-11-02 10:01Z")
    write_letter(alice, profile)
    assert Letter.objects.count() == 2


def test_new_correspondences_per_day_limit(alice, settings):
    settings.NEW_CORRESPONDENCES_PER_DAY = 2
    first, second, third = (InmateProfileFactory.published() for _ in range(3))
    write_letter(alice, first)
    write_letter(alice, second)
    with pytest.raises(LetterRefused, match="2 new people a day"):
        write_letter(alice, third)
    # Writing again to someone already written to is not a new correspondence.
    write_letter(alice, first)


def test_an_unverified_pen_pal_cannot_write(profile):
    unverified = UserFactory()
    with pytest.raises(LetterRefused, match="Confirm your email"):
        write_letter(unverified, profile)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "paused"}, "paused"),
        ({"status": "released"}, "no longer listed"),
        ({"status": "draft"}, "no longer listed"),
        ({"is_accepting_letters": False}, "not accepting new letters"),
    ],
)
def test_profiles_that_cannot_receive_letters(alice, profile, change, message):
    for field, value in change.items():
        setattr(profile, field, value)
    profile.save()
    with pytest.raises(LetterRefused, match=message):
        write_letter(alice, profile)


def test_no_letter_while_either_side_has_blocked(alice, profile):
    letter = write_letter(alice, profile)
    do_block(letter.correspondence)
    with pytest.raises(LetterRefused, match="You have blocked"):
        write_letter(alice, profile)
    Correspondence.objects.update(blocked_by_pen_pal_at=None, blocked_by_inmate_at=timezone.now())
    with pytest.raises(LetterRefused, match=NOT_ACCEPTING_MESSAGE):
        write_letter(alice, profile)


def test_a_no_contact_order_on_the_email_blocks_with_a_neutral_message(alice, profile):
    NoContactOrder.objects.create(profile=profile, name="Someone Else", email=alice.email.upper())
    with pytest.raises(LetterRefused) as refused:
        write_letter(alice, profile)
    assert refused.value.messages == [NOT_ACCEPTING_MESSAGE]


def test_a_no_contact_name_match_with_another_email_flags_the_letter(alice, profile):
    NoContactOrder.objects.create(profile=profile, name=f"  {alice.display_name.upper()} ")
    letter = write_letter(alice, profile, "Hello, how have you been?")
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert "other" in letter.screening["categories"]
    assert "no-contact order" in alert_text(letter.screening["alerts"][0])
    item = ModerationItem.objects.for_object(letter).get()
    assert item.risk_score >= 40 and "other" in item.flags


def test_screening_records_hits_and_opens_a_review_item(alice, profile, default_screening_rules):
    body = "Hi! Could you send me your cash app? My number is 555-123-4567."
    letter = write_letter(alice, profile, body)
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert {"money", "contact"} <= set(letter.screening["categories"])
    for hit in letter.screening["hits"]:
        assert body[hit["start"] : hit["end"]] == hit["match"]
    item = ModerationItem.objects.for_object(letter).get()
    assert item.kind == ModerationItem.Kind.LETTER_OUT
    assert item.facility == profile.facility
    assert item.risk_score == letter.screening["risk"] > 0
    # Running the task again (a redelivered message) changes nothing.
    screen_letter(letter.pk)
    assert ModerationItem.objects.for_object(letter).count() == 1


def test_flagged_only_facilities_auto_approve_clean_letters(alice, default_screening_rules):
    profile = InmateProfileFactory.published(
        facility__screening_mode=Facility.ScreeningMode.FLAGGED_ONLY
    )
    clean = write_letter(alice, profile, "I read a lovely book about gardening this week.")
    flagged = write_letter(alice, profile, "Please send money through Western Union.")
    screen_letter(clean.pk)
    screen_letter(flagged.pk)
    clean.refresh_from_db()
    flagged.refresh_from_db()
    assert clean.status == Letter.Status.APPROVED
    decision = ModerationDecision.objects.get(item__object_id=clean.pk)
    assert decision.moderator is None and "automatically" in decision.note
    assert flagged.status == Letter.Status.IN_REVIEW


def test_approval_and_rejection_reach_the_pen_pal(alice, profile, moderator):
    approved = screen_and_decide(write_letter(alice, profile), moderator)
    assert approved.status == Letter.Status.APPROVED and approved.approved_at
    rejected = screen_and_decide(
        write_letter(alice, profile),
        moderator,
        approve=False,
        reason_code="money",
        note="Please don't ask for money.",
    )
    assert rejected.status == Letter.Status.REJECTED
    assert (rejected.rejection_reason, rejected.rejection_note) == (
        "money",
        "Please don't ask for money.",
    )
    kinds = set(Notification.objects.filter(recipient=alice).values_list("kind", flat=True))
    assert kinds == {"letter_approved", "letter_rejected"}


def test_pen_pal_preferences_turn_status_emails_off(alice, profile, moderator):
    alice.has_letter_status_emails = False
    alice.save()
    screen_and_decide(write_letter(alice, profile), moderator)
    assert not Notification.objects.exists()


def test_print_batch_takes_only_approved_letters_once(alice, bob, profile, moderator):
    liaison = LiaisonFactory(facility=profile.facility).user
    approved = screen_and_decide(write_letter(alice, profile), moderator)
    in_review = write_letter(bob, profile)
    screen_letter(in_review.pk)
    key = uuid.uuid4()
    batch = check_create_print_batch(liaison, profile.facility, None, key)
    # The same form posted again returns the same batch.
    assert check_create_print_batch(liaison, profile.facility, None, key) == batch
    assert list(batch.letters.all()) == [approved]
    approved.refresh_from_db()
    assert approved.status == Letter.Status.PRINTED and approved.printed_at
    with pytest.raises(ValidationError, match="None of the selected letters"):
        check_create_print_batch(liaison, profile.facility, None, uuid.uuid4())
    assert PrintBatch.objects.count() == 1


def test_print_queue_holds_back_blocked_and_other_facilities_letters(
    alice, bob, profile, moderator
):
    liaison = LiaisonFactory(facility=profile.facility).user
    blocked = screen_and_decide(write_letter(alice, profile), moderator)
    do_block(blocked.correspondence)
    elsewhere = screen_and_decide(write_letter(bob, InmateProfileFactory.published()), moderator)
    assert not Letter.objects.print_queue(profile.facility).exists()
    assert list(Letter.objects.print_queue(elsewhere.correspondence.profile.facility)) == [
        elsewhere
    ]
    with pytest.raises(ValidationError):
        check_create_print_batch(
            liaison, profile.facility, [blocked.pk, elsewhere.pk], uuid.uuid4()
        )


def test_marking_delivered_notifies_once(alice, profile, moderator):
    liaison = LiaisonFactory(facility=profile.facility).user
    letter = screen_and_decide(write_letter(alice, profile), moderator)
    batch = check_create_print_batch(liaison, profile.facility, None, uuid.uuid4())
    assert do_mark_delivered(liaison, batch) == 1
    assert do_mark_delivered(liaison, batch) == 0
    letter.refresh_from_db()
    batch.refresh_from_db()
    assert letter.status == Letter.Status.DELIVERED and batch.delivered_at
    assert Notification.objects.filter(kind="letter_delivered").count() == 1


def test_release_closes_correspondences_and_withdraws_letters_in_review(alice, profile):
    from profiles.services import check_change_lifecycle

    liaison = LiaisonFactory(facility=profile.facility).user
    letter = write_letter(alice, profile)
    screen_letter(letter.pk)
    check_change_lifecycle(liaison, profile, "released")
    correspondence = Correspondence.objects.get()
    assert correspondence.is_closed and correspondence.close_reason == "released"
    assert not ModerationItem.objects.pending().exists()
    profile.status = "published"
    profile.save()
    with pytest.raises(LetterRefused, match="closed: the person has been released"):
        write_letter(alice, profile)


def test_deleting_the_account_stops_delivery_but_keeps_the_letters(alice, profile, moderator):
    from penpals.services import do_delete_account

    letter = screen_and_decide(write_letter(alice, profile), moderator)
    assert Notification.objects.filter(recipient=alice, state="pending").exists()
    do_delete_account(alice)
    letter.refresh_from_db()
    assert letter.body and letter.status == Letter.Status.APPROVED
    assert not Letter.objects.print_queue(profile.facility).exists()
    assert set(Notification.objects.values_list("state", flat=True)) == {"cancelled"}


def test_the_export_lists_correspondences_and_letters(alice, profile):
    from penpals.services import export_user_data

    letter = write_letter(alice, profile, "A letter to export.")
    exported = export_user_data(alice)["messaging"]["correspondences"]
    assert exported[0]["code"] == letter.correspondence.code
    assert exported[0]["letters"][0]["text"] == "A letter to export."
