"""A reply's scans on the moderation item page: the hits OCR found drawn on
each page image at the right place, listed beside it and marked in the
machine transcription, all escaped; the page's OCR confidence and the note
that OCR does not replace reading; confirming or correcting the
transcription (messaging.transcription), which screens a changed text again."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from messaging.models import Letter
from moderation.models import ModerationItem
from tests.factories import LiaisonFactory, UserFactory, activate_totp
from tests.messaging.test_redaction import HEIGHT, WIDTH, decide, reply_in_review

pytestmark = pytest.mark.django_db

TRANSCRIPTION = (
    "Dear Robin,\nthank you <script>alert('x')</script> for the letter.\n"
    "Do you use cash\napp? I could use a friend."
)
# What screening found in the transcription, as the reading of the reply
# records it: the hit's words and their boxes (pixels of the 400 × 200 page).
OCR_HITS = [
    {
        "page": 1,
        "category": "money",
        "rule": "Payment apps",
        "match": "cash app",
        "confidence": 61.5,
        "boxes": [[100, 50, 40, 20], [20, 80, 30, 20]],
    },
    {
        "page": 1,
        "category": "other",
        "rule": "<b>Odd</b> rule",
        "match": "<script>alert('x')</script>",
        "confidence": 88,
        "boxes": [[0, 0, 400, 200]],
    },
]
OCR = {
    1: {
        "text": TRANSCRIPTION,
        "mean_confidence": 71.4,
        "languages": ["en", "es"],
        "words": [],
    }
}


def reply_with_hits(pages: int = 1) -> Letter:
    letter = reply_in_review(machine_transcription=TRANSCRIPTION, pages=pages, ocr=OCR)
    scan = letter.scans.get(page=1)
    # Until the reading of replies records them itself, the hits are set as it will.
    letter.screening = {
        **letter.screening,
        "ocr_hits": [{**hit, "scan": scan.pk} for hit in OCR_HITS],
    }
    letter.save(update_fields=["screening"])
    return letter


def item_of(letter: Letter) -> ModerationItem:
    return ModerationItem.objects.for_object(letter).get()


def item_url(item: ModerationItem) -> str:
    return reverse("admin:moderation_moderationitem_change", args=[item.pk])


def transcription_url(letter: Letter) -> str:
    return reverse("admin:messaging_letter_transcription", args=[letter.pk])


@pytest.fixture
def reply() -> Letter:
    return reply_with_hits()


@pytest.fixture
def page(client, moderator_with_mfa, reply) -> str:
    client.force_login(moderator_with_mfa)
    response = client.get(item_url(item_of(reply)))
    assert response.status_code == 200
    return response.content.decode()


def test_each_hit_is_boxed_at_its_place_on_the_page_in_percent(page, reply):
    scan = reply.scans.get()
    assert f'src="{reverse("admin:messaging_letter_scan_image", args=[scan.pk])}"' in page
    assert f'width="{WIDTH}" height="{HEIGHT}"' in page
    # [100, 50, 40, 20] on 400 × 200: a quarter in, a quarter down, 10 % each way.
    assert '<rect x="25.000%" y="25.000%" width="10.000%" height="10.000%">' in page
    assert '<rect x="5.000%" y="40.000%" width="7.500%" height="10.000%">' in page
    assert '<rect x="0.000%" y="0.000%" width="100.000%" height="100.000%">' in page
    # Each box labelled with the category in words and OCR's confidence.
    labels = re.findall(r"<text [^>]*>([^<]*)</text>", page)
    assert labels.count("1. Money request · OCR 62%") == 2
    assert "2. Other · OCR 88%" in labels


def test_the_boxes_stay_in_percent_in_every_language(client, moderator_with_mfa, reply):
    moderator_with_mfa.language = "es"
    moderator_with_mfa.save(update_fields=["language"])
    client.force_login(moderator_with_mfa)
    page = client.get(item_url(item_of(reply))).content.decode()
    assert '<html lang="es"' in page
    # A decimal comma would be no length at all.
    assert '<rect x="25.000%" y="25.000%" width="10.000%" height="10.000%">' in page


def test_the_hits_are_listed_beside_the_page_with_the_confidence(page):
    listed = re.findall(r'<li value="(\d)" class="scan-hit-item">(.*?)</li>', page, re.S)
    assert [number for number, _ in listed] == ["1", "2"]
    assert "Money request (Payment apps)" in listed[0][1]
    assert "cash app" in listed[0][1] and "OCR confidence 62%" in listed[0][1]


def test_the_page_shows_its_mean_confidence_and_says_ocr_is_only_a_help(page):
    assert "OCR's mean confidence on this page: 71%" in page
    assert "not a reason to skip reading" in page


def test_everything_ocr_read_is_escaped(page):
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>Odd</b>" not in page and "&lt;b&gt;Odd&lt;/b&gt; rule" in page


def test_the_transcription_marks_the_same_hits(page):
    transcription = re.search(
        r'<div class="screening-text machine-transcription">(.*?)</div>', page, re.S
    ).group(1)
    marks = re.findall(
        r'<mark class="screening-hit screening-(\w+)"[^>]*>(.*?)</mark>', transcription, re.S
    )
    # Found across OCR's line break, and the script text marked as text.
    assert ("money", "cash\napp") in marks
    assert ("other", "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") in marks
    assert "Money request · Payment apps · OCR 62%" in transcription


def test_the_form_starts_from_what_ocr_read(page):
    form = re.search(r'<form [^>]*class="transcription-form".*?</form>', page, re.S).group(0)
    assert "thank you &lt;script&gt;" in form
    assert "Confirm the transcription" in form


# --- Confirming and correcting -------------------------------------------------------------


def test_confirming_the_text_as_read_sets_who_and_when(client, moderator_with_mfa, reply):
    client.force_login(moderator_with_mfa)
    item = item_of(reply)
    text = "Dear Robin, thank you for the letter. I would like a friend."
    # Already typed at upload, so nothing new to screen.
    Letter.objects.filter(pk=reply.pk).update(body=text)
    screened_at = Letter.objects.get(pk=reply.pk).screened_at
    response = client.post(transcription_url(reply), {"item": item.pk, "text": text})
    assert response.status_code == 302
    assert response["Location"] == item_url(item) + "#reply-transcription"
    letter = Letter.objects.get(pk=reply.pk)
    assert letter.body == text
    assert letter.transcription_confirmed_by == moderator_with_mfa
    assert letter.transcription_confirmed_at is not None
    assert letter.screened_at == screened_at  # not screened again
    page = client.get(response["Location"]).content.decode()
    assert "Transcription confirmed." in page
    assert "Transcription confirmed by" in page


def test_a_corrected_text_is_screened_again_before_the_decision(
    client, moderator_with_mfa, reply, default_screening_rules
):
    client.force_login(moderator_with_mfa)
    item = item_of(reply)
    assert "contact" not in item.flags
    corrected = "Dear Robin,\r\nthank you for the letter. Call me at 614-555-0199 when you can."
    response = client.post(transcription_url(reply), {"item": item.pk, "text": corrected})
    assert response.status_code == 302
    letter = Letter.objects.get(pk=reply.pk)
    assert letter.body == corrected.replace("\r\n", "\n")
    assert letter.transcription_confirmed_by == moderator_with_mfa
    assert letter.status == Letter.Status.IN_REVIEW
    assert "contact" in letter.screening["categories"]
    assert any("614-555-0199" in hit["match"] for hit in letter.screening["hits"])
    # The same item, still pending, now showing what the corrected text holds.
    item.refresh_from_db()
    assert item.status == ModerationItem.Status.PENDING
    assert "contact" in item.flags
    assert ModerationItem.objects.for_object(letter).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "It was screened again" in page
    assert '<mark class="screening-hit screening-contact"' in page


def test_an_empty_or_too_long_text_is_refused_and_kept(client, moderator_with_mfa, reply):
    client.force_login(moderator_with_mfa)
    response = client.post(transcription_url(reply), {"text": "   "})
    assert response.status_code == 200
    assert "The transcription is empty." in response.content.decode()
    too_long = "word " * (settings.LETTER_MAX_LENGTH // 5 + 10)
    response = client.post(transcription_url(reply), {"text": too_long})
    page = response.content.decode()
    assert "The transcription can be at most" in page
    assert too_long.strip()[:200] in page  # what was typed is still there
    letter = Letter.objects.get(pk=reply.pk)
    assert letter.body == "" and letter.transcription_confirmed_at is None


def test_it_is_refused_once_the_reply_is_decided(client, moderator_with_mfa, reply):
    decide(reply, moderator_with_mfa, approve=True)
    client.force_login(moderator_with_mfa)
    response = client.post(transcription_url(reply), {"text": "Something else entirely."})
    assert response.status_code == 200
    assert "no longer waiting in the queue" in response.content.decode()
    assert Letter.objects.get(pk=reply.pk).body == ""
    page = client.get(item_url(item_of(reply))).content.decode()
    assert 'class="transcription-form"' not in page


@pytest.mark.parametrize("who", ["anonymous", "pen_pal", "liaison", "staff_without_rights"])
def test_nobody_else_may_confirm(client, reply, who):
    if who == "pen_pal":
        client.force_login(reply.correspondence.pen_pal)
    elif who == "liaison":
        liaison = LiaisonFactory(facility=reply.correspondence.profile.facility).user
        activate_totp(liaison)
        client.force_login(liaison)
    elif who == "staff_without_rights":
        staff = UserFactory(is_staff=True)
        activate_totp(staff)
        client.force_login(staff)
    for response in (
        client.get(transcription_url(reply)),
        client.post(transcription_url(reply), {"text": "Send me money."}),
    ):
        if who == "staff_without_rights":
            assert response.status_code == 404
        else:
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login"))
    assert Letter.objects.get(pk=reply.pk).body == ""


# --- Cost ----------------------------------------------------------------------------------


def test_the_item_page_costs_the_same_queries_for_one_page_or_three(
    client, moderator_with_mfa, django_assert_max_num_queries, django_assert_num_queries
):
    client.force_login(moderator_with_mfa)
    one, three = reply_with_hits(pages=1), reply_with_hits(pages=3)
    client.get(item_url(item_of(one)))  # the session and the content types, once
    # One of them reads the reply's version before its content (test_reply_version.py).
    with django_assert_max_num_queries(20) as counted:
        assert client.get(item_url(item_of(one))).status_code == 200
    with django_assert_num_queries(len(counted.captured_queries)):
        assert client.get(item_url(item_of(three))).status_code == 200
