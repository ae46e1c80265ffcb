"""The home page says what is true today, and speaks to whoever is reading."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import CorrespondenceFactory


def home(client) -> str:
    return client.get(reverse("home")).content.decode()


def test_it_never_says_letters_open_soon(client, db):
    assert "opens soon" not in home(client)


def test_it_tells_a_visitor_they_can_write_today(client, db):
    html = home(client)
    assert "You can write a letter today." in html
    assert reverse("account_signup") in html


def test_it_points_a_signed_in_writer_to_their_letters(client, alice):
    CorrespondenceFactory(pen_pal=alice)
    client.force_login(alice)
    html = home(client)
    assert "Welcome back, Alice." in html
    assert "You can write a letter today." not in html
    assert f'href="{reverse("letters:inbox")}">your letters page' in html


def test_it_points_a_liaison_to_the_portal(client, liaison):
    client.force_login(liaison)
    html = home(client)
    assert f'<a href="{reverse("liaison:dashboard")}">the liaison portal</a>' in html
    assert "your letters page" not in html
