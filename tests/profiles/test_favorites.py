"""Saving profiles (POST /inmates/<slug>/favorite/) and the saved list (/inmates/saved/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from profiles.models import Favorite, InmateProfile
from tests.factories import InmateProfileFactory, add_public_photo

pytestmark = pytest.mark.django_db

SAVED_URL = reverse("directory:saved")


def favorite_url(profile: InmateProfile) -> str:
    return reverse("directory:favorite", args=[profile.slug])


def profile_url(profile: InmateProfile) -> str:
    return reverse("directory:profile", args=[profile.slug])


@pytest.fixture
def profile(db) -> InmateProfile:
    return InmateProfileFactory.published(display_name="Marcus T.")


# --- Saving and removing ---------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_log_in_and_back_to_the_profile(client, profile):
    response = client.post(favorite_url(profile), {"action": "save"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={profile_url(profile)}"
    assert not Favorite.objects.exists()


def test_it_only_accepts_posts(client, alice, profile):
    client.force_login(alice)
    assert client.get(favorite_url(profile)).status_code == 405


def test_it_saves_once_however_often_it_is_asked(client, alice, profile):
    client.force_login(alice)
    for _ in range(2):
        response = client.post(favorite_url(profile), {"action": "save", "next": "profile"})
        assert response.status_code == 302
        assert response["Location"] == profile_url(profile)
    assert list(Favorite.objects.values_list("user", "profile")) == [(alice.pk, profile.pk)]
    page = client.get(response["Location"]).content.decode()
    assert "Marcus T. is in your saved profiles." in page
    assert "Saved ✓" in page


def test_it_removes_and_removing_again_is_harmless(client, alice, bob, profile):
    Favorite.objects.create(user=alice, profile=profile)
    Favorite.objects.create(user=bob, profile=profile)
    client.force_login(alice)
    for _ in range(2):
        response = client.post(favorite_url(profile), {"action": "remove"})
        assert response.status_code == 302
    assert list(Favorite.objects.values_list("user", flat=True)) == [bob.pk]


def test_it_requires_a_csrf_token(alice, profile):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(favorite_url(profile), {"action": "save"}).status_code == 403
    assert not Favorite.objects.exists()


@pytest.mark.parametrize("status", ["draft", "pending_review", "paused", "released", "transferred"])
def test_it_answers_404_for_profiles_that_are_not_published(client, alice, status):
    hidden = InmateProfileFactory(status=status)
    client.force_login(alice)
    assert client.post(favorite_url(hidden), {"action": "save"}).status_code == 404
    assert not Favorite.objects.exists()


def test_it_changes_nothing_for_a_malformed_request(client, alice, profile):
    client.force_login(alice)
    response = client.post(favorite_url(profile), {"action": "toggle"})
    assert response.status_code == 302
    assert not Favorite.objects.exists()
    assert "nothing was changed" in client.get(response["Location"]).content.decode()


def test_it_goes_back_to_the_saved_list_when_asked(client, alice, profile):
    Favorite.objects.create(user=alice, profile=profile)
    client.force_login(alice)
    response = client.post(favorite_url(profile), {"action": "remove", "next": "saved"})
    assert response["Location"] == SAVED_URL


# --- The saved list ---------------------------------------------------------------------------


def test_it_requires_login_for_the_saved_list(client):
    response = client.get(SAVED_URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={SAVED_URL}"


def test_it_lists_only_the_pen_pals_own_favourites_newest_first(client, alice, bob, charlie):
    first = InmateProfileFactory.published(display_name="First F.")
    second = InmateProfileFactory.published(display_name="Second S.")
    bobs = InmateProfileFactory.published(display_name="Bobs B.")
    Favorite.objects.create(user=alice, profile=first)
    Favorite.objects.filter(user=alice, profile=first).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    Favorite.objects.create(user=alice, profile=second)
    Favorite.objects.create(user=bob, profile=bobs)

    client.force_login(alice)
    response = client.get(SAVED_URL)
    assert [p.display_name for p in response.context["page"].object_list] == [
        "Second S.",
        "First F.",
    ]
    assert "Bobs B." not in response.content.decode()

    client.force_login(charlie)
    response = client.get(SAVED_URL)
    assert list(response.context["page"].object_list) == []
    assert "Nothing saved yet" in response.content.decode()


def test_it_hides_favourites_of_profiles_that_left_the_directory(client, alice):
    listed = InmateProfileFactory.published(display_name="Listed L.")
    paused = InmateProfileFactory.published(display_name="Paused P.")
    Favorite.objects.create(user=alice, profile=listed)
    Favorite.objects.create(user=alice, profile=paused)
    paused.status = InmateProfile.Status.PAUSED
    paused.save(update_fields=["status"])

    client.force_login(alice)
    html = client.get(SAVED_URL).content.decode()
    assert "Listed L." in html
    assert "Paused P." not in html
    # Kept, so it comes back if the profile is listed again.
    assert Favorite.objects.filter(user=alice, profile=paused).exists()


def test_it_offers_a_remove_button_for_each_saved_profile(client, alice, profile):
    Favorite.objects.create(user=alice, profile=profile)
    client.force_login(alice)
    html = client.get(SAVED_URL).content.decode()
    assert f'action="{favorite_url(profile)}"' in html
    assert 'name="next" value="saved"' in html
    assert "csrfmiddlewaretoken" in html


def test_it_runs_as_many_queries_for_one_favourite_as_for_thirty(
    client, alice, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    first = InmateProfileFactory.published()
    add_public_photo(first)
    Favorite.objects.create(user=alice, profile=first)
    with CaptureQueriesContext(connection) as one:
        client.get(SAVED_URL)
    for number in range(29):
        other = InmateProfileFactory.published()
        if number % 2:
            add_public_photo(other)
        Favorite.objects.create(user=alice, profile=other)
    with django_assert_num_queries(len(one)):
        response = client.get(SAVED_URL)
    assert len(response.context["page"].object_list) == 24
