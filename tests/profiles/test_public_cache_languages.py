"""The anonymous page cache and languages (profiles.public_cache): one copy of
a page per language, never one language's page for a visitor who asked for
the other, and a language switcher that posts from a cached page."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from profiles.models import InmateProfile
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db

DIRECTORY = reverse("directory:list")


@pytest.fixture
def marcus(db) -> InmateProfile:
    return InmateProfileFactory.published(display_name="Marcus", bio="I teach chess.")


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]*)"', response.content.decode()).group(1)


def page_keys() -> set[bytes]:
    """The cached pages' keys, straight from Redis (each test process has its own database)."""
    keys = cache._cache.get_client().keys("*public-pages:*")
    return {key for key in keys if not key.endswith(b"public-pages:generation")}


def csrf_token_in(response) -> str:
    return re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()
    ).group(1)


@pytest.mark.parametrize("url", ["directory", "profile"])
def test_one_url_in_two_languages_is_two_entries_never_crossed(
    client, marcus, url, django_assert_num_queries
):
    path = DIRECTORY if url == "directory" else reverse("directory:profile", args=[marcus.slug])
    spanish = client.get(path, HTTP_ACCEPT_LANGUAGE="es")
    english = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert (html_lang(spanish), html_lang(english)) == ("es", "en")
    assert len(page_keys()) == 2
    queries = 0 if url == "directory" else 1  # a profile page checks it is published
    for language in ("es", "en", "es"):
        with django_assert_num_queries(queries):  # from the cache
            again = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
        assert html_lang(again) == language
        assert again["Content-Language"] == language
    assert len(page_keys()) == 2


def test_the_language_cookie_chooses_the_cached_copy_too(client, marcus):
    client.get(DIRECTORY)  # the English copy, cached
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    assert html_lang(client.get(DIRECTORY)) == "es"
    assert len(page_keys()) == 2


def test_a_shared_answer_varies_by_language_and_cookie(client, marcus):
    for _ in range(2):  # rendered, then from the cache
        response = client.get(DIRECTORY)
        vary = {header.strip() for header in response["Vary"].split(",")}
        assert {"Accept-Language", "Cookie"} <= vary


def test_no_visitor_gets_another_visitors_csrf_token(marcus):
    first, second = Client(), Client(enforce_csrf_checks=True)
    rendered = first.get(DIRECTORY)
    cached = second.get(DIRECTORY)
    assert csrf_token_in(cached) != csrf_token_in(rendered)
    assert "%CSRF-TOKEN%" not in cached.content.decode()
    # The cached page's switcher posts with the visitor's own token and cookie.
    response = second.post(
        reverse("set_language"),
        {"csrfmiddlewaretoken": csrf_token_in(cached), "language": "es", "next": DIRECTORY},
    )
    assert response.status_code == 302
    assert html_lang(second.get(DIRECTORY)) == "es"
