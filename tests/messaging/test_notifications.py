"""The outbox emails: what they say (and never say), who gets them, and never twice.

Mail goes to Django's locmem backend (mail.outbox); the SMTP failures, the
sweep and the real worker are in test_outbox_worker.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from email import message_from_bytes
from typing import cast
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.template.defaultfilters import date as date_filter
from django.utils import timezone

from messaging.models import Letter, Notification
from messaging.notifications import build_email, deliver_notification, message_id
from messaging.services import approve_letter, check_create_print_batch, do_mark_delivered, notify
from messaging.tasks import send_notification
from moderation.models import ModerationItem
from penpals.celery import app as celery_app
from penpals.models import User
from penpals.services import do_delete_account
from tests.factories import (
    CorrespondenceFactory,
    LetterFactory,
    LiaisonFactory,
    screen_and_decide,
    write_letter,
)

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
State = Notification.State
BODY = "Dear Marcus, my cat Pickles says hello. Here is a secret: violet-umbrella-42."
STATUS_KINDS = [Kind.LETTER_APPROVED, Kind.LETTER_REJECTED, Kind.LETTER_DELIVERED]


@pytest.fixture
def eager_tasks():
    """Tasks enqueued after commit run here, at once (the real worker is tested elsewhere)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def correspondence(alice, profile):
    return CorrespondenceFactory(pen_pal=alice, profile=profile)


def letter_in(correspondence, **fields) -> Letter:
    fields.setdefault("body", BODY)
    return cast(Letter, LetterFactory(correspondence=correspondence, **fields))


def reply_for(letter: Letter, **fields) -> Letter:
    reply = LetterFactory(
        correspondence=letter.correspondence,
        direction=Letter.Direction.INBOUND,
        body="Dear Alice, thank you. My release date is in the spring: amber-lantern-7.",
        created_by=LiaisonFactory(facility=letter.correspondence.profile.facility).user,
        **fields,
    )
    return cast(Letter, reply)


def sent_parts(message) -> tuple[str, str, str]:
    """(subject, text, html) of a message from mail.outbox."""
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return message.subject, message.body, html


def assert_private_data_absent(text: str, profile, *letter_bodies: str) -> None:
    for body in letter_bodies:
        for fragment in (body, body[:30], body.split(":")[-1].strip()):
            assert fragment not in text
    for secret in (
        profile.legal_name,
        profile.inmate_number,
        profile.display_name,
        profile.date_of_birth.isoformat(),
        date_filter(profile.date_of_birth, "N j, Y"),
        date_filter(profile.date_of_birth, "m/d/Y"),
        date_filter(profile.date_of_birth, "d/m/Y"),
    ):
        assert secret not in text, secret


# --- What the emails say ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "subject", "says", "button"),
    [
        (Kind.LETTER_APPROVED, "Your letter was approved", "passed review", "See your conversation"),
        (Kind.LETTER_DELIVERED, "Your letter was delivered", "has been delivered", "See your conversation"),
        (Kind.REPLY_RECEIVED, "You have a new reply", "A reply to your letters has arrived", "Read the reply"),
    ],
)  # fmt: skip
def test_it_says_what_happened_and_links_to_the_conversation(
    alice, profile, correspondence, kind, subject, says, button
):
    letter = letter_in(correspondence)
    if kind == Kind.REPLY_RECEIVED:
        letter = reply_for(letter)
    notification = notify(alice, kind, letter)
    assert deliver_notification(notification.pk) == "sent"

    (message,) = mail.outbox
    sent_subject, text, html = sent_parts(message)
    assert message.to == ["alice@example.org"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert sent_subject == f"[Penpals] {subject}"
    thread_url = f"{settings.SITE_URL}/letters/{letter.correspondence_id}/"
    settings_url = f"{settings.SITE_URL}/account/settings/"
    for part in (text, html):
        assert "Hello Alice," in part
        assert says in part
        assert thread_url in part
        assert settings_url in part
        assert "never puts letters in an email" in part
    assert f'<a href="{thread_url}"' in html and button in html
    assert f'<a href="{settings_url}"' in html
    assert "<" not in text  # the text part is plain text, not HTML
    assert_private_data_absent(sent_subject + text + html, profile, BODY, letter.body)


def test_the_reply_email_also_links_to_the_inbox(alice, profile, correspondence):
    notification = notify(alice, Kind.REPLY_RECEIVED, reply_for(letter_in(correspondence)))
    deliver_notification(notification.pk)
    _, text, html = sent_parts(mail.outbox[0])
    inbox_url = f"{settings.SITE_URL}/letters/"
    assert f"{inbox_url}\n" in text
    assert f'<a href="{inbox_url}"' in html


def test_the_rejection_gives_the_reason_and_the_moderators_note_but_not_the_letter(
    alice, profile, moderator, eager_tasks, django_capture_on_commit_callbacks
):
    note = "Please don't ask for money or send your number.\nYou can write again."
    letter = write_letter(alice, profile, BODY)
    with django_capture_on_commit_callbacks(execute=True):
        screen_and_decide(letter, moderator, approve=False, reason_code="money", note=note)

    (message,) = mail.outbox
    subject, text, html = sent_parts(message)
    assert subject == "[Penpals] Your letter was not approved"
    assert "Reason: Money request" in text
    assert "<strong>Reason:</strong> Money request" in html
    assert note in text
    assert "Please don&#x27;t ask for money or send your number.<br>You can write again." in html
    assert f"{settings.SITE_URL}/safety/" in text and f"{settings.SITE_URL}/safety/" in html
    assert_private_data_absent(subject + text + html, profile, BODY)
    assert Notification.objects.get().state == State.SENT


def test_a_rejection_without_a_note_still_reads_well(alice, profile, correspondence):
    letter = letter_in(correspondence, status="rejected", rejection_reason="contact")
    deliver_notification(notify(alice, Kind.LETTER_REJECTED, letter).pk)
    _, text, html = sent_parts(mail.outbox[0])
    assert "Reason: Contact details" in text
    assert "Note from our moderators" not in text and "Note from our moderators" not in html


def test_html_is_escaped_and_plain_text_is_not(alice, profile, correspondence):
    alice.display_name = 'Tom & <b>"Jerry"</b>'
    alice.save()
    note = "<script>alert('x')</script> & more"
    letter = letter_in(
        correspondence, status="rejected", rejection_reason="other", rejection_note=note
    )
    deliver_notification(notify(alice, Kind.LETTER_REJECTED, letter).pk)
    _, text, html = sent_parts(mail.outbox[0])
    assert 'Hello Tom & <b>"Jerry"</b>,' in text
    assert note in text
    assert "Hello Tom &amp; &lt;b&gt;&quot;Jerry&quot;&lt;/b&gt;," in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "<script>" not in html and "<b>" not in html


def test_a_pen_pal_without_a_display_name_is_greeted_plainly(alice, profile, correspondence):
    alice.display_name = ""
    alice.save()
    deliver_notification(notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence)).pk)
    _, text, html = sent_parts(mail.outbox[0])
    assert "Hello,\n" in text and "Hello,</p>" in html
    assert "alice@example.org" not in text + html


def test_every_kind_has_a_subject_a_text_and_an_html_body(alice, profile, correspondence):
    letter = letter_in(correspondence, status="rejected", rejection_reason="money")
    for kind in Kind.values:
        notification = Notification.objects.create(
            recipient=alice, kind=kind, key=f"{kind}:test", context={"letter_id": letter.pk}
        )
        email = build_email(notification)
        assert email.subject.startswith("[Penpals] ") and len(email.subject) > 15
        assert "\n" not in email.subject
        assert email.body.strip() and email.alternatives[0][0].strip()
        assert email.alternatives[0][0].lstrip().startswith("<!doctype html>")


def test_the_message_id_is_the_same_on_every_attempt_and_differs_between_rows(
    alice, profile, correspondence
):
    first = notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    second = notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    assert build_email(first).extra_headers["Message-ID"] == message_id(first)
    assert build_email(first).extra_headers["Message-ID"] == message_id(first)
    assert message_id(first) != message_id(second)
    assert message_id(first).startswith(f"<notification-{first.pk}-")
    assert message_id(first).endswith(f"@{urlsplit(settings.SITE_URL).hostname}>")
    deliver_notification(first.pk)
    sent = message_from_bytes(mail.outbox[0].message().as_bytes())
    assert sent["Message-ID"] == message_id(first)
    assert sent["Auto-Submitted"] == "auto-generated"


# --- The row holds ids; rendering happens at send time ---------------------------------


def test_the_row_holds_ids_only_and_the_email_is_rendered_when_sent(alice, profile, correspondence):
    letter = letter_in(correspondence, status="rejected", rejection_reason="money")
    notification = notify(alice, Kind.LETTER_REJECTED, letter)
    assert notification.context == {
        "letter_id": letter.pk,
        "correspondence_id": letter.correspondence_id,
    }
    assert BODY not in json.dumps(notification.context)
    # A moderator corrects the reason before the email goes out: the email says what is true now.
    Letter.objects.filter(pk=letter.pk).update(rejection_reason="contact", rejection_note="Sorry.")
    alice.display_name = "Alice B."
    alice.save()
    deliver_notification(notification.pk)
    _, text, _ = sent_parts(mail.outbox[0])
    assert "Reason: Contact details" in text and "Sorry." in text and "Hello Alice B.," in text


def test_sending_one_email_takes_a_few_queries(
    alice, profile, correspondence, django_assert_max_num_queries
):
    notification = notify(alice, Kind.LETTER_REJECTED, letter_in(correspondence))
    with django_assert_max_num_queries(7):
        assert deliver_notification(notification.pk) == "sent"


# --- Preferences and deleted accounts --------------------------------------------------


@pytest.mark.parametrize("kind", STATUS_KINDS)
def test_letter_status_emails_follow_their_preference(alice, profile, correspondence, kind):
    letter = letter_in(correspondence)
    alice.has_reply_emails = False  # the other preference does not matter here
    alice.save()
    assert notify(alice, kind, letter) is not None
    alice.has_letter_status_emails = False
    alice.save()
    assert notify(alice, kind, letter_in(correspondence)) is None
    assert Notification.objects.count() == 1


def test_reply_emails_follow_their_preference(alice, profile, correspondence):
    letter = letter_in(correspondence)
    alice.has_letter_status_emails = False
    alice.save()
    assert notify(alice, Kind.REPLY_RECEIVED, reply_for(letter)) is not None
    alice.has_reply_emails = False
    alice.save()
    assert notify(alice, Kind.REPLY_RECEIVED, reply_for(letter)) is None
    assert Notification.objects.count() == 1


def test_the_whole_flow_emails_a_pen_pal_with_the_preference_on_and_not_off(
    alice, bob, profile, moderator, eager_tasks, django_capture_on_commit_callbacks
):
    bob.has_letter_status_emails = False
    bob.save()
    with django_capture_on_commit_callbacks(execute=True):
        screen_and_decide(write_letter(alice, profile), moderator)
        screen_and_decide(write_letter(bob, profile), moderator)
    assert [message.to for message in mail.outbox] == [["alice@example.org"]]
    liaison = LiaisonFactory(facility=profile.facility).user
    with django_capture_on_commit_callbacks(execute=True):
        batch = check_create_print_batch(liaison, profile.facility, None, uuid.uuid4())
        assert do_mark_delivered(liaison, batch) == 2
    assert [message.subject for message in mail.outbox] == [
        "[Penpals] Your letter was approved",
        "[Penpals] Your letter was delivered",
    ]
    assert {message.to[0] for message in mail.outbox} == {"alice@example.org"}


def test_switching_emails_off_after_the_event_cancels_the_unsent_email(
    alice, profile, correspondence
):
    notification = notify(alice, Kind.LETTER_DELIVERED, letter_in(correspondence))
    alice.has_letter_status_emails = False
    alice.save()
    assert deliver_notification(notification.pk) == "cancelled"
    notification.refresh_from_db()
    assert notification.state == State.CANCELLED
    assert notification.last_error == "recipient switched these emails off"
    assert mail.outbox == []


def test_a_deleted_account_gets_nothing(alice, profile, correspondence):
    before = notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    do_delete_account(alice)
    alice.refresh_from_db()
    assert notify(alice, Kind.REPLY_RECEIVED, reply_for(letter_in(correspondence))) is None
    before.refresh_from_db()
    assert before.state == State.CANCELLED
    assert deliver_notification(before.pk) == "skipped"
    assert mail.outbox == []


def test_an_email_recorded_while_the_account_was_being_deleted_is_cancelled(
    alice, profile, correspondence
):
    stale_alice = User.objects.get(pk=alice.pk)  # loaded by a request before the deletion
    do_delete_account(alice)
    notification = notify(stale_alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    assert deliver_notification(notification.pk) == "cancelled"
    notification.refresh_from_db()
    assert notification.state == State.CANCELLED
    assert notification.last_error == "recipient account deleted"
    assert mail.outbox == []


def test_an_email_about_a_letter_that_no_longer_exists_is_cancelled(alice, profile, correspondence):
    letter = letter_in(correspondence)
    notification = notify(alice, Kind.LETTER_APPROVED, letter)
    letter.delete()
    assert deliver_notification(notification.pk) == "cancelled"
    notification.refresh_from_db()
    assert notification.state == State.CANCELLED
    assert mail.outbox == []


# --- Never twice -----------------------------------------------------------------------


def test_delivering_twice_sends_one_email(alice, profile, correspondence, time_machine):
    notification = notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    assert deliver_notification(notification.pk) == "sent"
    assert deliver_notification(notification.pk) == "skipped"
    time_machine.move_to(timezone.now() + timedelta(days=1))  # long after any backoff
    assert deliver_notification(notification.pk) == "skipped"
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (State.SENT, 1)
    assert notification.sent_at and notification.last_error == ""


def test_recording_the_same_event_twice_makes_one_row_and_one_task(
    alice, profile, correspondence, django_capture_on_commit_callbacks
):
    letter = letter_in(correspondence)
    with django_capture_on_commit_callbacks() as callbacks:
        first = notify(alice, Kind.LETTER_APPROVED, letter)
        second = notify(alice, Kind.LETTER_APPROVED, letter)
    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert Notification.objects.get().key == f"letter_approved:{letter.pk}"
    # Another event about the same letter is another email.
    notify(alice, Kind.LETTER_DELIVERED, letter)
    assert Notification.objects.count() == 2


def test_approving_twice_emails_once(
    alice, profile, moderator, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        letter = screen_and_decide(write_letter(alice, profile), moderator)
        # The handler runs again (a retried request): the letter is no longer in review.
        approve_letter(ModerationItem.objects.for_object(letter).get(), moderator)
    assert len(mail.outbox) == 1


def test_the_task_for_an_already_sent_row_does_nothing(
    alice, profile, correspondence, time_machine
):
    notification = notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    assert send_notification.apply(args=[notification.pk]).get() == "sent"
    assert send_notification.apply(args=[notification.pk]).get() == "skipped"
    time_machine.move_to(timezone.now() + timedelta(days=1))
    assert send_notification.apply(args=[notification.pk]).get() == "skipped"
    assert send_notification.apply(args=[notification.pk + 1000]).get() == "skipped"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("state", [State.SENDING, State.FAILED, State.CANCELLED])
def test_the_task_leaves_rows_that_are_not_pending_alone(
    alice, profile, correspondence, state, time_machine
):
    notification = notify(alice, Kind.LETTER_APPROVED, letter_in(correspondence))
    Notification.objects.filter(pk=notification.pk).update(state=state)
    time_machine.move_to(timezone.now() + timedelta(days=1))
    assert send_notification.apply(args=[notification.pk]).get() == "skipped"
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (state, 0)
    assert mail.outbox == []
