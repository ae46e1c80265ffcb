"""The pen pal's pages: write (/letters/write/<slug>/), inbox (/letters/), thread
(/letters/<pk>/), block and unblock, and reporting a reply."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.models import Correspondence, Letter
from messaging.services import close_correspondences, do_block
from moderation.models import ModerationItem, Report
from moderation.reports import AlreadyReported, check_report
from moderation.services import do_decide
from profiles.models import InmateProfile
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    UserFactory,
    add_public_photo,
    screen_and_decide,
    write_letter,
)

pytestmark = pytest.mark.django_db

INBOX_URL = reverse("letters:inbox")


def write_url(profile: InmateProfile) -> str:
    return reverse("letters:write", args=[profile.slug])


def thread_url(correspondence: Correspondence) -> str:
    return reverse("letters:thread", args=[correspondence.pk])


def report_url(letter: Letter) -> str:
    return reverse("letters:report", args=[letter.pk])


def reply(correspondence: Correspondence, status: str = "approved", **kwargs) -> Letter:
    """An inbound letter (a reply from the person in prison) in `status`."""
    kwargs.setdefault("body", "Thank you for your letter. Today I read a book about ships.")
    # Typed by a person, so the pen pal is shown it (messaging/thread.html).
    kwargs.setdefault("transcription_confirmed_at", timezone.now())
    return LetterFactory(
        correspondence=correspondence,
        direction="in",
        status=status,
        created_by=None,
        approved_at=timezone.now() if status in ("approved", "read") else None,
        **kwargs,
    )


def hidden_key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', html).group(1)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def thread(alice, profile) -> Correspondence:
    return CorrespondenceFactory(pen_pal=alice, profile=profile)


# --- Writing --------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_log_in_and_back(client, profile):
    response = client.get(write_url(profile))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={write_url(profile)}"
    response = client.post(write_url(profile), {"body": "Hi", "idempotency_key": uuid.uuid4()})
    assert response.status_code == 302
    assert not Letter.objects.exists()


def test_it_shows_the_mail_rules_the_limits_and_a_fresh_key(alice_client, profile, settings):
    settings.LETTER_MAX_LENGTH = 13_000
    settings.LETTERS_PER_DAY = 7
    settings.NEW_CORRESPONDENCES_PER_DAY = 2
    profile.facility.mail_rules = "No stickers, glitter or perfume."
    profile.facility.save()
    response = alice_client.get(write_url(profile))
    assert response.status_code == 200
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
    html = response.content.decode()
    assert "No stickers, glitter or perfume." in html
    assert "up to 13,000 characters" in html
    assert "up to 7 letters a day" in html
    assert "up to 2 new people a day" in html
    assert 'maxlength="13000"' in html
    assert "js/letter_count" in html and "<script>" not in html
    first_key = hidden_key(html)
    assert hidden_key(alice_client.get(write_url(profile)).content.decode()) != first_key
    # Nothing private about the person is on the page.
    assert profile.legal_name not in html
    assert profile.inmate_number not in html


def test_it_sends_a_letter_and_opens_the_thread(alice_client, alice, profile):
    response = alice_client.post(
        write_url(profile),
        {"body": "Dear Marcus,\r\nHow was your week?", "idempotency_key": uuid.uuid4()},
    )
    letter = Letter.objects.get()
    assert response.status_code == 302
    assert response["Location"] == thread_url(letter.correspondence)
    assert (letter.created_by, letter.correspondence.profile) == (alice, profile)
    assert letter.body == "Dear Marcus,\nHow was your week?"
    assert letter.status == Letter.Status.SUBMITTED
    html = alice_client.get(response["Location"]).content.decode()
    assert "Your letter to Marcus was sent." in html
    assert "How was your week?" in html


def test_a_double_submit_makes_one_letter(alice_client, profile):
    key = uuid.uuid4()
    first = alice_client.post(write_url(profile), {"body": "Hello", "idempotency_key": key})
    second = alice_client.post(write_url(profile), {"body": "Hello", "idempotency_key": key})
    assert Letter.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_it_refuses_a_letter_over_the_limit_and_keeps_the_text(alice_client, profile, settings):
    settings.LETTER_MAX_LENGTH = 100
    text = "word " * 20 + "extra"
    response = alice_client.post(
        write_url(profile), {"body": text, "idempotency_key": uuid.uuid4()}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Letters can be at most 100 characters; this one has 105." in html
    assert text in html
    assert not Letter.objects.exists()


def test_it_counts_a_line_break_as_one_character_like_the_browser(alice_client, profile, settings):
    settings.LETTER_MAX_LENGTH = 10
    # Ten characters as the textarea counts them; twelve as sent (CRLF).
    body = "abcd\r\nefg\r\nh"
    response = alice_client.post(
        write_url(profile), {"body": body, "idempotency_key": uuid.uuid4()}
    )
    assert response.status_code == 302
    assert Letter.objects.get().body == "abcd\nefg\nh"


def test_it_refuses_an_empty_letter(alice_client, profile):
    response = alice_client.post(
        write_url(profile), {"body": "  ", "idempotency_key": uuid.uuid4()}
    )
    assert response.status_code == 200
    assert "Write something before you send the letter." in response.content.decode()
    assert not Letter.objects.exists()


def test_it_does_not_send_without_a_valid_key_and_offers_a_new_one(alice_client, profile):
    response = alice_client.post(
        write_url(profile), {"body": "Hello there", "idempotency_key": "x"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "this page had expired" in html
    assert "Hello there" in html
    uuid.UUID(hidden_key(html))
    assert not Letter.objects.exists()


def test_it_explains_the_daily_limit(alice_client, alice, profile, settings):
    settings.LETTERS_PER_DAY = 1
    write_letter(alice, profile)
    text = "A second letter today."
    response = alice_client.post(
        write_url(profile), {"body": text, "idempotency_key": uuid.uuid4()}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "You can send 1 letters a day. Please try again tomorrow." in html
    assert text in html
    assert Letter.objects.count() == 1


def test_it_explains_the_new_people_limit(alice_client, alice, settings):
    settings.NEW_CORRESPONDENCES_PER_DAY = 1
    write_letter(alice, InmateProfileFactory.published())
    other = InmateProfileFactory.published()
    response = alice_client.post(write_url(other), {"body": "Hi", "idempotency_key": uuid.uuid4()})
    assert response.status_code == 200
    assert "You can start writing to 1 new people a day." in response.content.decode()


def test_it_tells_an_unverified_pen_pal_to_confirm_their_email(client, profile):
    client.force_login(UserFactory())
    response = client.get(write_url(profile))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm your email address before you write a letter." in html
    assert "<textarea" not in html
    response = client.post(write_url(profile), {"body": "Hi", "idempotency_key": uuid.uuid4()})
    assert "Confirm your email address" in response.content.decode()
    assert not Letter.objects.exists()


def test_it_says_a_paused_profile_is_paused(alice_client, profile):
    profile.status = InmateProfile.Status.PAUSED
    profile.save(update_fields=["status"])
    html = alice_client.get(write_url(profile)).content.decode()
    assert "This profile is paused" in html
    assert "<textarea" not in html


@pytest.mark.parametrize("status", ["draft", "pending_review", "released", "transferred"])
def test_it_answers_404_for_profiles_that_are_not_listed(alice_client, status):
    hidden = InmateProfileFactory(status=status)
    assert alice_client.get(write_url(hidden)).status_code == 404
    assert alice_client.post(write_url(hidden), {"body": "Hi"}).status_code == 404


def test_it_shows_why_a_blocked_correspondence_cannot_be_written_to(
    alice_client, alice, profile, thread
):
    do_block(thread)
    html = alice_client.get(write_url(profile)).content.decode()
    assert "You have blocked this correspondence." in html
    assert "<textarea" not in html
    assert thread.code in html


def test_a_block_that_arrives_while_writing_keeps_the_text(alice_client, thread, profile):
    """The form was shown before the block; the POST is refused, the letter kept."""
    do_block(thread)
    text = "A long letter I spent an hour on."
    response = alice_client.post(
        write_url(profile), {"body": text, "idempotency_key": uuid.uuid4()}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "You have blocked this correspondence." in html
    assert text in html
    assert not Letter.objects.exists()


def test_staff_cannot_write_as_a_pen_pal(client, moderator, profile):
    client.force_login(moderator)
    html = client.get(write_url(profile)).content.decode()
    assert "Staff and facility accounts cannot write letters" in html


def test_the_profile_page_links_to_the_write_page(client, profile):
    html = client.get(reverse("directory:profile", args=[profile.slug])).content.decode()
    assert f'href="{write_url(profile)}"' in html


# --- Inbox --------------------------------------------------------------------------------


def test_the_inbox_requires_login(client):
    response = client.get(INBOX_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_inbox_lists_only_my_correspondences_newest_first(
    alice_client, alice, bob, profile, moderator
):
    older = write_letter(alice, profile, "My first letter to Marcus, about gardening and tomatoes.")
    screen_and_decide(older, moderator)
    someone_else = InmateProfileFactory.published(display_name="Dolores")
    add_public_photo(someone_else)
    newer = write_letter(alice, someone_else, "Hello Dolores")
    reply(older.correspondence, body="SECRET-TRANSCRIPTION-TEXT")
    reply(older.correspondence, status="in_review", body="NOT-YET-APPROVED")
    write_letter(bob, InmateProfileFactory.published(display_name="Bob's friend"))
    # The reply arrived after Alice wrote to Dolores: Marcus comes first.
    Correspondence.objects.filter(pk=older.correspondence_id).update(
        last_letter_at=timezone.now() + timedelta(minutes=5)
    )

    response = alice_client.get(INBOX_URL)
    assert response.status_code == 200
    assert {"private", "no-store"} <= set(response["Cache-Control"].split(", "))
    items = response.context["page"].object_list
    assert [c.pk for c in items] == [older.correspondence_id, newer.correspondence_id]
    marcus, dolores = items
    assert marcus.unread_count == 1
    assert marcus.latest_letter.direction == "in"
    assert dolores.unread_count == 0
    assert dolores.latest_letter.pk == newer.pk
    html = response.content.decode()
    assert "1 new reply" in html
    assert "Bob&#x27;s friend" not in html and "Bob's friend" not in html
    # A reply's text is never in the inbox; the pen pal's own letter only as an excerpt.
    assert "SECRET-TRANSCRIPTION-TEXT" not in html
    assert "NOT-YET-APPROVED" not in html
    assert "“<bdi>Hello Dolores</bdi>”" in html
    assert f"photos/thumbs/{someone_else.slug}.jpg" in html


def test_the_inbox_shows_a_short_excerpt_and_the_status(alice_client, alice, profile):
    write_letter(alice, profile, "Sentence number one. " * 20)
    html = alice_client.get(INBOX_URL).content.decode()
    assert "Sentence number one." in html
    assert ("Sentence number one. " * 20).strip() not in html
    assert "…" in html
    assert "Submitted" in html


def test_the_inbox_shows_closed_and_blocked_states(alice_client, alice, profile):
    write_letter(alice, profile)
    blocked = CorrespondenceFactory(pen_pal=alice)
    do_block(blocked)
    close_correspondences(profile.correspondences.all(), Correspondence.CloseReason.RELEASED)
    html = alice_client.get(INBOX_URL).content.decode()
    assert "The person has been released" in html
    assert "Blocked by you" in html


def test_the_inbox_runs_the_same_queries_for_one_or_many(
    alice_client, alice, django_assert_num_queries
):
    def add_correspondence():
        correspondence = CorrespondenceFactory(pen_pal=alice)
        add_public_photo(correspondence.profile)
        LetterFactory(correspondence=correspondence)
        reply(correspondence)

    add_correspondence()
    with CaptureQueriesContext(connection) as one:
        alice_client.get(INBOX_URL)
    for _ in range(14):
        add_correspondence()
    with django_assert_num_queries(len(one)):
        response = alice_client.get(INBOX_URL)
    assert len(response.context["page"].object_list) == 15
    # Session, user, count, page, latest letters.
    assert len(one) <= 5


def test_the_inbox_paginates(alice_client, alice):
    for _ in range(21):
        CorrespondenceFactory(pen_pal=alice)
    first = alice_client.get(INBOX_URL)
    assert len(first.context["page"].object_list) == 20
    assert "Page 1 of 2" in first.content.decode()
    assert len(alice_client.get(INBOX_URL, {"page": "2"}).context["page"].object_list) == 1
    assert alice_client.get(INBOX_URL, {"page": "nonsense"}).status_code == 200


def test_an_empty_inbox_points_to_the_directory(alice_client):
    html = alice_client.get(INBOX_URL).content.decode()
    assert "No letters yet" in html
    assert reverse("directory:list") in html


# --- Thread --------------------------------------------------------------------------------


def test_a_thread_is_only_for_its_pen_pal(client, alice, bob, moderator_with_mfa, thread):
    url = thread_url(thread)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    for outsider in (bob, moderator_with_mfa):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(alice)
    assert client.get(url).status_code == 200
    assert client.get(reverse("letters:thread", args=[thread.pk + 1000])).status_code == 404


def test_the_thread_shows_every_letter_in_order_with_its_status(
    alice_client, alice, profile, moderator, thread
):
    rejected = screen_and_decide(
        write_letter(alice, profile, "Please send me your CashApp."),
        moderator,
        approve=False,
        reason_code="money",
        note="Please do not ask for money in letters.",
    )
    approved = screen_and_decide(write_letter(alice, profile, "An approved letter."), moderator)
    LetterFactory(
        correspondence=thread,
        status="delivered",
        body="A delivered letter.",
        delivered_at=timezone.now(),
    )
    write_letter(alice, profile, "A letter just sent.")
    reply(thread, body="A reply with news.")

    response = alice_client.get(thread_url(thread))
    html = response.content.decode()
    assert [letter.pk for letter in response.context["letters"]][:2] == [rejected.pk, approved.pk]
    assert thread.code in html
    assert "Not delivered" in html
    assert "Money request" in html
    assert "Please do not ask for money in letters." in html
    assert "<strong>Approved</strong>" in html
    assert "<strong>Delivered</strong>" in html
    assert "<strong>Submitted.</strong>" in html
    assert "A reply with news." in html
    positions = [
        html.index(text)
        for text in ("CashApp", "An approved letter.", "A delivered letter.", "A letter just sent.")
    ]
    assert positions == sorted(positions)


def test_opening_the_thread_marks_approved_replies_read(alice_client, alice, thread, bob):
    new = reply(thread)
    pending = reply(thread, status="in_review", body="Waiting for a moderator.")
    elsewhere = reply(CorrespondenceFactory(pen_pal=bob))
    html = alice_client.get(thread_url(thread)).content.decode()
    # Shown as new this once, then read.
    assert "New reply" in html
    assert "Waiting for a moderator." not in html
    new.refresh_from_db()
    pending.refresh_from_db()
    elsewhere.refresh_from_db()
    assert new.status == Letter.Status.READ and new.read_at is not None
    assert pending.status == Letter.Status.IN_REVIEW
    assert elsewhere.status == Letter.Status.APPROVED
    assert "New reply" not in alice_client.get(thread_url(thread)).content.decode()


def test_the_thread_runs_a_fixed_number_of_queries(
    alice_client, thread, django_assert_max_num_queries
):
    for _ in range(10):
        LetterFactory(correspondence=thread)
        reply(thread)
    with django_assert_max_num_queries(12):
        response = alice_client.get(thread_url(thread))
    assert len(response.context["letters"]) == 20


def test_a_closed_thread_explains_why(alice_client, alice, profile, thread):
    LetterFactory(correspondence=thread)
    close_correspondences(profile.correspondences.all(), Correspondence.CloseReason.RELEASED)
    html = alice_client.get(thread_url(thread)).content.decode()
    assert "This correspondence is closed" in html
    assert "because Marcus has been released" in html
    assert "Write another letter" not in html


def test_a_transferred_thread_explains_why(alice_client, profile, thread):
    close_correspondences(profile.correspondences.all(), Correspondence.CloseReason.TRANSFERRED)
    html = alice_client.get(thread_url(thread)).content.decode()
    assert "because Marcus has moved to another facility" in html


def test_an_open_thread_offers_another_letter(alice_client, profile, thread):
    html = alice_client.get(thread_url(thread)).content.decode()
    assert f'href="{write_url(profile)}"' in html
    assert "Write another letter" in html


# --- Block and unblock ------------------------------------------------------------------------


def test_block_and_unblock(alice_client, thread):
    response = alice_client.post(reverse("letters:block", args=[thread.pk]))
    assert response.status_code == 302
    assert response["Location"] == thread_url(thread)
    thread.refresh_from_db()
    assert thread.blocked_by_pen_pal_at is not None
    html = alice_client.get(thread_url(thread)).content.decode()
    assert "You blocked this correspondence" in html
    assert "Write another letter" not in html
    assert reverse("letters:unblock", args=[thread.pk]) in html

    alice_client.post(reverse("letters:unblock", args=[thread.pk]))
    thread.refresh_from_db()
    assert thread.blocked_by_pen_pal_at is None
    assert "Write another letter" in alice_client.get(thread_url(thread)).content.decode()


def test_blocking_needs_a_post_the_owner_and_a_csrf_token(client, alice, bob, thread):
    client.force_login(alice)
    assert client.get(reverse("letters:block", args=[thread.pk])).status_code == 405
    client.force_login(bob)
    assert client.post(reverse("letters:block", args=[thread.pk])).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("letters:block", args=[thread.pk])).status_code == 403
    thread.refresh_from_db()
    assert thread.blocked_by_pen_pal_at is None


def test_unblocking_does_not_lift_the_other_sides_block(alice_client, thread):
    Correspondence.objects.filter(pk=thread.pk).update(blocked_by_inmate_at=timezone.now())
    alice_client.post(reverse("letters:unblock", args=[thread.pk]))
    thread.refresh_from_db()
    assert thread.blocked_by_inmate_at is not None


# --- Reporting a reply ------------------------------------------------------------------------


def test_reporting_a_reply_opens_one_review_item(alice_client, alice, thread, profile):
    letter = reply(thread)
    url = report_url(letter)
    assert "Asks for money or gifts" in alice_client.get(url).content.decode()
    response = alice_client.post(url, {"reason": "money", "details": "Asks me to send $50."})
    assert response.status_code == 302
    assert response["Location"] == thread_url(thread)
    report = Report.objects.get()
    assert (report.reporter, report.target, report.reason) == (alice, letter, "money")
    item = ModerationItem.objects.get(kind=ModerationItem.Kind.REPORT)
    assert item.content_object == report
    assert item.facility == profile.facility
    assert item.status == ModerationItem.Status.PENDING
    assert item.risk_score == 50
    assert item.flags == ["money"]
    assert item.summary == "Asks me to send $50."  # the reason is item.flags, worded when shown

    # A second time: a clear message, and nothing new in the queue.
    html = alice_client.get(url).content.decode()
    assert "You already reported this letter" in html
    response = alice_client.post(url, {"reason": "threat"})
    assert "You already reported this letter" in response.content.decode()
    assert Report.objects.count() == 1
    assert ModerationItem.objects.filter(kind=ModerationItem.Kind.REPORT).count() == 1


def test_a_report_needs_a_reason(alice_client, thread):
    letter = reply(thread)
    response = alice_client.post(report_url(letter), {"reason": "bogus"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Report.objects.exists()


def test_only_replies_in_my_own_thread_can_be_reported(alice_client, alice, bob, thread):
    own_letter = LetterFactory(correspondence=thread)
    in_review = reply(thread, status="in_review")
    bobs_reply = reply(CorrespondenceFactory(pen_pal=bob))
    for letter in (own_letter, in_review, bobs_reply):
        assert alice_client.get(report_url(letter)).status_code == 404
        assert alice_client.post(report_url(letter), {"reason": "money"}).status_code == 404
    assert not Report.objects.exists()


def test_reporting_requires_login(client, thread):
    letter = reply(thread)
    response = client.post(report_url(letter), {"reason": "money"})
    assert response.status_code == 302
    assert not Report.objects.exists()


def test_each_report_of_the_same_thing_raises_its_risk(alice, bob, charlie, profile):
    risks = [
        ModerationItem.objects.for_object(check_report(person, profile, "scam")).get().risk_score
        for person in (alice, bob, charlie)
    ]
    assert risks == [50, 60, 70]
    # The service is generic: a profile's report goes to its facility's queue.
    assert set(ModerationItem.objects.filter(kind="report").values_list("facility", flat=True)) == {
        profile.facility_id
    }
    with pytest.raises(AlreadyReported):
        check_report(alice, profile, "other")


def test_a_report_of_something_without_a_facility_goes_to_the_global_queue(alice, bob):
    report = check_report(alice, bob, "threat", "Sent me threats.")
    item = ModerationItem.objects.for_object(report).get()
    assert item.facility is None
    assert item.flags == ["threat"]


@pytest.mark.parametrize("approve", [True, False])
def test_a_moderator_can_decide_a_report(alice, thread, moderator, approve):
    report = check_report(alice, reply(thread), "scam")
    item = ModerationItem.objects.for_object(report).get()
    do_decide(item.pk, moderator, approve=approve, reason_code="" if approve else "other")
    item.refresh_from_db()
    assert item.status == ("approved" if approve else "rejected")
    assert item.decisions.count() == 1
