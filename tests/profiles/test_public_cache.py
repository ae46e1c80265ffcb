"""The page cache of what anonymous visitors see (profiles.public_cache).

The cache is the real Redis one of the test settings. A page served from the
cache is recognised by its queries: a cached directory page runs none, a
cached profile page only the one that checks the profile is published.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from moderation.protection import pause_profile
from profiles import public_cache
from profiles.models import InmateProfile, ProfilePhoto
from tests.factories import FacilityFactory, InmateProfileFactory, add_public_photo

pytestmark = pytest.mark.django_db

DIRECTORY = reverse("directory:list")


def url_of(profile: InmateProfile) -> str:
    return reverse("directory:profile", args=[profile.slug])


def page_of(response) -> bytes:
    """The page without its CSRF tokens, which are each visitor's own on a
    cached page too (the language switcher's form)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)


@pytest.fixture
def marcus(db) -> InmateProfile:
    return InmateProfileFactory.published(
        display_name="Marcus",
        bio="I teach chess on my unit.",
        facility=FacilityFactory(name="Riverbend State Correctional Facility"),
    )


def test_a_visitor_gets_the_same_profile_page_from_the_cache(
    client, marcus, django_assert_num_queries
):
    first = client.get(url_of(marcus))
    with django_assert_num_queries(1):  # the published check, nothing else
        second = client.get(url_of(marcus))
    assert second.status_code == 200
    assert page_of(second) == page_of(first)
    assert "I teach chess on my unit." in second.content.decode()
    assert second["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Security-Policy" in second.headers


def test_a_visitor_gets_the_same_directory_page_from_the_cache(
    client, marcus, django_assert_num_queries
):
    first = client.get(DIRECTORY, {"q": "chess"})
    with django_assert_num_queries(0):
        second = client.get(DIRECTORY, {"q": "chess"})
    assert page_of(second) == page_of(first)
    assert "Marcus" in second.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"photo": "on", "accepting": "on", "new": "on"},  # as the filter form sends them
        {"photo": "1", "gender": "male", "sort": "name"},  # as the page's own links do
        {"q": "chess guitar", "page": "2"},
    ],
)
def test_the_forms_and_links_queries_are_cached(client, marcus, query, django_assert_num_queries):
    first = client.get(DIRECTORY, query)
    with django_assert_num_queries(0):
        second = client.get(DIRECTORY, query)
    assert page_of(second) == page_of(first)


def test_a_saved_profile_change_shows_at_once(client, marcus):
    client.get(url_of(marcus))
    client.get(DIRECTORY)
    marcus.bio = "Now I teach guitar."
    marcus.display_name = "Marcus Q."
    marcus.save()
    assert "Now I teach guitar." in client.get(url_of(marcus)).content.decode()
    assert "Marcus Q." in client.get(DIRECTORY).content.decode()


def test_a_paused_profile_is_gone_at_once_from_both_pages(client, marcus, moderator):
    assert client.get(url_of(marcus)).status_code == 200
    assert "Marcus" in client.get(DIRECTORY).content.decode()
    pause_profile(marcus, moderator)
    assert client.get(url_of(marcus)).status_code == 404
    assert "Marcus" not in client.get(DIRECTORY).content.decode()


def test_a_queryset_update_starts_a_new_generation(client, marcus):
    """Bulk writes skip save signals; the queryset's update() is caught too."""
    client.get(DIRECTORY)
    InmateProfile.objects.filter(pk=marcus.pk).update(display_name="Renamed in bulk")
    assert "Renamed in bulk" in client.get(DIRECTORY).content.decode()


def test_a_new_photo_and_a_facility_rename_show_at_once(client, marcus):
    client.get(url_of(marcus))
    add_public_photo(marcus)
    assert f"photos/display/{marcus.slug}.jpg" in client.get(url_of(marcus)).content.decode()
    ProfilePhoto.objects.filter(profile=marcus).update(display="photos/display/other.jpg")
    assert "photos/display/other.jpg" in client.get(url_of(marcus)).content.decode()
    marcus.facility.name = "Lakeside Correctional Center"
    marcus.facility.save()
    assert "Lakeside Correctional Center" in client.get(url_of(marcus)).content.decode()


def test_the_generation_moves_again_when_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    """A page rendered while a change was uncommitted must not outlive the commit."""
    with django_capture_on_commit_callbacks() as callbacks:
        public_cache.public_data_changed()
        during = public_cache.current_generation()
    assert len(callbacks) == 1
    callbacks[0]()
    assert public_cache.current_generation() != during


def test_signed_in_pages_are_never_cached_nor_served_from_the_cache(
    client, marcus, alice, django_assert_num_queries
):
    anonymous = client.get(url_of(marcus)).content.decode()
    assert "Log in to save" in anonymous
    client.force_login(alice)
    signed_in = client.get(url_of(marcus)).content.decode()
    assert "Log in to save" not in signed_in
    assert "Log out" in signed_in
    assert "csrfmiddlewaretoken" in signed_in
    client.logout()
    with django_assert_num_queries(1):
        again = client.get(url_of(marcus)).content.decode()
    assert "Log out" not in again and reverse("account_logout") not in again
    assert again.count("csrfmiddlewaretoken") == 1  # the language switcher's only


def test_a_visitor_with_a_message_sees_it_and_not_a_cached_page(client, marcus, alice):
    client.get(url_of(marcus))  # cached, without a message
    client.force_login(alice)
    client.post(reverse("account_logout"))
    page = client.get(url_of(marcus)).content.decode()
    assert "You have signed out." in page
    # Shown once, then the cached page again.
    assert "You have signed out." not in client.get(url_of(marcus)).content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"q": "chess", "junk": "1"},  # a parameter the form does not know
        {"gender": "nonsense"},  # an invalid value
        {"page": "1"},  # the canonical form drops page 1
        {"q": "  chess  "},  # the canonical form strips
        {"photo": "yes"},  # a ticked box sent any other way than the form's
    ],
)
def test_queries_not_in_canonical_form_are_not_cached(client, marcus, query):
    client.get(DIRECTORY, query)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DIRECTORY, query)
    assert response.status_code == 200
    assert len(queries) >= 2  # the facility list and the page: rendered again


def test_a_404_is_not_cached(client, marcus):
    missing = reverse("directory:profile", args=["nobody-abc123"])
    assert client.get(missing).status_code == 404
    InmateProfileFactory.published(display_name="Nobody", slug="nobody-abc123")
    assert client.get(missing).status_code == 200


def test_pages_render_without_redis(client, marcus, settings):
    """Redis down: every page is rendered afresh (penpals.cache degrades to misses)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "penpals.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert "I teach chess on my unit." in client.get(url_of(marcus)).content.decode()
    assert "Marcus" in client.get(DIRECTORY).content.decode()
    marcus.display_name = "Marcus R."
    marcus.save()
    assert "Marcus R." in client.get(DIRECTORY).content.decode()


# --- Nobody makes cache keys faster than by visiting real pages -------------------------------


def page_keys_in_redis() -> set[bytes]:
    """The page keys the real cache holds, read from Redis itself."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    try:
        return set(client.scan_iter(match="*public-pages:*:*"))
    finally:
        client.close()


def test_it_keeps_a_profile_page_under_its_one_canonical_key(client, marcus):
    client.get(url_of(marcus))
    canonical = page_keys_in_redis()
    assert len(canonical) == 1
    for query in [
        "utm_source=a",
        "x=1",
        "x=2",
        "x=1&y=2",
        "next=/admin/",
        "page=2",
        "a" * 500,
        "",  # a bare "?"
        "&",
        "&&",
    ]:
        response = client.get(f"{url_of(marcus)}?{query}")
        assert response.status_code == 200
        assert "I teach chess on my unit." in response.content.decode()
    assert page_keys_in_redis() == canonical


def test_it_renders_a_profile_page_with_a_made_up_query_afresh(client, marcus):
    client.get(url_of(marcus) + "?made-up=1")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url_of(marcus) + "?made-up=1")
    assert response.status_code == 200
    assert len(queries) >= 2  # rendered again, not served from a key of the visitor's making


def test_it_keeps_one_key_for_a_directory_query_however_it_is_spelled(client, marcus):
    client.get(DIRECTORY, {"q": "chess"})
    canonical = page_keys_in_redis()
    assert len(canonical) == 1
    for spelling in ["q=chess&", "q=chess&&", "&q=chess", "q=%63hess", "q=ches%73&&&"]:
        assert client.get(f"{DIRECTORY}?{spelling}").status_code == 200
    assert page_keys_in_redis() == canonical
