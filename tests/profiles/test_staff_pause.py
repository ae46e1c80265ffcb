"""A profile staff paused (for a protection request or a report) stays paused
until staff resume it: its liaison cannot resume it, renew it back into the
directory or take the pause over, by the form or by a hand-made POST; the
liaison sees why, and not who asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from moderation.models import ProtectionRequest
from moderation.protection import (
    do_create_protection_request,
    do_pause_requested_profile,
    pause_profile,
)
from moderation.reports import check_report
from profiles.models import InmateProfile, LiaisonAction
from profiles.protection import resume_profile
from profiles.services import STAFF_PAUSE_MESSAGE, check_change_lifecycle
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db

Status = InmateProfile.Status


@pytest.fixture
def profile(facility):
    return InmateProfileFactory.published(
        facility=facility,
        display_name="Marcus",
        expires_at=timezone.localdate() + timedelta(days=3),
    )


@pytest.fixture
def requested_pause(profile, moderator):
    """The profile paused by staff from a protection request."""
    protection_request = do_create_protection_request(
        {
            "profile": profile,
            "relationship": ProtectionRequest.Relationship.SELF,
            "ask": ProtectionRequest.Ask.REVIEW,
            "requester_name": "Dana Requester",
            "requester_email": "dana.requester@example.org",
        }
    )
    do_pause_requested_profile(protection_request, moderator)
    profile.refresh_from_db()
    return profile


def lifecycle_url(profile) -> str:
    return reverse("liaison:lifecycle", args=[profile.pk])


def is_public(client, profile) -> bool:
    return client.get(reverse("directory:profile", args=[profile.slug])).status_code == 200


def test_a_liaison_cannot_resume_a_profile_staff_paused_for_a_request(
    liaison_client, client, requested_pause
):
    profile = requested_pause
    assert (profile.status, profile.is_paused_by_staff) == (Status.PAUSED, True)
    response = liaison_client.post(lifecycle_url(profile), {"action": "resumed"})
    assert response.status_code == 200  # the form refuses it
    profile.refresh_from_db()
    assert profile.status == Status.PAUSED
    assert not LiaisonAction.objects.filter(profile=profile, kind="resumed").exists()
    client.logout()
    assert not is_public(client, profile)


def test_the_service_refuses_a_liaisons_resume_whatever_the_form_offers(liaison, requested_pause):
    with pytest.raises(ValidationError) as refused:
        check_change_lifecycle(liaison, requested_pause, "resumed")
    assert refused.value.messages == [STAFF_PAUSE_MESSAGE]


def test_a_liaison_cannot_resume_a_profile_staff_paused_for_a_report(
    liaison_client, profile, alice, moderator
):
    report = check_report(alice, profile, "threat", "Threatening letters")
    pause_profile(report.target, moderator)
    liaison_client.post(lifecycle_url(profile), {"action": "resumed"})
    profile.refresh_from_db()
    assert (profile.status, profile.is_paused_by_staff) == (Status.PAUSED, True)


def test_renewing_a_staff_paused_profile_extends_it_but_keeps_it_paused(
    liaison_client, requested_pause
):
    profile = requested_pause
    response = liaison_client.post(lifecycle_url(profile), {"action": "renewed"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == Status.PAUSED
    assert profile.expires_at > timezone.localdate() + timedelta(days=360)


def test_releasing_or_transferring_a_staff_paused_profile_never_lists_it(
    liaison_client, requested_pause
):
    profile = requested_pause
    liaison_client.post(lifecycle_url(profile), {"action": "released"})
    profile.refresh_from_db()
    assert profile.status == Status.RELEASED
    assert not InmateProfile.objects.published().filter(pk=profile.pk).exists()


def test_staff_take_over_a_pause_the_liaison_made(liaison_client, profile, moderator):
    liaison_client.post(lifecycle_url(profile), {"action": "paused"})
    pause_profile(profile, moderator)
    liaison_client.post(lifecycle_url(profile), {"action": "resumed"})
    profile.refresh_from_db()
    assert (profile.status, profile.is_paused_by_staff) == (Status.PAUSED, True)


def test_the_liaison_sees_why_and_not_who_asked(liaison_client, requested_pause):
    profile = requested_pause
    for url in (reverse("liaison:profile_detail", args=[profile.pk]), lifecycle_url(profile)):
        page = liaison_client.get(url).content.decode()
        assert STAFF_PAUSE_MESSAGE in page
        assert "Dana" not in page and "dana.requester" not in page
    page = liaison_client.get(lifecycle_url(profile)).content.decode()
    assert 'value="resumed"' not in page


def test_staff_resume_it_from_the_admin(client, moderator_with_mfa, requested_pause):
    profile = requested_pause
    client.force_login(moderator_with_mfa)
    response = client.post(
        reverse("admin:profiles_inmateprofile_changelist"),
        {"action": "resume_paused_profiles", "_selected_action": [profile.pk]},
        follow=True,
    )
    assert response.status_code == 200
    profile.refresh_from_db()
    assert (profile.status, profile.is_paused_by_staff) == (Status.PUBLISHED, False)


def test_a_liaisons_own_pause_is_still_theirs_to_lift(liaison_client, profile, moderator):
    liaison_client.post(lifecycle_url(profile), {"action": "paused"})
    liaison_client.post(lifecycle_url(profile), {"action": "resumed"})
    profile.refresh_from_db()
    assert (profile.status, profile.is_paused_by_staff) == (Status.PUBLISHED, False)
    # After staff paused and resumed it, the next pause is the liaison's own again.
    profile = pause_profile(profile, moderator)
    profile = resume_profile(profile, moderator)
    liaison_client.post(lifecycle_url(profile), {"action": "paused"})
    liaison_client.post(lifecycle_url(profile), {"action": "resumed"})
    profile.refresh_from_db()
    assert profile.status == Status.PUBLISHED
