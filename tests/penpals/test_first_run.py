"""The first run of staff and liaisons: one password prompt, TOTP, recovery
codes, then on to where they were going; and the header shows each role its
own places."""

from __future__ import annotations

import time

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.urls import reverse

from penpals.middleware import MFA_SETUP_NEXT_SESSION_KEY
from tests.factories import PASSWORD, CorrespondenceFactory, totp_code

MFA_SETUP = reverse("mfa_activate_totp")


def log_in(client, user, next_url: str = "") -> str:
    """Log in with the password, as a person does; returns where allauth sends them."""
    url = reverse("account_login") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response["Location"]


def set_up_totp(client) -> str:
    """Activate TOTP on the setup page; returns where allauth goes next."""
    response = client.get(MFA_SETUP)
    assert response.status_code == 200, response.get("Location")
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(MFA_SETUP, {"code": totp_code(secret)})
    assert response.status_code == 302
    return response["Location"]


def test_it_asks_a_liaison_for_the_password_once(client, liaison):
    start = log_in(client, liaison)
    assert start == reverse("liaison:dashboard")
    # The portal sends them to set up TOTP, and the setup page opens at once:
    # the password typed a moment ago counts.
    assert client.get(start)["Location"] == MFA_SETUP
    assert set_up_totp(client) == reverse("mfa_view_recovery_codes")
    codes = client.get(reverse("mfa_view_recovery_codes"))
    assert codes.status_code == 200
    assert reverse("account_continue") in codes.content.decode()
    response = client.get(reverse("account_continue"))
    assert response["Location"] == reverse("liaison:dashboard")
    assert client.get(reverse("liaison:dashboard"), follow=True).status_code == 200


def test_it_continues_staff_to_the_admin_page_they_asked_for(client, moderator):
    wanted = reverse("admin:moderation_moderationitem_changelist")
    assert log_in(client, moderator, next_url=wanted) == wanted
    assert client.get(wanted)["Location"] == MFA_SETUP
    set_up_totp(client)
    assert client.get(reverse("account_continue"))["Location"] == wanted
    assert client.get(wanted).status_code == 200


def test_it_asks_again_once_the_login_is_no_longer_fresh(client, liaison, settings):
    log_in(client, liaison)
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    records[-1]["at"] = time.time() - settings.ACCOUNT_REAUTHENTICATION_TIMEOUT - 1
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()
    response = client.get(MFA_SETUP)
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_it_still_asks_for_the_password_before_a_data_export(client, alice):
    log_in(client, alice)
    response = client.get(reverse("account_export"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))


@pytest.mark.parametrize(
    "stored", ["https://evil.example/admin/", "//evil.example/", "javascript:alert(1)"]
)
def test_it_continues_only_to_a_path_of_this_site(client, liaison, stored):
    client.force_login(liaison)
    session = client.session
    session[MFA_SETUP_NEXT_SESSION_KEY] = stored
    session.save()
    assert client.get(reverse("account_continue"))["Location"] == reverse("liaison:dashboard")


def test_it_continues_to_each_persons_own_place_without_a_stored_path(
    client, alice, liaison, moderator
):
    expected = {
        alice: reverse("directory:list"),
        liaison: reverse("liaison:dashboard"),
        moderator: reverse("admin:index"),
    }
    for user, place in expected.items():
        client.force_login(user)
        assert client.get(reverse("account_continue"))["Location"] == place


def test_it_requires_login_to_continue(client, db):
    response = client.get(reverse("account_continue"))
    assert response["Location"].startswith(reverse("account_login"))


# --- Where a login lands ------------------------------------------------------------


def test_it_lands_a_writer_with_letters_on_the_letters_page(client, alice):
    CorrespondenceFactory(pen_pal=alice)
    assert log_in(client, alice) == reverse("letters:inbox")


def test_it_lands_a_new_pen_pal_in_the_directory(client, alice):
    assert log_in(client, alice) == reverse("directory:list")


def test_it_lands_staff_in_the_admin(client, moderator):
    assert log_in(client, moderator) == reverse("admin:index")


def test_it_keeps_a_next_of_this_site_after_login(client, alice):
    assert log_in(client, alice, next_url="/inmates/saved/") == "/inmates/saved/"


# --- The header ---------------------------------------------------------------------


def header_links(client) -> str:
    html = client.get(reverse("home")).content.decode()
    return html[html.index('<header class="site-header">') : html.index("</header>")]


def test_it_shows_a_pen_pal_their_letters_and_saved_profiles(client, alice):
    client.force_login(alice)
    header = header_links(client)
    assert reverse("letters:inbox") in header
    assert reverse("directory:saved") in header
    assert reverse("liaison:dashboard") not in header
    assert reverse("admin:index") not in header


def test_it_shows_a_liaison_the_portal_not_a_pen_pals_places(client, liaison):
    client.force_login(liaison)
    header = header_links(client)
    assert reverse("liaison:dashboard") in header
    assert ">Letters<" not in header
    assert ">Saved<" not in header
    assert reverse("admin:index") not in header


def test_it_shows_staff_the_admin(client, moderator):
    client.force_login(moderator)
    header = header_links(client)
    assert reverse("admin:index") in header
    assert ">Letters<" not in header


def test_it_notes_the_role_at_login_so_pages_ask_no_more_queries(
    client, liaison, django_assert_max_num_queries
):
    client.force_login(liaison)
    with django_assert_max_num_queries(2):  # session, user
        assert "Liaison portal" in header_links(client)
