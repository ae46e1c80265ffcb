"""allauth flows that must work in this configuration: rate limits, password reset, email change."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD


def test_it_rate_limits_failed_logins(client, alice):
    def log_in(password: str) -> str:
        response = client.post(
            reverse("account_login"), {"login": alice.email, "password": password}
        )
        return response.content.decode()

    first = log_in("wrong-password")
    assert "Too many failed login attempts" not in first
    for _ in range(6):
        last = log_in("wrong-password")
    assert "Too many failed login attempts" in last
    # Even the right password is refused while the limit holds.
    assert "Too many failed login attempts" in log_in(PASSWORD)
    assert "_auth_user_id" not in client.session


def test_it_resets_a_forgotten_password_by_email(client, alice):
    response = client.post(reverse("account_reset_password"), {"email": "ALICE@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(
        r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body
    ).group(1)
    form_url = client.get(link)["Location"]  # allauth moves the key into the session
    response = client.post(
        form_url, {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-brand-new-passphrase")


def test_it_does_not_reveal_whether_an_address_has_an_account(client, db):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")


def test_it_verifies_a_new_email_address_before_using_it(client, alice):
    client.force_login(alice)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "alice.new@example.org"}
    )
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["alice.new@example.org"]
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"  # unchanged until verified
