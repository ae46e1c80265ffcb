"""Photos after processing: re-uploading a failed one, and rejection removing public copies."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation.models import ModerationItem
from moderation.services import current_version, do_decide, submit_for_review
from profiles.models import ProfilePhoto
from profiles.services import check_upload_photo
from tests.factories import InmateProfileFactory, add_public_photo, image_bytes
from tests.utils import task_sends

pytestmark = pytest.mark.django_db


def test_it_processes_a_failed_photo_again_when_it_is_uploaded_again(
    liaison, django_capture_on_commit_callbacks
):
    profile = InmateProfileFactory()
    data = image_bytes("JPEG")
    photo, created = check_upload_photo(liaison, profile, SimpleUploadedFile("a.jpg", data))
    assert created
    ProfilePhoto.objects.filter(pk=photo.pk).update(
        status="failed", status_reason="Processing failed"
    )

    with django_capture_on_commit_callbacks() as callbacks:
        again, created = check_upload_photo(liaison, profile, SimpleUploadedFile("a.jpg", data))
    assert (again.pk, created) == (photo.pk, False)
    again.refresh_from_db()
    assert (again.status, again.status_reason) == ("uploaded", "")
    assert len(task_sends(callbacks)) == 1  # processing queued once more


def test_it_removes_the_public_copies_of_a_rejected_photo(
    moderator, django_capture_on_commit_callbacks
):
    profile = InmateProfileFactory.published()
    public = storages["default"]
    display = public.save("photos/display/test-reject.webp", ContentFile(b"display"))
    thumbnail = public.save("photos/thumbs/test-reject.webp", ContentFile(b"thumb"))
    photo = add_public_photo(profile, display=display, thumbnail=thumbnail)
    item = submit_for_review(photo, ModerationItem.Kind.PHOTO, facility=profile.facility)

    with django_capture_on_commit_callbacks(execute=True):
        do_decide(
            item.pk,
            moderator,
            approve=False,
            seen_version=current_version(item),
            reason_code="other",
        )

    photo.refresh_from_db()
    profile.refresh_from_db()
    assert photo.review_status == "rejected"
    assert not photo.display and not photo.thumbnail
    assert not public.exists(display) and not public.exists(thumbnail)
    assert photo.original  # the private original stays for the audit trail
    assert profile.primary_photo is None
