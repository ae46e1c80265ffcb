"""Demo profiles (make run) and the large benchmark data set (seed_scale)."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from devtools.demo.profiles import DEMO_INMATE_NUMBER_PREFIX, seed_scale
from profiles.models import Facility, Favorite, InmateProfile, ProfilePhoto

pytestmark = pytest.mark.django_db


def demo_profiles():
    return InmateProfile.objects.filter(inmate_number__startswith=DEMO_INMATE_NUMBER_PREFIX)


@override_settings(DEBUG=True)
def test_it_seeds_published_demo_profiles_with_photos_once(client):
    call_command("seed_demo")
    counts = (demo_profiles().count(), ProfilePhoto.objects.count(), Favorite.objects.count())
    call_command("seed_demo")
    assert (
        demo_profiles().count(),
        ProfilePhoto.objects.count(),
        Favorite.objects.count(),
    ) == counts

    profiles = demo_profiles()
    assert profiles.count() >= 200
    # One demo person has been released, to show a closed correspondence, and
    # one new profile waits in the moderation queue (devtools.demo.moderation).
    assert set(profiles.values_list("status", flat=True)) == {
        "published",
        "released",
        "pending_review",
    }
    assert profiles.filter(status="released").count() == 1
    assert profiles.filter(status="pending_review").count() == 1
    assert profiles.values("facility").distinct().count() == 3
    assert not profiles.filter(search_vector__isnull=True).exists()
    # Variety, so every filter has something to find and something to leave out.
    for field in ("gender", "release_kind", "is_accepting_letters"):
        assert profiles.values(field).distinct().count() >= 2, field
    assert profiles.filter(primary_photo__isnull=True).exists()
    assert profiles.filter(languages__contains=["es"]).exists()
    assert Favorite.objects.filter(user__email="alex@example.org").count() == 4

    photo = ProfilePhoto.objects.select_related("profile").first()
    assert photo.profile.primary_photo_id == photo.pk
    assert (photo.status, photo.review_status, photo.is_primary) == ("ready", "approved", True)
    with photo.thumbnail.open("rb") as thumbnail:
        assert Image.open(io.BytesIO(thumbnail.read())).size == (160, 160)
    assert photo.display.storage.exists(photo.display.name)
    assert storages["private"].exists(photo.original.name)
    assert photo.profile.has_confirmed_consent

    # The directory shows them.
    response = client.get(reverse("directory:list"), {"q": photo.profile.display_name.split()[0]})
    assert photo.profile.display_name in response.content.decode()


def test_it_seeds_a_large_directory_in_bulk(client):
    seconds = seed_scale(300)
    assert seconds > 0
    listed = InmateProfile.objects.published()
    assert listed.count() == 300
    assert InmateProfile.objects.exclude(status="published").count() == 30
    assert not InmateProfile.objects.filter(search_vector__isnull=True).exists()
    assert Facility.objects.filter(slug__startswith="scale-").count() > 50
    # Realistic spread: most men, some women; several states; some without photos.
    assert {"male", "female"} <= set(listed.values_list("gender", flat=True))
    assert listed.values("facility__state").distinct().count() > 10
    assert listed.filter(primary_photo__isnull=True).exists()
    photo = ProfilePhoto.objects.first()
    assert photo.display.storage.exists(photo.display.name)

    # The stored search vector is the one InmateProfile.save() would compute.
    profile = listed.first()
    stored = profile.search_vector
    profile.save()
    profile.refresh_from_db()
    assert profile.search_vector == stored

    interest = profile.interests[0]
    response = client.get(reverse("directory:list"), {"q": interest, "sort": "newest"})
    assert response.context["page"].count >= 1


def test_it_runs_as_a_command_and_says_how_long_it_took():
    out = io.StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_scale", "--profiles", "20", stdout=out)
    assert "Added 20 published profiles in" in out.getvalue()
    assert InmateProfile.objects.published().count() == 20


def test_it_refuses_to_run_in_production():
    from django.core.management import CommandError

    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_scale", "--profiles", "20")
    assert not InmateProfile.objects.exists()
