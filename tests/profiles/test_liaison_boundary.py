"""A liaison acts only on their own facilities: for every liaison URL, a liaison
of facility A gets 404 for facility B's objects, whatever the method.

The URL list is read from profiles.liaison_urls, so a new pattern that is not
described in TARGETS below fails test_it_covers_every_liaison_url.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from profiles import liaison_urls
from profiles.models import InmateProfile, LiaisonAction, ProfilePhoto
from tests.factories import (
    MINIMAL_PDF,
    InmateProfileFactory,
    LiaisonFactory,
    ProfilePhotoFactory,
    activate_totp,
    image_bytes,
)

pytestmark = pytest.mark.django_db

CSV = (
    "inmate_number,legal_name,display_name,date_of_birth,gender,release_kind,release_date,"
    "bio,interests,seeking,languages,accepting_letters\n"
    "Z-1,Zed Zee,Zed,1980-01-01,male,unknown,,Hello,,,en,yes\n"
)


def profile_post(_objects) -> dict:
    return {
        "display_name": "Intruder",
        "legal_name": "Intruder",
        "inmate_number": "X-999",
        "date_of_birth": "1980-01-01",
        "gender": "male",
        "release_kind": "unknown",
        "languages": ["en"],
    }


def facility_kwargs(objects) -> dict:
    return {"facility_slug": objects.facility.slug}


def profile_kwargs(objects) -> dict:
    return {"profile_id": objects.profile.pk}


def photo_kwargs(objects) -> dict:
    return {"photo_id": objects.photo.pk}


def no_data(_objects) -> dict:
    return {}


# URL name → (its arguments from facility B's objects, {method: POST data maker}).
# The POST data is what a real request would send, so a missing access check
# would actually change B's objects (and test_it_leaves_... would notice).
TARGETS = {
    "facility_dashboard": (facility_kwargs, {"GET": None}),
    "profile_list": (facility_kwargs, {"GET": None}),
    "profile_create": (facility_kwargs, {"GET": None, "POST": profile_post}),
    "csv_import": (
        facility_kwargs,
        {
            "GET": None,
            "POST": lambda _objects: {"csv_file": SimpleUploadedFile("p.csv", CSV.encode())},
        },
    ),
    "csv_template": (facility_kwargs, {"GET": None}),
    "activity": (facility_kwargs, {"GET": None}),
    "profile_detail": (profile_kwargs, {"GET": None}),
    "profile_edit": (profile_kwargs, {"GET": None, "POST": profile_post}),
    "profile_submit": (profile_kwargs, {"POST": no_data}),
    "lifecycle": (profile_kwargs, {"GET": None, "POST": lambda _objects: {"action": "released"}}),
    "consent_upload": (
        profile_kwargs,
        {
            "GET": None,
            "POST": lambda _objects: {
                "consent_form": SimpleUploadedFile("c.pdf", MINIMAL_PDF),
                "is_confirmed": "on",
            },
        },
    ),
    "consent_download": (profile_kwargs, {"GET": None}),
    "photo_upload": (
        profile_kwargs,
        {
            "GET": None,
            "POST": lambda _objects: {"photos": [SimpleUploadedFile("p.jpg", image_bytes())]},
        },
    ),
    "photo_primary": (photo_kwargs, {"POST": no_data}),
    "photo_delete": (photo_kwargs, {"POST": no_data}),
    "photo_original": (photo_kwargs, {"GET": None}),
}
# Patterns that name no facility, profile or photo. The dashboard lists only
# the liaison's own facilities (test_liaison_portal tests that).
NO_OBJECT = {"dashboard"}

CASES = [(name, method) for name, (_, methods) in TARGETS.items() for method in methods]


@pytest.fixture
def facility_b():
    """Facility B: a profile with a consent form and a photo, and B's own liaison."""
    membership = LiaisonFactory()
    activate_totp(membership.user)
    profile = InmateProfileFactory(facility=membership.facility, status=InmateProfile.Status.DRAFT)
    profile.consent_form.save("consent.pdf", SimpleUploadedFile("c.pdf", MINIMAL_PDF), save=False)
    profile.consent_confirmed_by = membership.user
    profile.consent_confirmed_at = timezone.now()
    profile.save()
    photo = ProfilePhotoFactory(profile=profile)
    return SimpleNamespace(
        facility=membership.facility, profile=profile, photo=photo, liaison=membership.user
    )


@pytest.fixture
def client_a(client, liaison):
    """Signed in as a liaison (with MFA) of facility A only."""
    activate_totp(liaison)
    client.force_login(liaison)
    return client


def request(client, name: str, method: str, objects):
    kwargs_for, methods = TARGETS[name]
    url = reverse(f"liaison:{name}", kwargs=kwargs_for(objects))
    if method == "GET":
        return client.get(url)
    return client.post(url, methods[method](objects))


def test_it_covers_every_liaison_url():
    names = {pattern.name for pattern in liaison_urls.urlpatterns}
    uncovered = names - set(TARGETS) - NO_OBJECT
    assert not uncovered, f"Add these liaison URLs to TARGETS: {sorted(uncovered)}"
    assert set(TARGETS) | NO_OBJECT == names


@pytest.mark.parametrize(("name", "method"), CASES)
def test_it_answers_404_to_a_liaison_of_another_facility(
    client_a, liaison, facility_b, name, method
):
    response = request(client_a, name, method, facility_b)
    assert response.status_code == 404
    # Nothing of B's changed, and nothing was done in A's name.
    facility_b.profile.refresh_from_db()
    assert facility_b.profile.status == InmateProfile.Status.DRAFT
    assert facility_b.profile.display_name != "Intruder"
    assert ProfilePhoto.objects.filter(profile=facility_b.profile).count() == 1
    assert not ProfilePhoto.objects.get(pk=facility_b.photo.pk).is_primary
    assert not InmateProfile.objects.filter(display_name__in=["Intruder", "Zed"]).exists()
    assert not LiaisonAction.objects.filter(actor=liaison).exists()


@pytest.mark.parametrize(("name", "method"), CASES)
def test_it_lets_the_facility_own_liaison_through(client, facility_b, name, method):
    """The control: the same requests from B's liaison are not refused, so the
    404s above come from the access check and not from a broken URL."""
    client.force_login(facility_b.liaison)
    response = request(client, name, method, facility_b)
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("name", ["profile_detail", "consent_download", "photo_original"])
def test_it_answers_the_same_for_missing_objects_as_for_other_facilities(
    client_a, facility_b, name
):
    missing = SimpleNamespace(
        facility=facility_b.facility,
        profile=SimpleNamespace(pk=10**9),
        photo=SimpleNamespace(pk=10**9),
    )
    assert request(client_a, name, "GET", missing).status_code == 404
    assert request(client_a, name, "GET", facility_b).status_code == 404


def test_it_shuts_the_portal_of_an_inactive_facility(client, facility_b):
    facility_b.facility.is_active = False
    facility_b.facility.save()
    client.force_login(facility_b.liaison)
    assert request(client, "facility_dashboard", "GET", facility_b).status_code == 404
    assert request(client, "profile_detail", "GET", facility_b).status_code == 404
