"""Deciding a moderation item: once, by one moderator, with its effect applied."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from moderation.models import ModerationDecision, ModerationItem
from moderation.services import (
    AlreadyDecided,
    StaleVersion,
    current_version,
    do_decide,
    submit_for_review,
)
from profiles.models import InmateProfile
from profiles.services import do_update_profile
from tests.factories import InmateProfileFactory, ModeratorFactory

pytestmark = pytest.mark.django_db


def pending_profile() -> tuple[InmateProfile, ModerationItem]:
    profile = InmateProfileFactory(status=InmateProfile.Status.PENDING_REVIEW)
    item = submit_for_review(profile, ModerationItem.Kind.PROFILE, facility=profile.facility)
    return profile, item


def test_it_publishes_an_approved_profile(moderator):
    profile, item = pending_profile()
    do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PUBLISHED
    assert profile.published_at is not None
    assert profile.expires_at is not None
    item.refresh_from_db()
    assert (item.status, item.decided_by) == (ModerationItem.Status.APPROVED, moderator)
    assert (
        ModerationDecision.objects.filter(item=item, moderator=moderator, status="approved").count()
        == 1
    )


def test_it_requires_a_reason_to_reject(moderator):
    profile, item = pending_profile()
    with pytest.raises(ValidationError):
        do_decide(item.pk, moderator, approve=False, seen_version=current_version(item))
    do_decide(
        item.pk,
        moderator,
        approve=False,
        seen_version=current_version(item),
        reason_code="contact",
        note="Please remove the phone number.",
    )
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.DRAFT
    item.refresh_from_db()
    assert item.note == "Please remove the phone number."


def test_it_refuses_a_second_decision(moderator):
    _, item = pending_profile()
    do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
    with pytest.raises(AlreadyDecided):
        do_decide(
            item.pk,
            ModeratorFactory(),
            approve=False,
            seen_version=current_version(item),
            reason_code="other",
        )
    assert ModerationDecision.objects.filter(item=item).count() == 1


def test_it_keeps_one_pending_item_per_object():
    profile, item = pending_profile()
    again = submit_for_review(
        profile, ModerationItem.Kind.PROFILE, facility=profile.facility, summary="edited"
    )
    assert again.pk == item.pk
    assert ModerationItem.objects.pending().count() == 1


def test_it_shows_the_old_text_until_a_change_is_approved(moderator, liaison):
    profile = InmateProfileFactory.published(bio="Original bio.")
    do_update_profile(
        liaison, profile, {"bio": "New bio with news.", "is_accepting_letters": False}
    )
    profile.refresh_from_db()
    assert profile.bio == "Original bio."  # the public still sees the approved text
    assert profile.pending_changes == {"bio": "New bio with news."}
    assert profile.is_accepting_letters is False  # not reviewed text: applies at once
    item = ModerationItem.objects.pending().get(kind=ModerationItem.Kind.PROFILE_CHANGE)

    do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
    profile.refresh_from_db()
    assert profile.bio == "New bio with news."
    assert profile.pending_changes == {}
    assert InmateProfile.objects.filter(search_vector="news").exists()


def test_it_keeps_the_old_text_when_a_change_is_rejected(moderator, liaison):
    profile = InmateProfileFactory.published(bio="Original bio.")
    do_update_profile(liaison, profile, {"bio": "Send money to my Cash App."})
    item = ModerationItem.objects.pending().get()
    do_decide(
        item.pk,
        moderator,
        approve=False,
        seen_version=current_version(item),
        reason_code="money",
    )
    profile.refresh_from_db()
    assert profile.bio == "Original bio."
    assert profile.pending_changes == {}


@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_of_two_simultaneous_decisions_win():
    _, item = pending_profile()
    version = current_version(item)
    moderators = [ModeratorFactory(), ModeratorFactory()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(moderator, approve: bool) -> None:
        try:
            barrier.wait()
            do_decide(
                item.pk,
                moderator,
                approve=approve,
                seen_version=version,
                reason_code="" if approve else "other",
            )
            outcomes.append("decided")
        except AlreadyDecided:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(moderators[0], True)),
        threading.Thread(target=decide, args=(moderators[1], False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["decided", "refused"]
    assert ModerationDecision.objects.filter(item=item).count() == 1
    item.refresh_from_db()
    decision = ModerationDecision.objects.get(item=item)
    assert item.status == decision.status


def test_it_requires_a_moderator_to_say_which_version_they_saw(moderator):
    """A future caller cannot forget the version: a human decision on a
    versioned kind without one is a programming error, and decides nothing."""
    profile, item = pending_profile()
    with pytest.raises(TypeError, match="seen_version"):
        do_decide(item.pk, moderator, approve=True)
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.PENDING
    assert not ModerationDecision.objects.filter(item=item).exists()


def test_it_refuses_a_decision_on_a_version_the_moderator_did_not_see(moderator, liaison):
    profile, item = pending_profile()
    seen = current_version(item)
    do_update_profile(liaison, profile, {"bio": "Written after the moderator opened it."})
    with pytest.raises(StaleVersion, match="changed while you were reading it"):
        do_decide(item.pk, moderator, approve=True, seen_version=seen)
    for forged in ("", "0" * 64):
        with pytest.raises(StaleVersion):
            do_decide(item.pk, moderator, approve=True, seen_version=forged)
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PENDING_REVIEW
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.PENDING
    assert not ModerationDecision.objects.filter(item=item).exists()
