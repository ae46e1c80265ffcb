from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.template import Context, Template

from penpals.storage import PrivateFileHasNoURL
from profiles.models import InmateProfile


def test_it_gives_local_private_files_no_url():
    storage = storages["private"]
    name = storage.save("tests/secret.txt", ContentFile(b"consent"))
    try:
        with pytest.raises(PrivateFileHasNoURL):
            storage.url(name)
        # A template that asks for the URL renders nothing rather than failing.
        profile = InmateProfile(consent_form=name)
        rendered = Template("[{{ profile.consent_form.url }}]").render(
            Context({"profile": profile})
        )
        assert rendered == "[]"
    finally:
        storage.delete(name)
