"""The public victim-protection page: reachable from every profile and the
footer, no account needed, rate limited, stores the request, opens a
top-priority queue item and sends a neutral confirmation."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from moderation.models import ModerationItem, ProtectionRequest
from moderation.protection import PROTECTION_RISK, RATE_LIMIT_REQUESTS, RATE_LIMITED_MESSAGE
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db

URL = reverse("protection:request")


@pytest.fixture
def profile():
    return InmateProfileFactory.published(
        display_name="Marcus", legal_name="Marcus Aurelius Private", inmate_number="Z-9911"
    )


def request_post(**overrides) -> dict:
    return {
        "relationship": "self",
        "ask": "no_contact",
        "requester_name": "Dana Victim",
        "requester_email": "Dana@Example.org",
        "details": "",
        **overrides,
    }


def test_every_profile_page_links_to_it_with_the_profile(client, profile):
    response = client.get(reverse("directory:profile", args=[profile.slug]))
    assert f'href="{URL}?profile={profile.slug}"' in response.content.decode()


def test_the_footer_links_to_it(client, db):
    assert f'href="{URL}"' in client.get(reverse("home")).content.decode()


def test_it_names_the_profile_it_comes_from_and_nothing_private(
    client, profile, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        response = client.get(URL, {"profile": profile.slug})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Marcus" in body and profile.facility.name in body
    assert "Marcus Aurelius Private" not in body and "Z-9911" not in body
    assert 'name="profile_description"' not in body
    assert "no-store" in response["Cache-Control"]


def test_it_asks_who_it_is_about_for_an_unknown_or_unlisted_profile(client, db):
    draft = InmateProfileFactory(display_name="Hidden Draft")
    response = client.get(URL, {"profile": draft.slug})
    assert "Hidden Draft" not in response.content.decode()
    response = client.post(URL + "?profile=no-such-slug", request_post())
    assert response.status_code == 200
    assert "Tell us the person&#x27;s name" in response.content.decode()
    assert not ProtectionRequest.objects.exists()


def test_it_records_the_request_queues_it_first_and_confirms_neutrally(
    client, profile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}?profile={profile.slug}", request_post())
    assert response.status_code == 302
    assert response["Location"] == reverse("protection:sent")

    protection_request = ProtectionRequest.objects.get()
    assert protection_request.profile == profile
    assert protection_request.requester_email == "dana@example.org"
    assert protection_request.status == ProtectionRequest.Status.OPEN
    item = ModerationItem.objects.for_object(protection_request).get()
    assert item.status == ModerationItem.Status.PENDING
    assert item.risk_score == PROTECTION_RISK
    assert item.facility == profile.facility
    assert item.summary.startswith("Protection request (no contact): Marcus")
    # It heads the queue, above any letter or report.
    assert ModerationItem.objects.pending().first() == item

    [confirmation] = mail.outbox
    assert confirmation.to == ["dana@example.org"]
    html = confirmation.alternatives[0][0]
    for text in (confirmation.subject, confirmation.body, html):
        for private in ("Marcus", "Z-9911", profile.facility.name, "Aurelius"):
            assert private not in text


def test_it_sends_anyone_typing_any_address_nothing_they_typed_or_asked(
    client, profile, django_capture_on_commit_callbacks
):
    # An abuser can put a target's address in the form (5 an hour per IP) and
    # write the "name" and "details" to be carried to them: none of it is.
    words = "You cannot hide from me, Robin"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"{URL}?profile={profile.slug}",
            request_post(
                requester_name=words,
                requester_email="robin@example.org",
                ask="review",
                details=words,
            ),
        )
    protection_request = ProtectionRequest.objects.get()
    [confirmation] = mail.outbox
    assert confirmation.to == ["robin@example.org"]
    html = confirmation.alternatives[0][0]
    for text in (confirmation.subject, confirmation.body, html):
        for leaked in (
            "hide", "Robin", "Marcus", "Z-9911", profile.facility.name, "review",
            "contact", f"reference {protection_request.pk}",
        ):  # fmt: skip
            assert leaked.lower() not in text.lower(), leaked
        # "#5" as a request number, not inside a colour such as "#555555".
        assert not re.search(rf"#{protection_request.pk}(?![0-9a-fA-F])", text)
        assert "ignore this email" in text or text is confirmation.subject
    assert reverse("safety") in confirmation.body


def test_an_advocate_asking_for_no_contact_names_who_it_protects(client, profile):
    url = f"{URL}?profile={profile.slug}"
    response = client.post(url, request_post(relationship="advocate"))
    assert "Give the name (or email address) of the person" in response.content.decode()
    assert not ProtectionRequest.objects.exists()

    client.post(url, request_post(relationship="advocate", protected_name="Robin Survivor"))
    protection_request = ProtectionRequest.objects.get()
    assert protection_request.order_name == "Robin Survivor"
    assert protection_request.order_email == ""


def test_a_request_from_the_footer_describes_the_person(client, db):
    client.post(URL, request_post(ask="review", profile_description="John, Marion USP"))
    protection_request = ProtectionRequest.objects.get()
    assert protection_request.profile is None
    assert protection_request.profile_description == "John, Marion USP"
    item = ModerationItem.objects.for_object(protection_request).get()
    assert item.facility is None
    assert item.summary == "Protection request (review): John, Marion USP"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"requester_email": "not an email"}, "Enter a valid email address."),
        ({"requester_name": ""}, "This field is required."),
        ({"ask": "delete_them"}, "Select a valid choice."),
        ({"details": "x" * 4001}, "Please keep this under 4,000 characters."),
    ],
)
def test_bad_input_gets_a_clear_message(client, profile, overrides, message):
    response = client.post(f"{URL}?profile={profile.slug}", request_post(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ProtectionRequest.objects.exists()


def test_a_bot_filling_the_honeypot_sees_success_and_stores_nothing(client, profile):
    response = client.post(f"{URL}?profile={profile.slug}", request_post(website="http://spam"))
    assert response.status_code == 302
    assert not ProtectionRequest.objects.exists()
    assert not ModerationItem.objects.exists()


def test_it_is_rate_limited_per_address(client, profile):
    url = f"{URL}?profile={profile.slug}"
    for _ in range(RATE_LIMIT_REQUESTS):
        assert client.post(url, request_post()).status_code == 302
    response = client.post(url, request_post())
    assert response.status_code == 429
    assert RATE_LIMITED_MESSAGE.replace("'", "&#x27;") in response.content.decode()
    assert ProtectionRequest.objects.count() == RATE_LIMIT_REQUESTS
    # Another address is not affected.
    other = client.post(url, request_post(), REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 302


def test_the_rate_limit_fails_open_while_redis_is_down(client, profile):
    unreachable = {
        "default": {
            "BACKEND": "penpals.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    url = f"{URL}?profile={profile.slug}"
    with override_settings(CACHES=unreachable):
        for _ in range(RATE_LIMIT_REQUESTS + 2):
            assert client.post(url, request_post()).status_code == 302
    assert ProtectionRequest.objects.count() == RATE_LIMIT_REQUESTS + 2
