"""One rule and one message for a photo's size, whether the upload form or
the service meets the file first."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from penpals.uploads import too_big
from profiles.forms import PhotoUploadForm
from profiles.limits import photo_refusal
from profiles.models import FacilityLiaison
from profiles.services import PhotoUploadError, check_upload_photo
from tests.factories import InmateProfileFactory


def test_a_size_just_over_the_limit_shows_a_decimal() -> None:
    assert too_big("a.jpg", 15_000_001, 15_000_000) == "a.jpg is 15.0 MB; the limit is 15 MB."
    assert too_big("a.jpg", 100_000_000, 15_000_000) == "a.jpg is 100 MB; the limit is 15 MB."
    assert too_big("a.jpg", 15_000_000, 15_000_000) == ""


@pytest.mark.django_db
@pytest.mark.parametrize("size", [0, settings.PHOTO_MAX_UPLOAD_BYTES + 1])
def test_the_form_and_the_service_refuse_a_photo_in_the_same_words(liaison, size) -> None:
    upload = SimpleUploadedFile("big.jpg", b"\0" * size, content_type="image/jpeg")
    form = PhotoUploadForm(data={}, files={"photos": [upload]})
    profile = InmateProfileFactory(facility=FacilityLiaison.objects.get(user=liaison).facility)

    assert not form.is_valid()
    with pytest.raises(PhotoUploadError) as refused:
        check_upload_photo(liaison, profile, upload)

    assert form.errors["photos"] == [photo_refusal(size, "big.jpg")]
    assert refused.value.messages == [photo_refusal(size)]
    assert photo_refusal(size, "big.jpg").replace("big.jpg", "This file") == photo_refusal(size)
