"""Private files (consent forms, letter scans, photo originals) have no URL of
their own: a guessed /media/ path does not serve them, and the public photo
URLs are processed renditions only, never the original.

Which views do serve them, and to whom, is in test_authorisation_matrix.py
(every URL as every role, with a check that no other response carries them).
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from PIL import Image

from penpals.storage import PrivateFileHasNoURL, PrivateFileSystemStorage
from tests.factories import PASSWORD, PenPalFactory, activate_totp
from tests.security.conftest import CONSENT_MARKER, ORIGINAL_MARKER, SCAN_MARKER

pytestmark = pytest.mark.django_db


def private_files(world):
    return {
        "consent form": world.profile.consent_form,
        "photo original": world.photo.original,
        "letter scan": world.scan.file,
    }


def test_private_files_live_in_private_storage_without_a_url(world):
    for label, field_file in private_files(world).items():
        storage = field_file.storage
        assert isinstance(storage, PrivateFileSystemStorage), label
        location = Path(storage.location).resolve()
        assert not location.is_relative_to(Path(settings.MEDIA_ROOT).resolve()), label
        with pytest.raises(PrivateFileHasNoURL):
            field_file.url  # noqa: B018  (the property is what is tested)


@pytest.mark.parametrize("role", ["anonymous", "pen_pal_a", "liaison_x", "admin"])
def test_a_guessed_media_url_does_not_serve_a_private_file(client, world, role):
    if world.users[role] is not None:
        client.force_login(world.users[role])
    # The private root's path as seen from the public root, for a "../" walk out of it.
    private_root = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    escape = os.path.relpath(private_root, Path(settings.MEDIA_ROOT).resolve())
    for label, field_file in private_files(world).items():
        assert field_file.storage.exists(field_file.name), label
        for guess in (
            f"{settings.MEDIA_URL}{field_file.name}",
            f"{settings.MEDIA_URL}{escape}/{field_file.name}",
            f"{settings.MEDIA_URL}{escape.replace('..', '%2e%2e')}/{field_file.name}",
            f"{settings.MEDIA_URL}{private_root}/{field_file.name}",
        ):
            response = client.get(guess)
            assert response.status_code in (400, 404), (label, guess, response.status_code)


def test_public_photo_urls_serve_processed_renditions_only(client, world):
    html = client.get(reverse("directory:profile", args=[world.profile.slug])).content.decode()
    media_urls = set(re.findall(rf'src="({re.escape(settings.MEDIA_URL)}[^"]+)"', html))
    assert media_urls, "the profile page shows its photo"
    with world.photo.original.open("rb") as original_file:
        original = original_file.read()
    assert ORIGINAL_MARKER.encode() in original  # the control: the original carries it
    for url in media_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        served = b"".join(response.streaming_content)
        assert served != original
        assert ORIGINAL_MARKER.encode() not in served, url  # metadata stripped
        image = Image.open(io.BytesIO(served))
        assert image.format == "WEBP", url  # re-encoded by the pipeline
        assert not image.getexif(), url
    # The page names the renditions, never the original's private name.
    assert world.photo.original.name not in html
    assert {world.photo.display.name, world.photo.thumbnail.name} >= {
        url.removeprefix(settings.MEDIA_URL) for url in media_urls
    }


def test_public_storage_holds_no_private_file(world):
    """Nothing under MEDIA_ROOT (what /media/ serves) carries a private file's content."""
    markers = (CONSENT_MARKER, SCAN_MARKER, ORIGINAL_MARKER.encode())
    for path in Path(settings.MEDIA_ROOT).rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            content = path.read_bytes()
            assert not any(marker in content for marker in markers), path


FILE_VIEWS = {
    "liaison:consent_download": lambda w: {"profile_id": w.profile.pk},
    "liaison:photo_original": lambda w: {"photo_id": w.photo.pk},
    "letters:scan": lambda w: {"pk": w.scan.pk},
}


@pytest.mark.parametrize("name", FILE_VIEWS)
def test_staff_outside_the_moderators_group_do_not_get_private_files(client, world, name):
    """The admin refuses a staff member who is in no group (403 everywhere, see
    tests/moderation/test_permissions.py); the file views must not be a way round."""
    staff = PenPalFactory(is_staff=True)
    activate_totp(staff)
    client.force_login(staff)
    assert client.get(reverse(name, kwargs=FILE_VIEWS[name](world))).status_code == 404


def test_pen_pal_b_gets_only_their_own_favourites_and_export(client, world):
    """Saved profiles and the data export name no object: B asking for them
    gets B's, none of A's."""
    pen_pal_b = world.users["pen_pal_b"]
    client.force_login(pen_pal_b)
    saved = client.get(reverse("directory:saved"))
    assert saved.status_code == 200
    assert world.profile.slug not in saved.content.decode()
    client.force_login(world.users["pen_pal_a"])  # the control: A's page lists it
    assert world.profile.slug in client.get(reverse("directory:saved")).content.decode()
    client.force_login(pen_pal_b)
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("account_export"))
    assert response.status_code == 200
    export = response.content.decode()
    assert json.loads(export)["penpals"]["email"] == pen_pal_b.email
    for secret in (
        world.users["pen_pal_a"].email,
        world.correspondence.code,
        world.outbound.body,
        world.profile.slug,
    ):
        assert secret not in export


def test_the_admin_links_admins_to_the_checked_consent_download(client, world):
    """Private storage has no URL, so the profile's admin page links to the
    access-checked view (it used to fail with a 500 asking for the URL)."""
    change_url = reverse("admin:profiles_inmateprofile_change", args=[world.profile.pk])
    download_url = reverse("liaison:consent_download", args=[world.profile.pk])
    client.force_login(world.users["admin"])
    assert f'href="{download_url}"' in client.get(change_url).content.decode()
    client.force_login(world.users["moderator"])  # moderators review public text only
    page = client.get(change_url)
    assert page.status_code == 200
    assert download_url not in page.content.decode()
