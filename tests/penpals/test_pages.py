"""Public pages render, carry the security headers, and run few queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

PAGES = ["home", "about", "safety", "privacy", "terms"]


@pytest.mark.parametrize("name", PAGES)
def test_it_renders_each_public_page_to_anonymous_visitors(
    client, db, django_assert_max_num_queries, name
):
    with django_assert_max_num_queries(0):
        response = client.get(reverse(name))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<main id="main"' in body
    assert 'href="#main"' in body  # skip link
    assert reverse("safety") in body  # footer link to the safety guide


@pytest.mark.parametrize("name", PAGES)
def test_it_renders_each_public_page_for_a_signed_in_pen_pal(
    client, alice, django_assert_max_num_queries, name
):
    client.force_login(alice)
    with django_assert_max_num_queries(2):  # session + user
        response = client.get(reverse(name))
    assert response.status_code == 200
    assert "Log out" in response.content.decode()


def test_it_sends_a_strict_content_security_policy(client):
    response = client.get(reverse("home"))
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


def test_it_sends_the_other_security_headers(client):
    response = client.get(reverse("home"))
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_it_has_no_inline_scripts_or_styles_in_the_layout(client):
    body = client.get(reverse("home")).content.decode()
    assert "<script>" not in body
    assert "style=" not in body
    assert "onclick" not in body


def test_it_shows_a_helpful_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Penpals" in response.content.decode()
    assert reverse("home") in response.content.decode()


def test_it_shows_django_messages(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("account_settings"),
        {"display_name": "Alice B", "has_reply_emails": "on"},
        follow=True,
    )
    assert "Your settings were saved." in response.content.decode()
