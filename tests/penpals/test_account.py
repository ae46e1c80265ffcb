"""Account pages: settings, download my data, delete my account."""

from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.urls import reverse

from penpals.models import User
from tests.factories import PASSWORD, activate_totp

ACCOUNT_URLS = ["account_settings", "account_export", "account_delete"]


@pytest.mark.parametrize("name", ACCOUNT_URLS)
def test_it_requires_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_it_shows_settings_with_few_queries(client, alice, django_assert_max_num_queries):
    client.force_login(alice)
    with django_assert_max_num_queries(3):  # session, user, liaison check
        response = client.get(reverse("account_settings"))
    assert response.status_code == 200
    assert 'value="Alice"' in response.content.decode()


def test_it_saves_display_name_and_notification_preferences(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("account_settings"),
        {"display_name": "  Alice in Ohio ", "has_letter_status_emails": "on"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == "Alice in Ohio"
    assert alice.has_letter_status_emails is True
    assert alice.has_reply_emails is False


def test_it_rejects_an_overlong_display_name_without_saving(client, alice):
    client.force_login(alice)
    response = client.post(reverse("account_settings"), {"display_name": "x" * 500})
    assert response.status_code == 200
    assert "at most 60 characters" in response.content.decode()
    alice.refresh_from_db()
    assert alice.display_name == "Alice"


def test_it_exports_only_the_requesters_data(client, alice, bob):
    log_in_and_confirm_password(client, alice)
    activate_totp(alice)
    response = client.get(reverse("account_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    export = json.loads(response.content)
    account = export["penpals"]
    assert account["email"] == "alice@example.org"
    assert account["display_name"] == "Alice"
    assert account["email_addresses"] == [
        {"email": "alice@example.org", "verified": True, "primary": True}
    ]
    assert [method["type"] for method in account["mfa_methods"]] == ["totp"]
    assert account["language"] == alice.language
    assert "reads_languages" not in account  # a staff setting
    text = response.content.decode()
    assert "bob@example.org" not in text
    assert "secret" not in text  # the TOTP secret never leaves the database


@pytest.mark.parametrize("name", ["account_export", "account_delete"])
def test_it_asks_for_the_password_again_before_export_or_deletion(client, alice, name):
    client.force_login(alice)  # signed in, but no password confirmation in this session
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def log_in_and_confirm_password(client, user: User) -> None:
    """Sensitive pages ask for the password again (allauth reauthentication)."""
    client.force_login(user)
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content


def test_it_needs_the_confirmation_box_to_delete(client, alice):
    log_in_and_confirm_password(client, alice)
    response = client.post(reverse("account_delete"), {})
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.is_active


def test_it_soft_deletes_the_account(client, alice, bob):
    log_in_and_confirm_password(client, alice)
    activate_totp(alice)
    response = client.post(reverse("account_delete"), {"confirm": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.is_deleted
    assert not alice.is_active
    assert not alice.has_usable_password()
    assert alice.email.endswith("@deleted.invalid")
    assert alice.display_name == ""
    assert alice.public_name == "Former member"
    assert not EmailAddress.objects.filter(user=alice).exists()
    assert not Authenticator.objects.filter(user=alice).exists()
    # Logged out, and the old password no longer works.
    assert client.get(reverse("account_settings")).status_code == 302
    response = client.post(
        reverse("account_login"), {"login": "alice@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    # Nobody else was touched.
    bob.refresh_from_db()
    assert bob.is_active and bob.email == "bob@example.org"


def test_it_sends_each_role_to_its_workplace_after_login(client, alice, liaison, moderator):
    # A pen pal with no letters yet starts in the directory (tests/penpals/test_first_run.py).
    expectations = [(alice, reverse("directory:list")), (liaison, reverse("liaison:dashboard"))]
    for user, expected in expectations:
        client.logout()
        response = client.post(
            reverse("account_login"), {"login": user.email, "password": PASSWORD}
        )
        assert response["Location"] == expected
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": moderator.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("admin:index")
