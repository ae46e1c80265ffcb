"""A moderator reads a letter with its hits highlighted and decides it in the admin."""

import pytest
from django.urls import reverse

from messaging.models import Letter
from messaging.services import screen_letter
from moderation.models import ModerationItem
from tests.factories import InmateProfileFactory, write_letter

pytestmark = pytest.mark.django_db


@pytest.fixture
def letter_item(alice, default_screening_rules):
    letter = write_letter(
        alice, InmateProfileFactory.published(), "Hi <b>friend</b>, do you use cash app?"
    )
    screen_letter(letter.pk)
    return ModerationItem.objects.for_object(letter).get()


def decide_url(item):
    return reverse("admin:moderation_moderationitem_decide", args=[item.pk])


def test_the_item_page_highlights_hits_and_escapes_the_text(
    client, moderator_with_mfa, letter_item
):
    client.force_login(moderator_with_mfa)
    page = client.get(reverse("admin:moderation_moderationitem_change", args=[letter_item.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert '<mark class="screening-hit screening-money"' in html
    assert ">cash app</mark>" in html
    assert "&lt;b&gt;friend&lt;/b&gt;" in html and "<b>friend</b>" not in html
    assert 'name="reason_code"' in html


def test_a_rejection_needs_a_reason_and_reaches_the_writer(client, moderator_with_mfa, letter_item):
    client.force_login(moderator_with_mfa)
    response = client.post(decide_url(letter_item), {"decision": "reject"}, follow=True)
    assert "Choose the reason" in response.content.decode()
    letter_item.refresh_from_db()
    assert letter_item.status == "pending"

    client.post(
        decide_url(letter_item),
        {"decision": "reject", "reason_code": "money", "note": "No money requests, please."},
    )
    letter = Letter.objects.get(pk=letter_item.object_id)
    assert (letter.status, letter.rejection_reason, letter.rejection_note) == (
        "rejected",
        "money",
        "No money requests, please.",
    )


def test_a_second_decision_is_refused_with_a_message(client, moderator_with_mfa, letter_item):
    client.force_login(moderator_with_mfa)
    client.post(decide_url(letter_item), {"decision": "approve"})
    response = client.post(
        decide_url(letter_item), {"decision": "reject", "reason_code": "money"}, follow=True
    )
    assert "already approved" in response.content.decode()
    assert Letter.objects.get(pk=letter_item.object_id).status == "approved"
    assert letter_item.decisions.count() == 1


def test_deciding_needs_a_post_and_the_staff_permission(client, alice, letter_item):
    client.force_login(alice)
    response = client.post(decide_url(letter_item), {"decision": "approve"})
    assert response.status_code in (302, 403)
    assert Letter.objects.get(pk=letter_item.object_id).status == "in_review"
