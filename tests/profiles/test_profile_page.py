"""A public profile page at /inmates/<slug>/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.models import Favorite, InmateProfile
from tests.factories import (
    FacilityFactory,
    InmateProfileFactory,
    ProfilePhotoFactory,
    add_public_photo,
)

pytestmark = pytest.mark.django_db


def url_of(profile: InmateProfile) -> str:
    return reverse("directory:profile", args=[profile.slug])


@pytest.fixture
def profile(db) -> InmateProfile:
    return InmateProfileFactory.published(
        display_name="Marcus T.",
        legal_name="Marcus Theodore Quillfeather",
        inmate_number="QX-998877",
        date_of_birth=date(1985, 3, 14),
        gender="male",
        facility=FacilityFactory(name="Riverbend State Correctional Facility", state="OH"),
        release_kind="date",
        release_date=date(2031, 6, 1),
        bio="I teach chess on my unit.\n\nI write back to everyone.",
        interests=["chess", "history"],
        seeking=["friendship", "education"],
        languages=["en", "es"],
        public_updated_at=datetime(2026, 10, 2, 12, 0, tzinfo=UTC),
    )


def test_it_shows_a_published_profile_to_anonymous_visitors(client, profile):
    response = client.get(url_of(profile))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="profile-name">Marcus T.</h1>' in html
    assert f"{profile.age} years old · Man" in html
    assert "Riverbend State Correctional Facility, OH" in html
    assert "June 2031" in html
    assert "<p>I teach chess on my unit.</p>" in html
    assert "chess</li>" in html and "history</li>" in html
    assert "Friendship, Education" in html
    assert "English, Spanish" in html
    assert "2 October 2026" in html


def test_it_never_shows_private_fields(client, profile, alice):
    profile.consent_form.name = "consent-forms/1/secret-consent-scan.pdf"
    profile.save(update_fields=["consent_form"])
    for user in (None, alice):
        if user:
            client.force_login(user)
        html = client.get(url_of(profile)).content.decode()
        for private in (
            "Quillfeather",
            "Marcus Theodore",
            "QX-998877",
            "1985-03-14",
            "March 14, 1985",
            "14 March 1985",
            "Mar. 14, 1985",
            "secret-consent-scan",
            "consent-forms",
        ):
            assert private not in html, private


@pytest.mark.parametrize(
    "status", ["draft", "pending_review", "paused", "released", "transferred", "archived"]
)
def test_it_answers_404_for_profiles_that_are_not_published(client, alice, status):
    hidden = InmateProfileFactory(status=status)
    assert client.get(url_of(hidden)).status_code == 404
    client.force_login(alice)
    assert client.get(url_of(hidden)).status_code == 404


def test_it_answers_404_for_unknown_slugs(client):
    assert client.get(reverse("directory:profile", args=["nobody-abc123"])).status_code == 404


def test_it_shows_only_processed_and_approved_photos_primary_first(client, profile):
    older = add_public_photo(profile, is_primary=False, display="photos/display/older.jpg")
    primary = add_public_photo(profile, display="photos/display/primary.jpg")
    ProfilePhotoFactory(
        profile=profile,
        status="ready",
        review_status="pending",
        display="photos/display/pending.jpg",
    )
    ProfilePhotoFactory(
        profile=profile,
        status="ready",
        review_status="rejected",
        display="photos/display/rejected.jpg",
    )
    ProfilePhotoFactory(
        profile=profile,
        status="processing",
        review_status="approved",
        display="photos/display/processing.jpg",
    )
    ProfilePhotoFactory(
        profile=profile,
        status="failed",
        review_status="approved",
        display="photos/display/failed.jpg",
    )

    response = client.get(url_of(profile))
    assert [photo.pk for photo in response.context["photos"]] == [primary.pk, older.pk]
    html = response.content.decode()
    assert html.index("primary.jpg") < html.index("older.jpg")
    for hidden in ("pending.jpg", "rejected.jpg", "processing.jpg", "failed.jpg"):
        assert hidden not in html


def test_it_shows_a_placeholder_without_photos(client, profile):
    html = client.get(url_of(profile)).content.decode()
    assert 'aria-label="No photo of Marcus T. yet"' in html


def test_it_links_to_the_write_page(client, profile):
    html = client.get(url_of(profile)).content.decode()
    write_url = reverse("letters:write", args=[profile.slug])
    assert f'<a class="button" href="{write_url}" aria-describedby="letters-help">' in html


def test_it_says_when_a_person_is_not_taking_letters(client, profile):
    profile.is_accepting_letters = False
    profile.save(update_fields=["is_accepting_letters"])
    html = client.get(url_of(profile)).content.decode()
    assert "is not taking new letters right now" in html
    assert "Write a letter" not in html


def test_it_links_to_reporting_and_to_the_safety_guides_protection_section(client, profile):
    html = client.get(url_of(profile)).content.decode()
    report_url = reverse("directory:report", args=[profile.slug])
    assert f'<a href="{report_url}">Report this profile</a>' in html
    assert f'href="{reverse("safety")}#victims"' in html
    safety = client.get(reverse("safety")).content.decode()
    assert 'id="victims"' in safety


def test_it_offers_anonymous_visitors_to_log_in_to_save(client, profile):
    html = client.get(url_of(profile)).content.decode()
    assert f'href="{reverse("account_login")}?next={url_of(profile)}">Log in to save</a>' in html
    assert reverse("directory:favorite", args=[profile.slug]) not in html


def test_it_shows_whether_the_pen_pal_saved_the_profile(client, profile, alice, bob):
    Favorite.objects.create(user=bob, profile=profile)
    client.force_login(alice)
    html = client.get(url_of(profile)).content.decode()
    assert 'name="action" value="save"' in html
    assert "Saved ✓" not in html

    Favorite.objects.create(user=alice, profile=profile)
    html = client.get(url_of(profile)).content.decode()
    assert 'name="action" value="remove"' in html
    assert "Saved ✓" in html


@pytest.mark.parametrize("signed_in", [False, True])
def test_it_runs_as_many_queries_for_one_photo_as_for_six(
    client, profile, alice, django_assert_num_queries, signed_in
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if signed_in:
        client.force_login(alice)
    add_public_photo(profile)
    with CaptureQueriesContext(connection) as one_photo:
        client.get(url_of(profile))
    for number in range(5):
        add_public_photo(profile, is_primary=False, display=f"photos/display/more-{number}.jpg")
    with django_assert_num_queries(len(one_photo)):
        response = client.get(url_of(profile))
    assert len(response.context["photos"]) == 6


def test_it_needs_two_queries_for_an_anonymous_visitor(client, profile, django_assert_num_queries):
    add_public_photo(profile)
    # The profile with its facility and primary photo; its public photos.
    with django_assert_num_queries(2):
        client.get(url_of(profile))


def test_it_shows_release_kinds_in_words(client):
    life = InmateProfileFactory.published(release_kind="life")
    unknown = InmateProfileFactory.published(release_kind="unknown")
    assert "Life sentence" in client.get(url_of(life)).content.decode()
    assert "Not set" in client.get(url_of(unknown)).content.decode()


def test_it_shows_the_last_public_update_not_internal_edits(client, profile):
    profile.updated_at = timezone.now() + timedelta(days=3)
    html = client.get(url_of(profile)).content.decode()
    assert 'datetime="2026-10-02T12:00:00+00:00"' in html
