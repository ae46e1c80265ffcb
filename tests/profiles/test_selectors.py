"""The read-only queries behind the liaison portal (profiles.selectors), against
the real database: what each returns, in which order, and how many queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from profiles import selectors
from profiles.models import InmateProfile, LiaisonAction, ProfilePhoto
from tests.factories import (
    FacilityFactory,
    InmateProfileFactory,
    LiaisonFactory,
    ProfilePhotoFactory,
)

pytestmark = pytest.mark.django_db

Status = InmateProfile.Status
Kind = LiaisonAction.Kind


def act(facility, actor=None, profile=None, kind=Kind.PROFILE_UPDATED) -> LiaisonAction:
    return LiaisonAction.objects.create(actor=actor, facility=facility, profile=profile, kind=kind)


def test_it_counts_profiles_of_the_liaisons_active_facilities_only(liaison, facility):
    InmateProfileFactory(facility=facility)
    InmateProfileFactory(facility=facility, status=Status.PENDING_REVIEW)
    InmateProfileFactory.published(facility=facility)
    InmateProfileFactory.published(facility=FacilityFactory())
    LiaisonFactory(user=liaison, facility=FacilityFactory(is_active=False))

    (row,) = selectors.facilities_with_counts(liaison)

    assert row == facility
    counts = (row.profile_count, row.draft_count, row.pending_count, row.published_count)
    assert counts == (3, 1, 1, 1)


def test_the_dashboard_summary_sorts_drafts_by_consent(facility):
    confirmed = {"consent_form": "consent/signed.pdf", "consent_confirmed_at": timezone.now()}
    needs_consent = InmateProfileFactory(facility=facility)
    ready = InmateProfileFactory(facility=facility, **confirmed)
    InmateProfileFactory(facility=FacilityFactory())

    summary = selectors.dashboard_summary(facility)

    assert summary["needs_consent"] == [needs_consent]
    assert summary["ready_to_submit"] == [ready]
    assert dict(summary["status_counts"])[Status.DRAFT] == 2


def test_the_dashboard_summary_lists_photos_to_replace_and_listings_expiring(facility):
    draft = InmateProfileFactory(facility=facility)
    rejected = ProfilePhotoFactory(
        profile=draft, status=ProfilePhoto.Status.READY, review_status=ProfilePhoto.Review.REJECTED
    )
    ProfilePhotoFactory(profile=draft, status=ProfilePhoto.Status.UPLOADED)
    today = timezone.localdate()
    soon = InmateProfileFactory.published(facility=facility, expires_at=today + timedelta(days=5))
    InmateProfileFactory.published(facility=facility, expires_at=today + timedelta(days=90))

    summary = selectors.dashboard_summary(facility)

    assert summary["photos_to_replace"] == [rejected]
    assert summary["photo_counts"] == {
        "awaiting_processing": 1,
        "awaiting_review": 0,
        "to_replace": 1,
    }
    assert summary["expiring"] == [soon]


def test_the_dashboard_summary_takes_seven_queries_whatever_the_size(
    liaison, facility, django_assert_num_queries
):
    for _ in range(selectors.DASHBOARD_LIST_SIZE + 2):
        profile = InmateProfileFactory(facility=facility)
        ProfilePhotoFactory(profile=profile, status=ProfilePhoto.Status.FAILED)
        act(facility, liaison, profile)

    with django_assert_num_queries(7):
        summary = selectors.dashboard_summary(facility)

    assert len(summary["recent_actions"]) == selectors.DASHBOARD_LIST_SIZE
    assert len(summary["photos_to_replace"]) == selectors.DASHBOARD_LIST_SIZE


def test_it_filters_the_facilitys_profiles_by_status_and_search(facility):
    ada = InmateProfileFactory(facility=facility, display_name="Ada", inmate_number="Z42")
    bea = InmateProfileFactory.published(facility=facility, display_name="Bea")
    ProfilePhotoFactory(profile=bea)
    InmateProfileFactory(facility=FacilityFactory(), display_name="Ada")

    assert list(selectors.facility_profiles(facility)) == [ada, bea]
    assert list(selectors.facility_profiles(facility, status=Status.PUBLISHED)) == [bea]
    assert list(selectors.facility_profiles(facility, search="z42")) == [ada]
    assert [p.photo_count for p in selectors.facility_profiles(facility)] == [0, 1]


def test_the_facilitys_actions_are_its_own_newest_first(liaison, facility):
    first = act(facility, liaison)
    second = act(facility, liaison)
    act(FacilityFactory(), liaison)

    assert list(selectors.facility_actions(facility)) == [second, first]


def test_colleagues_are_the_facilitys_liaisons(liaison, facility):
    colleague = LiaisonFactory(facility=facility).user
    LiaisonFactory()

    assert selectors.colleague_ids_of(facility) == {liaison.pk, colleague.pk}


def test_a_profiles_history_is_its_latest_actions(liaison, facility):
    profile = InmateProfileFactory(facility=facility)
    actions = [act(facility, liaison, profile) for _ in range(3)]
    act(facility, liaison, InmateProfileFactory(facility=facility))

    assert selectors.profile_history(profile, 2) == actions[:0:-1]


def test_a_profile_without_reviews_or_photos_has_none(facility):
    profile = InmateProfileFactory(facility=facility)

    assert selectors.profile_reviews(profile) == []
    assert selectors.profile_photos(profile) == []
