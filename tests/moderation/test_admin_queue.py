"""The first moderation queue in the admin: moderators (with MFA) approve items."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moderation.models import ModerationItem
from moderation.services import current_version, submit_for_review
from profiles.models import InmateProfile
from tests.factories import InmateProfileFactory, activate_totp

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending_item():
    profile = InmateProfileFactory(
        status=InmateProfile.Status.PENDING_REVIEW, legal_name="Jonathan Q Private"
    )
    return submit_for_review(
        profile, ModerationItem.Kind.PROFILE, facility=profile.facility, summary="New profile"
    )


def test_it_lets_a_moderator_approve_from_the_queue(client, moderator_with_mfa, pending_item):
    client.force_login(moderator_with_mfa)
    changelist = reverse("admin:moderation_moderationitem_changelist")
    assert client.get(changelist).status_code == 200
    response = client.post(
        changelist,
        # The list asks for confirmation first; this is the confirmed post.
        {
            "action": "approve_selected",
            "_selected_action": [pending_item.pk],
            f"seen_version_{pending_item.pk}": current_version(pending_item),
            "confirm": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Approved 1 item(s)." in response.content.decode()
    pending_item.refresh_from_db()
    assert pending_item.status == ModerationItem.Status.APPROVED
    assert (
        InmateProfile.objects.get(pk=pending_item.object_id).status
        == InmateProfile.Status.PUBLISHED
    )


def test_it_hides_private_profile_fields_from_moderators(client, moderator_with_mfa, pending_item):
    client.force_login(moderator_with_mfa)
    url = reverse("admin:profiles_inmateprofile_change", args=[pending_item.object_id])
    response = client.get(url)
    assert response.status_code == 200
    assert "Jonathan Q Private" not in response.content.decode()


def test_it_keeps_pen_pals_and_anonymous_visitors_out(client, alice, pending_item):
    changelist = reverse("admin:moderation_moderationitem_changelist")
    assert client.get(changelist).status_code == 302
    activate_totp(alice)
    client.force_login(alice)
    assert client.get(changelist, follow=True).status_code == 403
