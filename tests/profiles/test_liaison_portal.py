"""The liaison portal: dashboard, profiles, consent forms, photos, lifecycle, private files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from moderation.models import ModerationItem
from profiles.forms import ProfileForm
from profiles.models import InmateProfile, LiaisonAction, ProfilePhoto
from tests.factories import (
    MINIMAL_PDF,
    FacilityFactory,
    InmateProfileFactory,
    LiaisonFactory,
    ProfilePhotoFactory,
    UserFactory,
    activate_totp,
    image_bytes,
)

pytestmark = pytest.mark.django_db

Status = InmateProfile.Status
Kind = LiaisonAction.Kind


def years_ago(years: int, days: int = 0) -> date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - timedelta(days=days)


def profile_data(**overrides) -> dict:
    data = {
        "display_name": "Marcus",
        "legal_name": "Marcus Aurelius Smith",
        "inmate_number": "B-204511",
        "date_of_birth": years_ago(34).isoformat(),
        "gender": "male",
        "release_kind": "unknown",
        "release_date": "",
        "bio": "  I draw, I read history and I write long letters.  ",
        "interests": "drawing, history,  chess , Chess",
        "seeking": ["friendship", "education"],
        "languages": ["en", "es"],
        "is_accepting_letters": "on",
    }
    data.update(overrides)
    return data


def pdf_upload(name: str = "consent.pdf", content: bytes = MINIMAL_PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def photo_upload(name: str = "photo.jpg", size=(64, 48), image_format="JPEG"):
    return SimpleUploadedFile(name, image_bytes(image_format, size), content_type="image/jpeg")


def with_consent(profile: InmateProfile, user) -> InmateProfile:
    profile.consent_form.save("consent.pdf", SimpleUploadedFile("c.pdf", MINIMAL_PDF), save=False)
    profile.consent_confirmed_by = user
    profile.consent_confirmed_at = timezone.now()
    profile.save()
    return profile


# --- Who may enter ----------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_login_page(client, facility):
    profile = InmateProfileFactory(facility=facility)
    for url in [
        reverse("liaison:dashboard"),
        reverse("liaison:facility_dashboard", args=[facility.slug]),
        reverse("liaison:profile_detail", args=[profile.pk]),
        reverse("liaison:consent_download", args=[profile.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_it_sends_a_liaison_without_mfa_to_set_it_up(client, liaison, facility):
    client.force_login(liaison)
    response = client.get(reverse("liaison:facility_dashboard", args=[facility.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_it_answers_404_to_pen_pals(client, alice, facility):
    profile = InmateProfileFactory(facility=facility)
    client.force_login(alice)
    assert client.get(reverse("liaison:dashboard")).status_code == 404
    assert (
        client.get(reverse("liaison:facility_dashboard", args=[facility.slug])).status_code == 404
    )
    assert client.get(reverse("liaison:profile_detail", args=[profile.pk])).status_code == 404
    assert client.get(reverse("liaison:consent_download", args=[profile.pk])).status_code == 404


def test_it_answers_404_to_staff_who_are_not_liaisons(client, moderator_with_mfa, facility):
    profile = InmateProfileFactory(facility=facility)
    client.force_login(moderator_with_mfa)
    assert client.get(reverse("liaison:dashboard")).status_code == 404
    assert client.get(reverse("liaison:profile_detail", args=[profile.pk])).status_code == 404
    assert client.get(reverse("liaison:profile_edit", args=[profile.pk])).status_code == 404


def test_it_keeps_portal_pages_out_of_caches(liaison_client, facility):
    response = liaison_client.get(reverse("liaison:facility_dashboard", args=[facility.slug]))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


# --- Dashboard ------------------------------------------------------------------------


def test_it_takes_a_liaison_of_one_facility_straight_to_its_dashboard(liaison_client, facility):
    response = liaison_client.get(reverse("liaison:dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("liaison:facility_dashboard", args=[facility.slug])


def test_it_lets_a_liaison_of_several_facilities_choose_one(liaison_client, liaison, facility):
    second = LiaisonFactory(user=liaison, facility__name="Second Facility").facility
    FacilityFactory(name="Somebody Else's Facility")
    InmateProfileFactory(facility=second)
    response = liaison_client.get(reverse("liaison:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("liaison:facility_dashboard", args=[facility.slug]) in page
    assert reverse("liaison:facility_dashboard", args=[second.slug]) in page
    assert "Somebody Else" not in page


def test_it_shows_the_facility_choice_in_a_fixed_number_of_queries(
    liaison_client, liaison, facility
):
    second = LiaisonFactory(user=liaison).facility

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liaison_client.get(reverse("liaison:dashboard")).status_code == 200
        return len(queries)

    InmateProfileFactory(facility=facility)
    one = count_queries()
    for _number in range(19):
        InmateProfileFactory(facility=second)
    assert count_queries() == one


def test_it_shows_profiles_by_status_and_what_needs_action(liaison_client, liaison, facility):
    InmateProfileFactory(facility=facility, display_name="Needsconsent")
    with_consent(InmateProfileFactory(facility=facility, display_name="Readytogo"), liaison)
    InmateProfileFactory.published(
        facility=facility,
        display_name="Expiringsoon",
        expires_at=timezone.localdate() + timedelta(days=5),
    )
    refused = InmateProfileFactory(facility=facility, display_name="Badphoto")
    ProfilePhotoFactory(
        profile=refused, status=ProfilePhoto.Status.REJECTED, status_reason="Blurry"
    )
    ProfilePhotoFactory(profile=refused, status=ProfilePhoto.Status.UPLOADED)
    ProfilePhotoFactory(
        profile=refused,
        status=ProfilePhoto.Status.READY,
        review_status=ProfilePhoto.Review.PENDING,
    )
    response = liaison_client.get(reverse("liaison:facility_dashboard", args=[facility.slug]))
    assert response.status_code == 200
    counts = dict((status.value, count) for status, count in response.context["status_counts"])
    assert counts["draft"] == 3
    assert counts["published"] == 1
    assert response.context["photo_counts"] == {
        "awaiting_processing": 1,
        "awaiting_review": 1,
        "to_replace": 1,
    }
    page = response.content.decode()
    for name in ["Needsconsent", "Readytogo", "Expiringsoon", "Badphoto", "Blurry"]:
        assert name in page


def test_it_shows_the_dashboard_in_a_fixed_number_of_queries(
    liaison_client, liaison, facility, django_assert_max_num_queries
):
    url = reverse("liaison:facility_dashboard", args=[facility.slug])

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liaison_client.get(url).status_code == 200
        return len(queries)

    InmateProfileFactory(facility=facility)
    one = count_queries()
    for _number in range(19):
        profile = InmateProfileFactory(facility=facility)
        ProfilePhotoFactory(profile=profile, status=ProfilePhoto.Status.FAILED)
        LiaisonAction.objects.create(
            actor=liaison, facility=facility, profile=profile, kind=Kind.PROFILE_CREATED
        )
    assert count_queries() == one
    with django_assert_max_num_queries(16):
        liaison_client.get(url)


def test_it_lists_profiles_in_a_fixed_number_of_queries(
    liaison_client, facility, django_assert_max_num_queries
):
    url = reverse("liaison:profile_list", args=[facility.slug])

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liaison_client.get(url).status_code == 200
        return len(queries)

    ProfilePhotoFactory(profile=InmateProfileFactory(facility=facility))
    one = count_queries()
    for _number in range(19):
        ProfilePhotoFactory(profile=InmateProfileFactory(facility=facility))
    assert count_queries() == one
    with django_assert_max_num_queries(10):
        response = liaison_client.get(url)
    assert len(response.context["page"]) == 20


def test_it_filters_the_profile_list_by_status_and_search(liaison_client, facility):
    InmateProfileFactory(facility=facility, display_name="Draftdan", inmate_number="X1")
    InmateProfileFactory.published(facility=facility, display_name="Publishedpat")
    InmateProfileFactory(display_name="Elsewhere")  # another facility
    url = reverse("liaison:profile_list", args=[facility.slug])
    page = liaison_client.get(url).content.decode()
    assert "Draftdan" in page and "Publishedpat" in page and "Elsewhere" not in page
    page = liaison_client.get(url, {"status": "published"}).content.decode()
    assert "Publishedpat" in page and "Draftdan" not in page
    page = liaison_client.get(url, {"q": "x1"}).content.decode()
    assert "Draftdan" in page and "Publishedpat" not in page


# --- Creating and editing ------------------------------------------------------------------


def test_it_creates_a_draft_profile(liaison_client, liaison, facility):
    response = liaison_client.post(
        reverse("liaison:profile_create", args=[facility.slug]), profile_data()
    )
    profile = InmateProfile.objects.get(facility=facility)
    assert response.status_code == 302
    assert response["Location"] == reverse("liaison:profile_detail", args=[profile.pk])
    assert profile.status == Status.DRAFT
    assert profile.display_name == "Marcus"
    assert profile.bio == "I draw, I read history and I write long letters."
    assert profile.interests == ["drawing", "history", "chess"]
    assert profile.seeking == ["friendship", "education"]
    assert profile.languages == ["en", "es"]
    assert profile.is_accepting_letters is True
    assert profile.release_date is None
    action = LiaisonAction.objects.get(profile=profile)
    assert (action.actor, action.kind, action.facility) == (liaison, Kind.PROFILE_CREATED, facility)


def test_it_shows_the_empty_create_form(liaison_client, facility):
    response = liaison_client.get(reverse("liaison:profile_create", args=[facility.slug]))
    assert response.status_code == 200
    assert "<legend>Languages</legend>" in response.content.decode()


def test_it_refuses_an_inmate_number_already_used_at_the_facility(liaison_client, facility):
    InmateProfileFactory(facility=facility, inmate_number="B-204511")
    InmateProfileFactory(inmate_number="C-1")  # another facility's number is no clash
    url = reverse("liaison:profile_create", args=[facility.slug])
    response = liaison_client.post(url, profile_data())
    assert response.status_code == 200
    assert response.context["form"].errors["inmate_number"] == [
        f"Another profile at {facility.name} already has inmate number B-204511."
    ]
    assert liaison_client.post(url, profile_data(inmate_number="C-1")).status_code == 302


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": years_ago(17)}, "date_of_birth", "at least 18 years old"),
        ({"date_of_birth": years_ago(-1)}, "date_of_birth", "cannot be in the future"),
        ({"date_of_birth": "12/04/1980"}, "date_of_birth", "Enter a valid date"),
        ({"release_kind": "date"}, "release_date", "Enter the release date"),
        ({"release_date": "2035-01-01"}, "release_date", "Leave the release date empty"),
        (
            {"release_kind": "date", "release_date": "2001-01-01"},
            "release_date",
            "more than 90 days ago",
        ),
        ({"bio": "x" * 4001}, "bio", "at most 4000 characters"),
        ({"interests": "x" * 41}, "interests", "at most 40 characters"),
        ({"interests": ",".join(f"i{n}" for n in range(21))}, "interests", "at most 20"),
        ({"languages": []}, "languages", "at least one language"),
        ({"seeking": ["money"]}, "seeking", "not one of the available choices"),
        ({"inmate_number": "=cmd|' /C calc'!A0"}, "inmate_number", "letters, digits"),
        ({"display_name": "   "}, "display_name", "required"),
        ({"gender": "robot"}, "gender", "not one of the available choices"),
    ],
)
def test_it_validates_every_profile_rule(facility, overrides, field, message):
    form = ProfileForm(profile_data(**overrides), facility=facility)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_it_accepts_an_adult_turned_18_today_and_a_recent_release_date(facility):
    form = ProfileForm(
        profile_data(
            date_of_birth=years_ago(18).isoformat(),
            release_kind="date",
            release_date=(timezone.localdate() - timedelta(days=30)).isoformat(),
        ),
        facility=facility,
    )
    assert form.is_valid(), form.errors


def test_it_edits_a_draft_at_once(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility, inmate_number="B-204511")
    response = liaison_client.post(
        reverse("liaison:profile_edit", args=[profile.pk]),
        profile_data(bio="A new bio.", release_kind="life"),
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.bio == "A new bio."
    assert profile.release_kind == "life"
    action = LiaisonAction.objects.get(profile=profile, kind=Kind.PROFILE_UPDATED)
    assert "bio" in action.detail["fields"]


def test_it_holds_public_text_of_a_listed_profile_for_review(liaison_client, facility):
    profile = InmateProfileFactory.published(
        facility=facility, inmate_number="B-204511", display_name="Marcus", bio="Approved bio."
    )
    url = reverse("liaison:profile_edit", args=[profile.pk])
    data = profile_data(bio="Unreviewed bio.", is_accepting_letters="")
    response = liaison_client.post(url, data, follow=True)
    assert "wait for a moderator" in response.content.decode()
    profile.refresh_from_db()
    assert profile.bio == "Approved bio."
    assert profile.pending_changes["bio"] == "Unreviewed bio."
    assert profile.is_accepting_letters is False  # not reviewed text: applies at once
    item = ModerationItem.objects.for_object(profile).get()
    assert item.kind == ModerationItem.Kind.PROFILE_CHANGE
    page = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk]))
    assert "Changes waiting for review" in page.content.decode()
    assert sorted(page.context["pending_changes"]) == [
        ("Bio", "Unreviewed bio."),
        ("Interests", "drawing, history, chess"),
    ]
    # The form shows what the liaison last wrote, not the approved text.
    assert liaison_client.get(url).context["form"].initial["bio"] == "Unreviewed bio."
    # Saving the same again is no new change.
    count = LiaisonAction.objects.filter(kind=Kind.PROFILE_UPDATED).count()
    liaison_client.post(url, data)
    assert LiaisonAction.objects.filter(kind=Kind.PROFILE_UPDATED).count() == count


def test_it_does_not_edit_a_released_profile(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility, status=Status.RELEASED)
    url = reverse("liaison:profile_edit", args=[profile.pk])
    response = liaison_client.post(url, profile_data(bio="Changed"), follow=True)
    assert "can no longer be changed" in response.content.decode()
    profile.refresh_from_db()
    assert profile.bio != "Changed"


def test_it_shows_a_profile_with_its_photos_history_and_actions(liaison_client, liaison, facility):
    profile = InmateProfileFactory(facility=facility, legal_name="Private <Name>")
    ProfilePhotoFactory(profile=profile, is_primary=True)
    LiaisonAction.objects.create(
        actor=liaison, facility=facility, profile=profile, kind=Kind.PROFILE_CREATED
    )
    response = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk]))
    page = response.content.decode()
    assert "Private &lt;Name&gt;" in page  # escaped
    assert "Primary photo" in page
    assert "Created a profile" in page
    assert str(liaison) in page  # who did it, as their colleagues see them
    assert reverse("liaison:profile_submit", args=[profile.pk]) in page
    assert reverse("liaison:lifecycle", args=[profile.pk]) in page


# --- Consent form and submission -------------------------------------------------------------


def test_it_stores_a_signed_consent_form_privately(liaison_client, liaison, facility):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]),
        {"consent_form": pdf_upload("My Scan.PDF"), "is_confirmed": "on"},
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.has_confirmed_consent
    assert profile.consent_confirmed_by == liaison
    assert profile.consent_form.name.startswith(f"consent-forms/{facility.pk}/")
    assert profile.consent_form.name.endswith(".pdf")
    assert "Scan" not in profile.consent_form.name
    # Stored under the private root, which has no URL (compare paths, not
    # storage objects: other tests' override_settings rebuild the handler's).
    stored_at = Path(profile.consent_form.path)
    assert stored_at.is_relative_to(settings.PRIVATE_MEDIA_ROOT)
    assert not stored_at.is_relative_to(settings.MEDIA_ROOT)
    assert profile.consent_form.read() == MINIMAL_PDF
    kinds = set(LiaisonAction.objects.filter(profile=profile).values_list("kind", flat=True))
    assert kinds == {Kind.CONSENT_UPLOADED, Kind.CONSENT_CONFIRMED}


def test_it_names_a_consent_form_by_its_content_not_its_name(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]),
        {
            "consent_form": SimpleUploadedFile("form.pdf", image_bytes("PNG")),
            "is_confirmed": "on",
        },
    )
    profile.refresh_from_db()
    assert profile.consent_form.name.endswith(".png")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("form.pdf", b"MZ\x90\x00 an executable"), "not a PDF, JPEG or PNG"),
        (SimpleUploadedFile("form.html", b"<html><script>alert(1)</script>"), "not a PDF"),
        (SimpleUploadedFile("form.pdf", MINIMAL_PDF[:60]), "looks incomplete"),
        (SimpleUploadedFile("form.jpg", image_bytes("JPEG")[:40]), "damaged"),
        (SimpleUploadedFile("form.pdf", b""), "empty"),
    ],
)
def test_it_refuses_a_consent_form_that_is_not_a_pdf_or_image(
    liaison_client, facility, upload, message
):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]),
        {"consent_form": upload, "is_confirmed": "on"},
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["consent_form"])
    profile.refresh_from_db()
    assert not profile.consent_form


@override_settings(CONSENT_FORM_MAX_UPLOAD_BYTES=100)
def test_it_refuses_a_consent_form_over_the_size_limit(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]),
        {"consent_form": pdf_upload(content=MINIMAL_PDF + b" " * 200), "is_confirmed": "on"},
    )
    assert "the limit is" in " ".join(response.context["form"].errors["consent_form"])


def test_it_requires_the_liaison_to_confirm_the_signature(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]), {"consent_form": pdf_upload()}
    )
    assert response.context["form"].errors["is_confirmed"] == [
        "Confirm that the form is signed by the person named."
    ]
    profile.refresh_from_db()
    assert not profile.consent_form


def test_it_does_not_submit_a_profile_without_a_confirmed_consent_form(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:profile_submit", args=[profile.pk]), follow=True
    )
    assert "Upload the signed consent form" in response.content.decode()
    profile.refresh_from_db()
    assert profile.status == Status.DRAFT
    assert not ModerationItem.objects.for_object(profile).exists()


def test_it_submits_a_profile_with_a_confirmed_consent_form(liaison_client, liaison, facility):
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    response = liaison_client.post(reverse("liaison:profile_submit", args=[profile.pk]))
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == Status.PENDING_REVIEW
    assert ModerationItem.objects.for_object(profile).get().kind == ModerationItem.Kind.PROFILE


def test_it_only_submits_by_post(liaison_client, liaison, facility):
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    assert (
        liaison_client.get(reverse("liaison:profile_submit", args=[profile.pk])).status_code == 405
    )


# --- Photos -----------------------------------------------------------------------------------


def test_it_uploads_several_photos_and_queues_their_processing(
    liaison_client, facility, django_capture_on_commit_callbacks
):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")  # this test process's own broker database
    profile = InmateProfileFactory(facility=facility)
    with django_capture_on_commit_callbacks(execute=True):
        response = liaison_client.post(
            reverse("liaison:photo_upload", args=[profile.pk]),
            {"photos": [photo_upload("a.jpg", (40, 40)), photo_upload("b.jpg", (50, 40))]},
        )
    assert response.status_code == 302
    photos = list(profile.photos.order_by("pk"))
    assert len(photos) == 2
    assert all(photo.status == ProfilePhoto.Status.UPLOADED for photo in photos)
    # The tasks really reached the broker, one per photo.
    queued = [json.loads(message)["headers"] for message in broker.lrange("celery", 0, -1)]
    # Compared as sets: sorted as text, "(100,)" comes before "(99,)".
    assert {
        headers["argsrepr"]
        for headers in queued
        if headers["task"] == "profiles.tasks.process_photo"
    } == {f"({photos[0].pk},)", f"({photos[1].pk},)"}
    assert LiaisonAction.objects.filter(profile=profile, kind=Kind.PHOTO_UPLOADED).count() == 2


def test_it_reports_a_photo_uploaded_twice(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    url = reverse("liaison:photo_upload", args=[profile.pk])
    liaison_client.post(url, {"photos": [photo_upload("a.jpg")]})
    response = liaison_client.post(url, {"photos": [photo_upload("again.jpg")]}, follow=True)
    assert profile.photos.count() == 1
    assert "Already uploaded for this person: again.jpg" in response.content.decode()


def test_it_refuses_empty_and_too_many_photos(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    url = reverse("liaison:photo_upload", args=[profile.pk])
    response = liaison_client.post(url, {"photos": [SimpleUploadedFile("empty.jpg", b"")]})
    assert response.status_code == 200
    assert response.context["form"].errors["photos"]
    response = liaison_client.post(
        url, {"photos": [photo_upload(f"{n}.jpg", (10 + n, 10)) for n in range(11)]}
    )
    assert "at most 10 photos" in " ".join(response.context["form"].errors["photos"])
    response = liaison_client.post(url, {})
    assert response.context["form"].errors["photos"] == ["Choose at least one photo."]
    assert not profile.photos.exists()


@override_settings(PHOTO_MAX_UPLOAD_BYTES=200)
def test_it_refuses_a_photo_over_the_size_limit(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:photo_upload", args=[profile.pk]),
        {"photos": [photo_upload("big.jpg", (300, 300))]},
    )
    assert "big.jpg is" in " ".join(response.context["form"].errors["photos"])
    assert not profile.photos.exists()


def test_it_chooses_the_primary_photo(liaison_client, liaison, facility):
    profile = InmateProfileFactory(facility=facility)
    first = ProfilePhotoFactory(profile=profile, is_primary=True)
    second = ProfilePhotoFactory(profile=profile)
    response = liaison_client.post(reverse("liaison:photo_primary", args=[second.pk]))
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (False, True)
    assert LiaisonAction.objects.get(kind=Kind.PHOTO_PRIMARY).detail == {"photo": second.pk}


def test_it_deletes_a_photo(liaison_client, facility, django_capture_on_commit_callbacks):
    profile = InmateProfileFactory(facility=facility)
    photo = ProfilePhotoFactory(profile=profile)
    storage, name = photo.original.storage, photo.original.name
    with django_capture_on_commit_callbacks(execute=True):
        response = liaison_client.post(reverse("liaison:photo_delete", args=[photo.pk]))
    assert response.status_code == 302
    assert not profile.photos.exists()
    assert not storage.exists(name)
    assert LiaisonAction.objects.filter(profile=profile, kind=Kind.PHOTO_DELETED).exists()


# --- Lifecycle -------------------------------------------------------------------------------


def test_it_marks_a_person_released_and_takes_the_profile_out_of_the_directory(
    liaison_client, facility
):
    profile = InmateProfileFactory.published(facility=facility)
    response = liaison_client.post(
        reverse("liaison:lifecycle", args=[profile.pk]), {"action": "released"}
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == Status.RELEASED
    assert not InmateProfile.objects.published().filter(pk=profile.pk).exists()
    assert LiaisonAction.objects.filter(profile=profile, kind=Kind.RELEASED).exists()


def test_it_marks_a_person_transferred_to_another_facility_on_the_service(liaison_client, facility):
    destination = FacilityFactory(name="Destination Facility")
    FacilityFactory(name="Closed Facility", is_active=False)
    profile = InmateProfileFactory.published(facility=facility)
    url = reverse("liaison:lifecycle", args=[profile.pk])
    page = liaison_client.get(url).content.decode()
    assert "Destination Facility" in page
    assert "Closed Facility" not in page
    response = liaison_client.post(url, {"action": "transferred", "destination": destination.pk})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == Status.TRANSFERRED
    assert profile.transferred_to == destination
    action = LiaisonAction.objects.get(profile=profile, kind=Kind.TRANSFERRED)
    assert action.detail == {"transferred_to": destination.slug}
    assert not InmateProfile.objects.published().filter(pk=profile.pk).exists()


def test_it_marks_a_person_transferred_outside_the_service(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    url = reverse("liaison:lifecycle", args=[profile.pk])
    response = liaison_client.post(url, {"action": "transferred"})
    assert response.context["form"].errors["destination"] == [
        "Choose where the person was transferred to."
    ]
    response = liaison_client.post(url, {"action": "transferred", "destination": "outside"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.status, profile.transferred_to) == (Status.TRANSFERRED, None)
    action = LiaisonAction.objects.get(profile=profile, kind=Kind.TRANSFERRED)
    assert action.detail == {"transferred_to": "outside the service"}


def test_it_refuses_a_transfer_to_the_same_facility(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    response = liaison_client.post(
        reverse("liaison:lifecycle", args=[profile.pk]),
        {"action": "transferred", "destination": facility.pk},
    )
    assert response.status_code == 200  # not offered, so not a valid choice
    profile.refresh_from_db()
    assert profile.status == Status.DRAFT


def test_it_pauses_resumes_and_renews_a_listing(liaison_client, facility):
    profile = InmateProfileFactory.published(
        facility=facility, expires_at=timezone.localdate() + timedelta(days=3)
    )
    url = reverse("liaison:lifecycle", args=[profile.pk])
    assert liaison_client.post(url, {"action": "paused"}).status_code == 302
    profile.refresh_from_db()
    assert profile.status == Status.PAUSED
    assert liaison_client.post(url, {"action": "resumed"}).status_code == 302
    assert liaison_client.post(url, {"action": "renewed"}).status_code == 302
    profile.refresh_from_db()
    assert profile.status == Status.PUBLISHED
    assert profile.expires_at > timezone.localdate() + timedelta(days=360)
    kinds = list(
        LiaisonAction.objects.filter(profile=profile).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == [Kind.PAUSED, Kind.RESUMED, Kind.RENEWED]


def test_it_offers_only_the_actions_a_status_allows(liaison_client, facility):
    draft = InmateProfileFactory(facility=facility)
    url = reverse("liaison:lifecycle", args=[draft.pk])
    choices = [
        value for value, _ in liaison_client.get(url).context["form"].fields["action"].choices
    ]
    assert choices == ["released", "transferred"]
    response = liaison_client.post(url, {"action": "paused"})
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


# --- Private files -----------------------------------------------------------------------------


def test_it_streams_the_consent_form_as_a_private_download(liaison_client, liaison, facility):
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    response = liaison_client.get(reverse("liaison:consent_download", args=[profile.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == MINIMAL_PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="consent-form-{profile.pk}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_it_streams_a_photo_original_as_a_private_download(liaison_client, facility):
    photo = ProfilePhotoFactory(profile=InmateProfileFactory(facility=facility))
    response = liaison_client.get(reverse("liaison:photo_original", args=[photo.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_it_answers_404_when_there_is_no_consent_form(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    assert (
        liaison_client.get(reverse("liaison:consent_download", args=[profile.pk])).status_code
        == 404
    )


def test_it_lets_a_moderator_with_mfa_download_photos_but_never_a_consent_form(
    client, moderator_with_mfa, liaison
):
    facility = liaison.facility_memberships.get().facility
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    photo = ProfilePhotoFactory(profile=profile)
    client.force_login(moderator_with_mfa)
    assert client.get(reverse("liaison:photo_original", args=[photo.pk])).status_code == 200
    # The same answer as for a profile that does not exist: nothing to learn.
    assert client.get(reverse("liaison:consent_download", args=[profile.pk])).status_code == 404
    assert client.get(reverse("liaison:consent_download", args=[10**9])).status_code == 404


def test_it_lets_a_superuser_with_mfa_download_a_consent_form(client, liaison):
    facility = liaison.facility_memberships.get().facility
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    activate_totp(superuser)
    client.force_login(superuser)
    assert client.get(reverse("liaison:consent_download", args=[profile.pk])).status_code == 200


def test_it_asks_staff_without_mfa_to_set_it_up_before_a_download(client, moderator, liaison):
    facility = liaison.facility_memberships.get().facility
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    client.force_login(moderator)
    response = client.get(reverse("liaison:consent_download", args=[profile.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_it_never_serves_private_files_from_the_public_media_url(client, liaison, facility):
    profile = with_consent(InmateProfileFactory(facility=facility), liaison)
    photo = ProfilePhotoFactory(profile=profile)
    for name in [profile.consent_form.name, photo.original.name]:
        assert client.get(f"/media/{name}").status_code == 404
