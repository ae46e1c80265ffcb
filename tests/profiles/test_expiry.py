"""Listings expire unless renewed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from profiles.models import InmateProfile, LiaisonAction
from profiles.services import check_change_lifecycle, expire_profiles
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db


def test_it_pauses_profiles_whose_listing_ended_and_only_those():
    today = timezone.localdate()
    expired = InmateProfileFactory.published(expires_at=today - timedelta(days=1))
    current = InmateProfileFactory.published(expires_at=today + timedelta(days=30))
    assert expire_profiles() == 1
    assert expire_profiles() == 0  # running twice changes nothing more
    expired.refresh_from_db()
    current.refresh_from_db()
    assert expired.status == InmateProfile.Status.PAUSED
    assert current.status == InmateProfile.Status.PUBLISHED
    action = LiaisonAction.objects.get(profile=expired)
    assert action.kind == LiaisonAction.Kind.PAUSED
    assert action.actor is None
    assert action.detail == {"reason": "listing expired"}


def test_it_lets_a_liaison_renew_an_expired_listing(liaison):
    profile = InmateProfileFactory.published(expires_at=timezone.localdate() - timedelta(days=1))
    expire_profiles()
    profile.refresh_from_db()
    check_change_lifecycle(liaison, profile, LiaisonAction.Kind.RENEWED)
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PUBLISHED
    assert profile.expires_at > timezone.localdate() + timedelta(days=360)


def test_it_schedules_the_expiry_job_daily():
    from django.conf import settings

    from profiles.tasks import expire_profiles as task

    entry = settings.CELERY_BEAT_SCHEDULE["expire-profiles"]
    assert entry["task"] == task.name
    assert entry["schedule"] == 24 * 60 * 60
