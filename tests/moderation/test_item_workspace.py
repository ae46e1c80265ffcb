"""The item page as a workspace: words instead of raw fields, truthful
messages, the next item after a decision, the consent form, dashboard links."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from messaging.services import screen_letter
from moderation.models import ModerationItem
from moderation.services import current_version, next_item
from profiles.services import do_submit_profile
from tests.factories import InmateProfileFactory, UserFactory, activate_totp, write_letter
from tests.moderation.test_admin_workspace import make_item
from tests.profiles.test_liaison_portal import with_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def mod_client(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    return client


@pytest.fixture
def admin_client_mfa(db):
    admin = UserFactory(email="root@example.org", is_staff=True, is_superuser=True)
    activate_totp(admin)
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def new_profile_item(liaison):
    facility = liaison.facility_memberships.get().facility
    profile = with_consent(
        InmateProfileFactory(
            facility=facility,
            display_name="Marcus",
            inmate_number="Z9990001",
            legal_name="Q Hidden",
        ),
        liaison,
    )
    do_submit_profile(liaison, profile)
    return ModerationItem.objects.for_object(profile).get()


def page_of(client, item) -> str:
    response = client.get(reverse("admin:moderation_moderationitem_change", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


def decide(client, item, **data):
    url = reverse("admin:moderation_moderationitem_decide", args=[item.pk])
    return client.post(url, data, follow=True)


def test_it_shows_the_item_in_words_without_raw_fields_or_save_buttons(
    mod_client, new_profile_item
):
    html = page_of(mod_client, new_profile_item)
    assert "<h1>New profile of Marcus</h1>" in html
    for raw in ("Content type", "Object id", "Save and continue editing", 'name="_save"'):
        assert raw not in html
    assert "Claimed by you until" in html
    assert "Approve and go to next item" in html
    assert 'name="seen_version"' in html


def test_it_shows_flags_and_history_in_words(mod_client, moderator_with_mfa):
    item = make_item(kind="letter_out", flags=["money", "contact"])
    item.decisions.create(moderator=moderator_with_mfa, status="escalated", note="Looks odd")
    html = page_of(mod_client, item)
    assert "Money request, Contact details" in html
    assert '["money"' not in html and "&quot;money&quot;" not in html
    assert "escalated" in html and "Looks odd" in html


def test_it_refuses_a_post_to_the_item_page(mod_client, new_profile_item):
    url = reverse("admin:moderation_moderationitem_change", args=[new_profile_item.pk])
    assert mod_client.post(url, {"summary": "x"}).status_code == 405


def test_a_decision_says_what_was_decided_and_opens_the_next_item(
    mod_client, new_profile_item, alice, default_screening_rules
):
    letter = write_letter(alice, InmateProfileFactory.published(display_name="Theo"), "Hello!")
    screen_letter(letter.pk)
    letter_item = ModerationItem.objects.for_object(letter).get()
    page_of(mod_client, new_profile_item)
    response = decide(
        mod_client,
        new_profile_item,
        decision="approve",
        seen_version=current_version(new_profile_item),
    )
    html = response.content.decode()
    assert "New profile of Marcus approved." in html
    assert "(Pending)" not in html
    assert response.redirect_chain[-1][0] == (
        reverse("admin:moderation_moderationitem_change", args=[letter_item.pk])
        + f"?from={new_profile_item.pk}"
    )
    # Previous item: back to what was just decided.
    assert reverse("admin:moderation_moderationitem_change", args=[new_profile_item.pk]) in html
    response = decide(mod_client, letter_item, decision="reject", reason_code="money")
    assert "Letter to Theo rejected: Money request." in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("admin:moderation_moderationitem_changelist")


def test_messages_never_name_private_facts(mod_client, new_profile_item):
    response = decide(mod_client, new_profile_item, decision="escalate", note="Check the number")
    html = response.content.decode()
    assert "New profile of Marcus escalated to an admin." in html
    assert "Z9990001" not in html and "Q Hidden" not in html


def test_only_an_admin_gets_the_consent_form_link(mod_client, new_profile_item, admin_client_mfa):
    download = reverse("liaison:consent_download", args=[new_profile_item.object_id])
    html = page_of(mod_client, new_profile_item)
    assert "Signed consent form on file, confirmed by" in html
    assert download not in html
    assert "Z9990001" not in html and "Q Hidden" not in html
    html = page_of(admin_client_mfa, new_profile_item)
    assert f'href="{download}"' in html


def test_a_new_profile_without_consent_says_so(mod_client, liaison):
    facility = liaison.facility_memberships.get().facility
    profile = InmateProfileFactory(facility=facility, display_name="Nadia")
    item = make_item(kind="profile")
    item.object_id = profile.pk
    item.save(update_fields=["object_id"])
    assert "No consent form on file" in page_of(mod_client, item)


def test_the_dashboard_counts_link_to_the_filtered_queue(mod_client):
    make_item(kind="letter_out")
    make_item(kind="report")
    html = mod_client.get(reverse("admin:index")).content.decode()
    queue = reverse("admin:moderation_moderationitem_changelist")
    links = set(re.findall(r'href="(' + re.escape(queue) + r'[^"]*)"', html))
    assert f"{queue}?status=pending" in links
    assert f"{queue}?status=pending&amp;kind__exact=letter_out" in links
    assert f"{queue}?status=pending&amp;kind__exact=report" in links
    oldest = next(link for link in links if "o=" in link)
    response = mod_client.get(oldest.replace("&amp;", "&"))
    assert response.status_code == 200
    results = list(response.context["cl"].result_list)
    assert [item.created_at for item in results] == sorted(item.created_at for item in results)
    filtered = mod_client.get(f"{queue}?status=pending&kind__exact=report")
    assert {item.kind for item in filtered.context["cl"].result_list} == {"report"}


def test_next_from_an_earlier_item_returns_the_item_left_open(moderator_with_mfa):
    first, second = make_item(risk=50), make_item(risk=10)
    decided = make_item(risk=90, status="approved")
    assert next_item(moderator_with_mfa).pk == first.pk
    # The moderator went back to the decided item ("Previous") and pressed Next there.
    assert next_item(moderator_with_mfa, leaving_id=decided.pk).pk == first.pk
    assert next_item(moderator_with_mfa, leaving_id=first.pk).pk == second.pk
