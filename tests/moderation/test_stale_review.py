"""A decision approves exactly what the moderator saw.

The race, played the way it happens: the moderator opens the item page (and
the version it shows), the liaison edits the profile through the portal, the
moderator posts the decision from the page they read. The decision is refused
with a message, nothing unseen goes public, and the item page shows the new
version, which can then be decided.
"""

from __future__ import annotations

import io
import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from moderation.models import ModerationDecision, ModerationItem
from moderation.services import StaleVersion, current_version, do_decide
from penpals.images import process_original
from profiles.models import InmateProfile, ProfilePhoto
from profiles.photos import publish_variants, run_photo_processing
from profiles.services import do_submit_profile, do_update_profile
from tests.factories import (
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    ProfilePhotoFactory,
    activate_totp,
    image_bytes,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:moderation_moderationitem_changelist")
STALE_PROFILE = "This profile changed while you were reading it. Review the new version."


@pytest.fixture
def liaison_client(liaison):
    client = Client()
    activate_totp(liaison)
    client.force_login(liaison)
    return client


@pytest.fixture
def mod_client(moderator_with_mfa):
    client = Client()
    client.force_login(moderator_with_mfa)
    return client


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


def item_url(item: ModerationItem) -> str:
    return reverse("admin:moderation_moderationitem_change", args=[item.pk])


def open_item(client, item: ModerationItem) -> tuple[str, str]:
    """GET the item page as the moderator does: its HTML and the version its form carries."""
    response = client.get(item_url(item))
    assert response.status_code == 200
    html = response.content.decode()
    (version,) = re.findall(r'name="seen_version" value="([^"]*)"', html)
    return html, version


def post_decision(client, item: ModerationItem, version: str | None, **data):
    form = {"decision": "approve", **data}
    if version is not None:
        form["seen_version"] = version
    url = reverse("admin:moderation_moderationitem_decide", args=[item.pk])
    return client.post(url, form, follow=True)


def edit_data(profile: InmateProfile, **overrides) -> dict:
    """The liaison's edit form as the portal posts it, with `overrides`."""
    data = {
        "display_name": profile.display_name,
        "legal_name": profile.legal_name,
        "inmate_number": profile.inmate_number,
        "date_of_birth": profile.date_of_birth.isoformat(),
        "gender": profile.gender,
        "release_kind": profile.release_kind,
        "release_date": "",
        "bio": profile.bio,
        "interests": ", ".join(profile.interests),
        "seeking": profile.seeking,
        "languages": profile.languages,
        "is_accepting_letters": "on",
    }
    data.update(overrides)
    return data


def liaison_edits(liaison_client, profile: InmateProfile, **overrides) -> None:
    response = liaison_client.post(
        reverse("liaison:profile_edit", args=[profile.pk]), edit_data(profile, **overrides)
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def assert_refused_as_stale(response, item: ModerationItem, message: str = STALE_PROFILE) -> str:
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == item_url(item)
    html = response.content.decode()
    assert message in html
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.PENDING
    assert not ModerationDecision.objects.filter(item=item).exists()
    return html


# --- A new profile --------------------------------------------------------------------------


def submitted_profile(facility, liaison, **fields) -> tuple[InmateProfile, ModerationItem]:
    profile = InmateProfileFactory(facility=facility, **fields)
    do_submit_profile(liaison, profile)
    return profile, ModerationItem.objects.for_object(profile).pending().get()


def test_it_refuses_to_publish_a_new_profile_edited_while_the_moderator_read_it(
    mod_client, liaison_client, liaison, facility
):
    profile, item = submitted_profile(facility, liaison, bio="I paint birds and write poems.")
    html, seen = open_item(mod_client, item)
    assert "I paint birds and write poems." in html

    liaison_edits(liaison_client, profile, bio="Changed after the moderator opened the page.")

    response = post_decision(mod_client, item, seen)
    html = assert_refused_as_stale(response, item)
    # The page shows the new version to decide on, with its own version.
    assert "Changed after the moderator opened the page." in html
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PENDING_REVIEW
    assert profile.published_at is None

    _, new_version = open_item(mod_client, item)
    assert new_version != seen
    post_decision(mod_client, item, new_version)
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PUBLISHED
    assert profile.bio == "Changed after the moderator opened the page."


@pytest.mark.parametrize("forged", [None, "", "0" * 64])
def test_it_refuses_a_decision_that_names_no_version_or_a_made_up_one(
    mod_client, liaison, facility, forged
):
    """A hand-made POST (no hidden field, an empty or guessed one) decides nothing."""
    profile, item = submitted_profile(facility, liaison)
    open_item(mod_client, item)
    response = post_decision(mod_client, item, forged)
    assert_refused_as_stale(response, item)
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PENDING_REVIEW


def test_it_refuses_a_rejection_of_a_version_the_moderator_did_not_see(
    mod_client, liaison_client, liaison, facility
):
    profile, item = submitted_profile(facility, liaison)
    _, seen = open_item(mod_client, item)
    liaison_edits(liaison_client, profile, display_name="Renamed")
    response = post_decision(mod_client, item, seen, decision="reject", reason_code="other")
    assert_refused_as_stale(response, item)
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PENDING_REVIEW


# --- A change to a listed profile -----------------------------------------------------------


def test_it_refuses_to_publish_a_profile_change_edited_while_the_moderator_read_it(
    mod_client, liaison_client, facility
):
    profile = InmateProfileFactory.published(facility=facility, bio="The approved bio.")
    liaison_edits(liaison_client, profile, bio="The change the moderator reads.")
    item = ModerationItem.objects.for_object(profile).pending().get(kind="profile_change")
    html, seen = open_item(mod_client, item)
    assert "The change the moderator reads." in html

    profile.refresh_from_db()
    liaison_edits(liaison_client, profile, bio="Send money to my cashapp $jdoe")

    response = post_decision(mod_client, item, seen)
    html = assert_refused_as_stale(response, item)
    assert "cashapp" in html
    profile.refresh_from_db()
    # The public still reads the approved text; the newest edit waits for review.
    assert profile.bio == "The approved bio."
    assert profile.pending_changes["bio"] == "Send money to my cashapp $jdoe"
    public = mod_client.get(reverse("directory:profile", args=[profile.slug])).content.decode()
    assert "cashapp" not in public


def test_a_bulk_approval_refuses_the_items_edited_after_the_confirmation_page(
    mod_client, liaison_client, liaison, facility
):
    profiles = [
        submitted_profile(facility, liaison, display_name=name)[0]
        for name in ("Ana", "Ben", "Cleo")
    ]
    items = [ModerationItem.objects.for_object(p).pending().get() for p in profiles]
    selected = [item.pk for item in items]
    page = mod_client.post(QUEUE, {"action": "approve_selected", "_selected_action": selected})
    html = page.content.decode()
    assert "Approve these 3 items?" in html
    confirmation = dict(re.findall(r'name="(seen_version_\d+)" value="([^"]*)"', html))
    assert set(confirmation) == {f"seen_version_{pk}" for pk in selected}

    liaison_edits(liaison_client, profiles[1], bio="Edited while the list was confirmed.")

    response = mod_client.post(
        QUEUE,
        {
            "action": "approve_selected",
            "_selected_action": selected,
            "confirm": "yes",
            **confirmation,
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Approved 2 item(s)." in html
    assert f"New profile of Ben: {STALE_PROFILE}" in html
    statuses = {
        p.display_name: p.status
        for p in InmateProfile.objects.filter(pk__in=[p.pk for p in profiles])
    }
    assert statuses == {"Ana": "published", "Ben": "pending_review", "Cleo": "published"}
    items[1].refresh_from_db()
    assert items[1].status == ModerationItem.Status.PENDING


def test_a_bulk_confirmation_without_versions_decides_no_profile(mod_client, liaison, facility):
    profile, item = submitted_profile(facility, liaison)
    response = mod_client.post(
        QUEUE,
        {"action": "approve_selected", "_selected_action": [item.pk], "confirm": "yes"},
        follow=True,
    )
    assert "Approved 0 item(s)." in response.content.decode()
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PENDING_REVIEW


# --- Photos ---------------------------------------------------------------------------------


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, format="JPEG")
    return out.getvalue()


def photo_in_review(facility) -> tuple[ProfilePhoto, ModerationItem]:
    profile = InmateProfileFactory.published(facility=facility)
    photo = ProfilePhotoFactory(profile=profile, original__data=image_bytes("JPEG", (320, 240)))
    assert run_photo_processing(photo.pk) == "ready"
    photo.refresh_from_db()
    return photo, ModerationItem.objects.for_object(photo).pending().get()


def test_it_refuses_to_approve_a_photo_made_again_while_the_moderator_looked(mod_client, facility):
    photo, item = photo_in_review(facility)
    _, seen = open_item(mod_client, item)

    # Its variants are made again (another run of processing) from other pixels.
    publish_variants(photo, process_original(io.BytesIO(jpeg((0, 0, 255)))))

    response = post_decision(mod_client, item, seen)
    assert_refused_as_stale(
        response, item, "This photo changed while you were looking at it. Review the new version."
    )
    photo.refresh_from_db()
    assert photo.review_status == ProfilePhoto.Review.PENDING
    assert not photo.is_public
    assert photo.profile.primary_photo_id is None


def test_it_refuses_to_approve_a_photo_deleted_while_the_moderator_looked(
    mod_client, liaison_client, facility
):
    photo, item = photo_in_review(facility)
    _, seen = open_item(mod_client, item)
    response = liaison_client.post(reverse("liaison:photo_delete", args=[photo.pk]))
    assert response.status_code == 302

    response = post_decision(mod_client, item, seen)
    assert "This item was already withdrawn." in response.content.decode()
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.WITHDRAWN
    assert not ModerationDecision.objects.filter(item=item).exists()
    assert not ProfilePhoto.objects.filter(pk=photo.pk).exists()


# --- The true race --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_an_edit_racing_a_decision_never_publishes_unseen_text(attempt):
    """The liaison's edit and the moderator's approval, from two threads with
    their own connections, released together: whichever wins, the public text
    is one a moderator saw, and neither waits forever on the other's locks."""
    liaison = LiaisonFactory().user
    moderator = ModeratorFactory()
    profile = InmateProfileFactory.published(
        facility=liaison.facility_memberships.get().facility, bio="The approved bio."
    )
    do_update_profile(liaison, profile, {"bio": "Seen by the moderator."})
    item = ModerationItem.objects.for_object(profile).pending().get()
    seen = current_version(item)
    barrier = threading.Barrier(2, timeout=20)
    outcomes: dict[str, str] = {}

    def edit() -> None:
        try:
            barrier.wait()
            do_update_profile(liaison, profile, {"bio": "Never seen by anyone."})
            outcomes["edit"] = "saved"
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            outcomes["edit"] = repr(error)
        finally:
            connection.close()

    def decide() -> None:
        try:
            barrier.wait()
            do_decide(item.pk, moderator, approve=True, seen_version=seen)
            outcomes["decision"] = "approved"
        except StaleVersion:
            outcomes["decision"] = "stale"
        except BaseException as error:  # noqa: BLE001
            outcomes["decision"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=edit), threading.Thread(target=decide)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert outcomes["edit"] == "saved"
    assert outcomes["decision"] in ("approved", "stale")
    profile.refresh_from_db()
    assert profile.bio != "Never seen by anyone."
    # The unseen edit waits for review either way.
    assert profile.pending_changes == {"bio": "Never seen by anyone."}
    pending = ModerationItem.objects.for_object(profile).pending().get()
    if outcomes["decision"] == "approved":
        assert profile.bio == "Seen by the moderator."
        assert pending.pk != item.pk
    else:
        assert profile.bio == "The approved bio."
        assert pending.pk == item.pk
