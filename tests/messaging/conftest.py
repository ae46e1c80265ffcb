import pytest

from messaging.models import LetterScan
from tests.factories import InmateProfileFactory, activate_totp


@pytest.fixture
def profile(db):
    """A published profile accepting letters, in a facility where a person reviews every letter."""
    return InmateProfileFactory.published(display_name="Marcus", legal_name="Marcus T. Legalname")


@pytest.fixture
def facility(liaison):
    """The one facility the `liaison` fixture belongs to."""
    return liaison.facility_memberships.get().facility


@pytest.fixture
def liaison_client(client, liaison):
    """A client logged in as the liaison, with MFA set up (the portal requires it)."""
    activate_totp(liaison)
    client.force_login(liaison)
    return client


@pytest.fixture
def private_dir(tmp_path, settings, monkeypatch):
    """Private storage (scans, PDFs) in a folder of this test's own, so every stored
    file is seen. Modules opt in with `pytest.mark.usefixtures("private_dir")`."""
    from django.core.files.storage import storages

    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "penpals.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    monkeypatch.setattr(LetterScan._meta.get_field("file"), "storage", storages["private"])
    return location
