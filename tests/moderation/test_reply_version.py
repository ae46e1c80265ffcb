"""A reply can change while it waits for a moderator: another moderator
corrects its transcription or blacks out a region of a page, or the
facility's liaison puts a page from triage into it. An approval decided on
the item page as it was before such a change is refused ("changed while you
were reading it"); the page then shows the new version, which can be decided.

Every change goes through the real pages (a second moderator's admin pages,
the liaison's triage page), as in tests/moderation/test_stale_review.py.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from messaging.models import Letter, LetterScan, ScanPage, ScanRun
from moderation.models import ModerationDecision, ModerationItem
from moderation.services import StaleVersion, current_version, do_decide
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    activate_totp,
)
from tests.messaging.test_redaction import reply_in_review

pytestmark = pytest.mark.django_db

STALE = "This item changed while you were reading it. Review the new version."
MACHINE_TEXT = "Dear Robin, the garden is growing well this spring."


def signed_in(user) -> Client:
    activate_totp(user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mod_client(moderator):
    return signed_in(moderator)


@pytest.fixture
def other_mod_client(db):
    return signed_in(ModeratorFactory(email="second.moderator@example.org"))


@pytest.fixture
def reply():
    return reply_in_review(machine_transcription=MACHINE_TEXT)


def item_of(letter: Letter) -> ModerationItem:
    return ModerationItem.objects.for_object(letter).get()


def item_url(item: ModerationItem) -> str:
    return reverse("admin:moderation_moderationitem_change", args=[item.pk])


def open_item(client, item: ModerationItem) -> tuple[str, str]:
    """GET the item page as the moderator does: its HTML and the version its form carries."""
    response = client.get(item_url(item))
    assert response.status_code == 200
    html = response.content.decode()
    (version,) = re.findall(r'name="seen_version" value="([^"]*)"', html)
    return html, version


def approve(client, item: ModerationItem, version: str):
    url = reverse("admin:moderation_moderationitem_decide", args=[item.pk])
    return client.post(url, {"decision": "approve", "seen_version": version}, follow=True)


def assert_refused_as_stale(response, item: ModerationItem) -> str:
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == item_url(item)
    html = response.content.decode()
    assert STALE in html
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.PENDING
    assert not ModerationDecision.objects.filter(item=item).exists()
    assert Letter.objects.get(pk=item.object_id).status == Letter.Status.IN_REVIEW
    return html


def assert_approved_on_the_new_version(client, item: ModerationItem, seen: str) -> None:
    _, new_version = open_item(client, item)
    assert new_version != seen
    approve(client, item, new_version)
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.APPROVED
    assert Letter.objects.get(pk=item.object_id).status == Letter.Status.APPROVED


def correct_transcription(client, letter: Letter, text: str) -> None:
    url = reverse("admin:messaging_letter_transcription", args=[letter.pk])
    response = client.post(url, {"text": text, "item": item_of(letter).pk})
    assert response.status_code == 302, response.content.decode()[:2000]


# --- The transcription ---------------------------------------------------------------------


def test_it_refuses_an_approval_opened_before_the_transcription_was_corrected(
    mod_client, other_mod_client, reply
):
    item = item_of(reply)
    html, seen = open_item(mod_client, item)
    assert MACHINE_TEXT in html

    correct_transcription(other_mod_client, reply, "Dear Robin, send money to my cashapp.")

    html = assert_refused_as_stale(approve(mod_client, item, seen), item)
    assert "send money to my cashapp" in html
    assert_approved_on_the_new_version(mod_client, item, seen)
    assert Letter.objects.get(pk=reply.pk).body == "Dear Robin, send money to my cashapp."


def test_a_confirmation_that_changes_no_word_keeps_the_version(mod_client, other_mod_client, reply):
    """Confirming the text as it is changes nothing the moderator reads: the
    approval from the page opened before it goes through."""
    correct_transcription(other_mod_client, reply, MACHINE_TEXT)
    item = item_of(reply)
    _, seen = open_item(mod_client, item)
    correct_transcription(other_mod_client, reply, MACHINE_TEXT)
    assert current_version(item) == seen

    approve(mod_client, item, seen)
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.APPROVED


# --- A redaction ---------------------------------------------------------------------------


def redact_url(scan: LetterScan) -> str:
    return reverse("admin:messaging_letter_scan_redact", args=[scan.pk])


def test_it_refuses_an_approval_opened_before_a_page_was_redacted(
    mod_client, other_mod_client, reply
):
    item = item_of(reply)
    scan = reply.scans.get()
    _, seen = open_item(mod_client, item)

    response = other_mod_client.post(
        redact_url(scan), {"x": "10", "y": "20", "width": "30", "height": "5", "item": item.pk}
    )
    assert response.status_code == 302
    scan.refresh_from_db()
    assert scan.redactions == [[0.1, 0.2, 0.3, 0.05]]

    assert_refused_as_stale(approve(mod_client, item, seen), item)
    assert_approved_on_the_new_version(mod_client, item, seen)


def test_it_refuses_an_approval_opened_before_a_redaction_was_undone(
    mod_client, other_mod_client, reply
):
    item = item_of(reply)
    scan = reply.scans.get()
    other_mod_client.post(
        redact_url(scan), {"x": "10", "y": "20", "width": "30", "height": "5", "item": item.pk}
    )
    _, seen = open_item(mod_client, item)

    response = other_mod_client.post(redact_url(scan), {"action": "clear", "item": item.pk})
    assert response.status_code == 302
    scan.refresh_from_db()
    assert scan.redactions == []

    assert_refused_as_stale(approve(mod_client, item, seen), item)


# --- A page joined from triage -------------------------------------------------------------


def page_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (200, 260), 240).save(buffer, "JPEG")
    return buffer.getvalue()


def stored_page(run: ScanRun, number: int, **fields) -> ScanPage:
    content = page_jpeg() + str(number).encode()
    page = ScanPage(
        run=run,
        facility_id=run.facility_id,
        number=number,
        content_hash=hashlib.sha256(content).hexdigest(),
        width=200,
        height=260,
        **fields,
    )
    page.image.save("page.jpg", ContentFile(content), save=False)
    page.save()
    return page


def test_it_refuses_an_approval_opened_before_a_page_joined_from_triage(client, mod_client):
    """The liaison puts a page of the run into the reply the moderator is
    reading: the approval from before is refused, and the new page is on the
    item page the moderator is sent back to."""
    membership = LiaisonFactory()
    liaison_client = signed_in(membership.user)
    profile = InmateProfileFactory.published(facility=membership.facility)
    correspondence = CorrespondenceFactory(profile=profile)
    reply = reply_in_review(correspondence, machine_transcription=MACHINE_TEXT)
    run = ScanRun.objects.create(
        facility=membership.facility,
        uploaded_by=membership.user,
        idempotency_key=uuid.uuid4(),
        state=ScanRun.State.DONE,
        pages_total=2,
        pages_done=2,
        replies_made=1,
    )
    stored_page(run, 1, state=ScanPage.State.REPLY, letter=reply, mark_code=correspondence.code)
    waiting = stored_page(
        run, 2, state=ScanPage.State.TRIAGE, triage_reason=ScanPage.TriageReason.UNREADABLE
    )
    item = item_of(reply)
    _, seen = open_item(mod_client, item)

    response = liaison_client.post(
        reverse("liaison_letters:triage_page", args=[membership.facility.slug, waiting.pk]),
        {
            f"page-{waiting.pk}-action": "assign",
            f"page-{waiting.pk}-reference": correspondence.code,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert reply.scans.count() == 2

    html = assert_refused_as_stale(approve(mod_client, item, seen), item)
    assert 'id="scan-page-2"' in html
    assert_approved_on_the_new_version(mod_client, item, seen)


# --- The decision itself -------------------------------------------------------------------


def test_a_moderator_must_name_the_version_they_read(moderator, reply):
    with pytest.raises(TypeError):
        do_decide(item_of(reply).pk, moderator, approve=True)


def test_a_made_up_version_decides_nothing(moderator, reply):
    item = item_of(reply)
    with pytest.raises(StaleVersion):
        do_decide(item.pk, moderator, approve=True, seen_version="0" * 64)
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.PENDING
