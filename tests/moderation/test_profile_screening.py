"""Profile text is screened like letters: display name, bio and interests, with
the profile scope, when a profile is submitted and when a listed profile's
public text changes; the item carries the risk and flags, and the item page
highlights the hits."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from moderation.models import ModerationItem, ScreeningRule
from profiles.models import InmateProfile
from profiles.services import do_update_profile
from tests.factories import InmateProfileFactory, activate_totp

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:moderation_moderationitem_changelist")


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


@pytest.fixture
def liaison_client(liaison):
    client = Client()
    activate_totp(liaison)
    client.force_login(liaison)
    return client


@pytest.fixture
def mod_client(moderator_with_mfa):
    client = Client()
    client.force_login(moderator_with_mfa)
    return client


def submit_through_portal(liaison_client, facility, **fields) -> ModerationItem:
    """A draft with a confirmed consent form, submitted as the liaison does."""
    profile = InmateProfileFactory(
        facility=facility,
        consent_form="consent/signed.pdf",
        consent_confirmed_at=timezone.now(),
        **fields,
    )
    response = liaison_client.post(reverse("liaison:profile_submit", args=[profile.pk]))
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PENDING_REVIEW
    return ModerationItem.objects.for_object(profile).pending().get()


def item_page(client, item: ModerationItem) -> str:
    response = client.get(reverse("admin:moderation_moderationitem_change", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_flags_and_highlights_money_and_contact_details_in_a_new_profile(
    liaison_client, mod_client, facility, default_screening_rules
):
    item = submit_through_portal(
        liaison_client,
        facility,
        display_name="Jo",
        bio="Hello! Send money to my cashapp $jdoe, it helps a lot.",
        interests=["chess", "555-123-4567"],
    )
    assert item.kind == ModerationItem.Kind.PROFILE
    assert item.flags == ["money", "contact"]
    assert item.risk_score > 0

    html = item_page(mod_client, item)
    assert '<mark class="screening-hit screening-money"' in html
    assert ">cashapp</mark>" in html
    assert ">$jdoe</mark>" in html
    # The interests are screened as shown, joined by commas.
    assert ">555-123-4567</mark>" in html
    assert f"Risk {item.risk_score} · Money request, Contact details" in html

    queue = mod_client.get(QUEUE).content.decode()
    assert '<span class="queue-flag">Money request</span>' in queue
    assert '<span class="queue-flag">Contact details</span>' in queue


def test_it_screens_the_display_name(liaison_client, facility, default_screening_rules):
    item = submit_through_portal(liaison_client, facility, display_name="Cashapp Queen")
    assert item.flags == ["money"]


def test_it_finds_nothing_in_a_clean_profile(
    liaison_client, mod_client, facility, default_screening_rules
):
    item = submit_through_portal(
        liaison_client,
        facility,
        display_name="Marcus",
        bio="I draw, I read history and I write long letters.",
        interests=["drawing", "history"],
    )
    assert (item.risk_score, item.flags) == (0, [])
    html = item_page(mod_client, item)
    assert "screening-hit" not in html
    assert "Risk 0 · no screening hits" in html


def test_it_screens_a_change_to_a_listed_profile_and_highlights_only_the_proposed_text(
    liaison, liaison_client, mod_client, facility, default_screening_rules
):
    profile = InmateProfileFactory.published(facility=facility, bio="I like chess.")
    response = liaison_client.post(
        reverse("liaison:profile_edit", args=[profile.pk]),
        {
            "display_name": profile.display_name,
            "legal_name": profile.legal_name,
            "inmate_number": profile.inmate_number,
            "date_of_birth": profile.date_of_birth.isoformat(),
            "gender": profile.gender,
            "release_kind": profile.release_kind,
            "release_date": "",
            "bio": "Write to me, or call me at 555-123-4567.",
            "interests": ", ".join(profile.interests),
            "seeking": profile.seeking,
            "languages": profile.languages,
            "is_accepting_letters": "on",
        },
    )
    assert response.status_code == 302
    item = ModerationItem.objects.for_object(profile).pending().get()
    assert item.kind == ModerationItem.Kind.PROFILE_CHANGE
    assert (item.flags, item.risk_score > 0) == (["contact"], True)

    html = item_page(mod_client, item)
    assert ">555-123-4567</mark>" in html
    assert html.count("screening-hit") == 1

    # A cleaner second edit refreshes the item's screening.
    do_update_profile(liaison, profile, {"bio": "Write to me."})
    item.refresh_from_db()
    assert (item.flags, item.risk_score) == ([], 0)


def test_it_applies_the_facility_s_own_profile_rules_and_not_letter_only_rules(
    liaison, facility, default_screening_rules
):
    ScreeningRule.objects.create(
        name="Facility contraband word",
        category=ScreeningRule.Category.CONTRABAND,
        pattern="tobacco",
        scope=ScreeningRule.Scope.PROFILE,
        facility=facility,
    )
    ScreeningRule.objects.create(
        name="Letters only",
        category=ScreeningRule.Category.HATE,
        pattern="marmalade",
        scope=ScreeningRule.Scope.LETTERS,
    )
    profile = InmateProfileFactory.published(facility=facility)
    do_update_profile(liaison, profile, {"bio": "Tobacco and marmalade on toast."})
    item = ModerationItem.objects.for_object(profile).pending().get()
    assert item.flags == ["contraband"]
