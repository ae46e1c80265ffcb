"""allauth's pages and emails in the site's name and words: branding, the
contact address, "resend the verification email", "Log in"/"Sign up", the
settings page's labels and the data export's landing."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from penpals.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "email": "newcomer@example.org",
    "display_name": "New Friend",
    "password1": "a-long-and-unusual-passphrase-42",
    "password2": "a-long-and-unusual-passphrase-42",
}


@pytest.fixture
def branded(settings):
    settings.SITE_NAME = "Letters Inside"
    settings.CONTACT_EMAIL = "help@letters-inside.example"
    settings.SITE_URL = "https://letters-inside.example"
    return settings


def test_it_brands_the_verification_email(client, branded):
    client.post(reverse("account_signup"), SIGN_UP)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject.endswith("Confirm your email address")
    assert "Hello from Letters Inside!" in message.body
    assert "help@letters-inside.example" in message.body
    assert "https://letters-inside.example" in message.body
    assert "testserver!" not in message.body
    assert "Hello from testserver" not in message.body


def test_it_brands_the_password_reset_email(client, alice, branded):
    client.post(reverse("account_reset_password"), {"email": alice.email})
    body = mail.outbox[0].body
    assert "Hello from Letters Inside!" in body
    assert "Questions? Write to help@letters-inside.example." in body


@pytest.mark.parametrize(
    "name",
    ["account_login", "account_signup", "account_reset_password", "account_resend_verification"],
)
def test_it_names_the_site_and_links_the_contact_address(client, branded, name):
    html = client.get(reverse(name)).content.decode()
    assert "Letters Inside" in html
    if name != "account_signup":
        assert 'href="mailto:help@letters-inside.example"' in html


def test_it_links_the_resend_from_the_verification_page(client, branded):
    response = client.post(reverse("account_signup"), SIGN_UP, follow=True)
    html = response.content.decode()
    assert "Verify your email address" in html
    assert reverse("account_resend_verification") in html
    assert 'href="mailto:help@letters-inside.example"' in html


@pytest.mark.parametrize(
    "name", ["account_login", "account_signup", "account_logout", "account_reset_password"]
)
def test_it_says_log_in_and_sign_up_never_sign_in(client, alice, name):
    if name == "account_logout":
        client.force_login(alice)
    html = client.get(reverse(name)).content.decode()
    for wrong in ("Sign In", "Sign in", "Sign Up", "Sign Out", "Signup"):
        assert wrong not in html, f"{wrong!r} on {name}"


def test_it_says_log_in_on_the_code_prompt(client, moderator_with_mfa):
    client.post(reverse("account_login"), {"login": moderator_with_mfa.email, "password": PASSWORD})
    html = client.get(reverse("mfa_authenticate")).content.decode()
    assert "Sign In" not in html
    assert ">Log in<" in html


# --- Resend the verification email ---------------------------------------------------


def sign_up_unverified(client) -> User:
    client.post(reverse("account_signup"), SIGN_UP)
    mail.outbox.clear()
    return User.objects.get(email=SIGN_UP["email"])


def resend(client, email: str) -> str:
    response = client.post(reverse("account_resend_verification"), {"email": email}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_it_resends_a_working_verification_link(client, db, cache):
    user = sign_up_unverified(client)
    cache.clear()  # the sign-up's own email counts towards the per-address limit
    page = resend(client, "NEWCOMER@example.org")
    assert "a new link is on its way" in page
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [SIGN_UP["email"]]
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body)
    client.post(link.group(1))
    assert EmailAddress.objects.get(user=user).verified


def test_it_answers_alike_for_unknown_and_verified_addresses(client, alice):
    pages = [resend(client, "nobody@example.org"), resend(client, alice.email)]
    assert all("a new link is on its way" in page for page in pages)
    # One email each, so neither the page nor its timing tells who has an account.
    assert [m.to for m in mail.outbox] == [["nobody@example.org"], [alice.email]]
    assert "already verified" in mail.outbox[1].body
    assert "confirm-email" not in mail.outbox[1].body


def test_it_sends_at_most_one_link_per_address_every_few_minutes(client, db, cache):
    sign_up_unverified(client)
    cache.clear()
    resend(client, SIGN_UP["email"])
    resend(client, SIGN_UP["email"])
    assert len(mail.outbox) == 1


@pytest.fixture
def cache():
    from django.core.cache import cache

    return cache


# --- Settings ------------------------------------------------------------------------


def test_it_labels_checkboxes_without_a_trailing_colon(client, alice):
    client.force_login(alice)
    html = client.get(reverse("account_settings")).content.decode()
    labels = re.findall(r'<label for="id_has_\w+">([^<]*)</label>', html)
    assert len(labels) == 3
    assert not any(label.strip().endswith(":") for label in labels)


def test_it_lands_back_on_settings_after_confirming_the_password_for_the_export(client, alice):
    client.force_login(alice)
    html = client.get(reverse("account_settings")).content.decode()
    assert reverse("account_export_prepare") in html
    response = client.get(reverse("account_export_prepare"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(response["Location"], {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("account_settings") + "?export=ready"
    html = response.content.decode()
    assert "Your data is downloading" in html
    assert f'http-equiv="refresh" content="0; url={reverse("account_export")}"' in html
    # And the file itself needs no second prompt.
    download = client.get(reverse("account_export"))
    assert download["Content-Type"].startswith("application/json")


def test_it_serves_the_export_only_after_the_password_whatever_the_url_says(client, alice):
    client.force_login(alice)
    client.get(reverse("account_settings") + "?export=ready")
    response = client.get(reverse("account_export"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
