"""Staff and liaisons must set up MFA before the admin or the liaison portal."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import PASSWORD, totp_code

MFA_SETUP = reverse("mfa_activate_totp")


def test_it_sends_staff_without_mfa_to_set_it_up(client, moderator):
    client.force_login(moderator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == MFA_SETUP


def test_it_sends_liaisons_without_mfa_to_set_it_up(client, liaison):
    client.force_login(liaison)
    response = client.get("/liaison/")
    assert response.status_code == 302
    assert response["Location"] == MFA_SETUP


def test_it_lets_staff_with_mfa_into_the_admin(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    response = client.get("/admin/")
    assert response.status_code == 200


def test_it_does_not_ask_pen_pals_for_mfa(client, alice):
    client.force_login(alice)
    response = client.get(reverse("account_settings"))
    assert response.status_code == 200
    # A pen pal is not staff: the admin refuses them.
    assert client.get("/admin/", follow=True).status_code == 403


def test_it_lets_staff_without_mfa_use_the_public_site(client, moderator):
    client.force_login(moderator)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200


def test_it_routes_the_admin_login_through_allauth(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_it_asks_staff_with_mfa_for_a_code_at_login(client, moderator_with_mfa):
    response = client.post(
        reverse("account_login"), {"login": moderator_with_mfa.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # Not logged in yet: the admin still asks for a login.
    assert client.get("/admin/").status_code == 302

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200  # the form again, with an error

    response = client.post(
        reverse("mfa_authenticate"), {"code": totp_code(moderator_with_mfa.totp_secret)}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_it_lets_a_staff_member_activate_totp_and_reach_the_admin(client, moderator):
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    client.force_login(moderator)
    # allauth asks for the password before a second factor is added.
    assert client.get(MFA_SETUP)["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(MFA_SETUP).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(MFA_SETUP, {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
