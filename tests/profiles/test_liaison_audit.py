"""Every liaison action leaves an audit record: who, what, when, on which profile."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from penpals.services import do_delete_account
from profiles.models import InmateProfile, LiaisonAction
from tests.factories import (
    MINIMAL_PDF,
    FacilityFactory,
    InmateProfileFactory,
    LiaisonFactory,
    image_bytes,
)

pytestmark = pytest.mark.django_db

Kind = LiaisonAction.Kind
MOMENT = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)

CSV = (
    "inmate_number,legal_name,display_name,date_of_birth,gender,release_kind,release_date,"
    "bio,interests,seeking,languages,accepting_letters\n"
    "Z-1,Zora Zane,Zora,1980-01-01,female,unknown,,Hello,,,en,yes\n"
)


def post(client, name: str, pk: int, data=None) -> None:
    response = client.post(reverse(f"liaison:{name}", args=[pk]), data or {})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_it_records_who_did_what_and_when_for_every_kind_of_action(
    liaison_client, liaison, facility
):
    """Works every portal action once; a new kind of action that no page
    records fails here."""
    destination = FacilityFactory()
    with time_machine.travel(MOMENT, tick=False):
        response = liaison_client.post(
            reverse("liaison:profile_create", args=[facility.slug]),
            {
                "display_name": "Ada",
                "legal_name": "Ada Lovelace",
                "inmate_number": "AL-1",
                "date_of_birth": "1985-12-10",
                "gender": "female",
                "release_kind": "unknown",
                "languages": ["en"],
            },
        )
        assert response.status_code == 302
        profile = InmateProfile.objects.get(inmate_number="AL-1")
        edited = {
            "display_name": "Ada",
            "legal_name": "Ada Lovelace",
            "inmate_number": "AL-1",
            "date_of_birth": "1985-12-10",
            "gender": "female",
            "release_kind": "life",
            "bio": "Numbers and poems.",
            "languages": ["en"],
        }
        post(liaison_client, "profile_edit", profile.pk, edited)
        post(
            liaison_client,
            "consent_upload",
            profile.pk,
            {"consent_form": SimpleUploadedFile("c.pdf", MINIMAL_PDF), "is_confirmed": "on"},
        )
        download = liaison_client.get(reverse("liaison:consent_download", args=[profile.pk]))
        assert download.status_code == 200
        post(liaison_client, "profile_submit", profile.pk)
        post(
            liaison_client,
            "photo_upload",
            profile.pk,
            {"photos": [SimpleUploadedFile("a.jpg", image_bytes(size=(30, 30)))]},
        )
        photo = profile.photos.get()
        download = liaison_client.get(reverse("liaison:photo_original", args=[photo.pk]))
        assert download.status_code == 200
        post(liaison_client, "photo_primary", photo.pk)
        post(liaison_client, "photo_delete", photo.pk)
        listed = InmateProfileFactory.published(facility=facility)
        for action in ["paused", "resumed", "renewed", "released"]:
            post(liaison_client, "lifecycle", listed.pk, {"action": action})
        moved = InmateProfileFactory(facility=facility)
        post(
            liaison_client,
            "lifecycle",
            moved.pk,
            {"action": "transferred", "destination": destination.pk},
        )
        response = liaison_client.post(
            reverse("liaison:csv_import", args=[facility.slug]),
            {"csv_file": SimpleUploadedFile("people.csv", CSV.encode())},
        )
        assert response.status_code == 200

    actions = list(LiaisonAction.objects.all())
    # Letter kinds are recorded by the letters portal; tests/messaging checks each
    # of them (scanning runs and triage: test_intake.py; returns: test_returns.py).
    # No-contact orders: tests/moderation/test_reports_and_orders.py.
    elsewhere = {
        Kind.LETTERS_PRINTED, Kind.LETTERS_DELIVERED, Kind.REPLY_UPLOADED, Kind.SCAN_DOWNLOADED,
        Kind.SCAN_RUN_UPLOADED, Kind.SCAN_PAGE_ASSIGNED, Kind.SCAN_PAGE_DISCARDED,
        Kind.LETTER_RETURNED, Kind.NO_CONTACT_ORDER,
    }  # fmt: skip
    assert {action.kind for action in actions} == set(Kind.values) - elsewhere
    for action in actions:
        assert action.actor == liaison
        assert action.facility == facility
        assert action.created_at == MOMENT
        if action.kind != Kind.CSV_IMPORTED:
            assert action.profile is not None
    assert LiaisonAction.objects.get(kind=Kind.PROFILE_UPDATED).detail == {
        "fields": ["bio", "release_kind"]
    }
    assert LiaisonAction.objects.get(kind=Kind.TRANSFERRED).profile == moved
    assert LiaisonAction.objects.get(kind=Kind.CSV_IMPORTED).detail["filename"] == "people.csv"


def test_it_records_nothing_when_an_action_is_refused(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)  # no consent form
    liaison_client.post(reverse("liaison:profile_submit", args=[profile.pk]))
    liaison_client.post(reverse("liaison:lifecycle", args=[profile.pk]), {"action": "paused"})
    liaison_client.post(
        reverse("liaison:consent_upload", args=[profile.pk]),
        {"consent_form": SimpleUploadedFile("c.pdf", b"not a pdf"), "is_confirmed": "on"},
    )
    assert not LiaisonAction.objects.exists()


def test_it_shows_a_profile_history_newest_first(liaison_client, liaison, facility):
    profile = InmateProfileFactory(facility=facility)
    colleague = LiaisonFactory(facility=facility, user__display_name="Colleague Ana").user
    with time_machine.travel(datetime(2026, 1, 2, 10, 0, tzinfo=UTC), tick=False):
        LiaisonAction.objects.create(
            actor=liaison, facility=facility, profile=profile, kind=Kind.PROFILE_CREATED
        )
    with time_machine.travel(datetime(2026, 1, 3, 11, 30, tzinfo=UTC), tick=False):
        LiaisonAction.objects.create(
            actor=colleague,
            facility=facility,
            profile=profile,
            kind=Kind.PROFILE_UPDATED,
            detail={"fields": ["bio", "is_accepting_letters"]},
        )
    page = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk])).content.decode()
    history = page[page.index('id="history-heading"') :]
    # Colleagues are named as they name themselves.
    assert history.index("Colleague Ana") < history.index(str(liaison))
    assert "2026-01-03 11:30" in history
    assert "Updated a profile" in history
    assert "Changed: Bio, Accepting new letters" in history


def test_it_keeps_the_record_of_a_liaison_whose_account_was_deleted(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    former = LiaisonFactory(facility=facility).user
    LiaisonAction.objects.create(
        actor=former, facility=facility, profile=profile, kind=Kind.RELEASED
    )
    do_delete_account(former)
    page = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk])).content.decode()
    assert "Marked released" in page
    assert "Former liaison" in page
    assert "deleted.invalid" not in page


def test_it_shows_the_facility_activity_and_no_other_facility(liaison_client, liaison, facility):
    mine = InmateProfileFactory(facility=facility, display_name="Minerva")
    theirs = InmateProfileFactory(display_name="Theodora")
    LiaisonAction.objects.create(
        actor=liaison, facility=facility, profile=mine, kind=Kind.PROFILE_CREATED
    )
    LiaisonAction.objects.create(
        actor=None, facility=theirs.facility, profile=theirs, kind=Kind.PROFILE_CREATED
    )
    LiaisonAction.objects.create(
        actor=liaison,
        facility=facility,
        kind=Kind.CSV_IMPORTED,
        detail={"filename": "march.csv", "rows": 3, "created": 2, "updated": 0,
                "unchanged": 0, "rejected": 1},
    )  # fmt: skip
    page = liaison_client.get(reverse("liaison:activity", args=[facility.slug])).content.decode()
    assert "Minerva" in page
    assert "Theodora" not in page
    assert "march.csv: 3 rows, 2 created, 0 updated, 0 unchanged, 1 rejected" in page


def test_it_shows_the_activity_in_a_fixed_number_of_queries(
    liaison_client, liaison, facility, django_assert_max_num_queries
):
    url = reverse("liaison:activity", args=[facility.slug])

    def add_actions(count: int) -> None:
        for _number in range(count):
            profile = InmateProfileFactory(facility=facility)
            LiaisonAction.objects.create(
                actor=LiaisonFactory(facility=facility).user,
                facility=facility,
                profile=profile,
                kind=Kind.PROFILE_CREATED,
            )

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert liaison_client.get(url).status_code == 200
        return len(queries)

    add_actions(1)
    one = count_queries()
    add_actions(19)
    assert count_queries() == one
    with django_assert_max_num_queries(8):
        liaison_client.get(url)


def test_it_shows_automatic_actions_as_done_by_penpals(liaison_client, facility):
    profile = InmateProfileFactory(facility=facility)
    LiaisonAction.objects.create(
        actor=None,
        facility=facility,
        profile=profile,
        kind=Kind.PAUSED,
        detail={"reason": "listing expired"},
    )
    page = liaison_client.get(reverse("liaison:profile_detail", args=[profile.pk])).content.decode()
    assert "Penpals (automatic)" in page
    assert "Listing expired" in page


def test_it_attributes_photos_to_the_liaison_who_uploaded_them(liaison_client, liaison, facility):
    profile = InmateProfileFactory(facility=facility)
    post(
        liaison_client,
        "photo_upload",
        profile.pk,
        {"photos": [SimpleUploadedFile("a.jpg", image_bytes())]},
    )
    photo = profile.photos.get()
    assert photo.uploaded_by == liaison
    action = LiaisonAction.objects.get(kind=Kind.PHOTO_UPLOADED)
    assert action.detail == {"photo": photo.pk}
