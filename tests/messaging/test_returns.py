"""Returned mail (messaging.returns): recording a letter the facility sent
back, from its print batch, from the returned paper (typed reference or a
scan of the reply sheet) or in the admin; what the pen pal sees and is
emailed; and the facility's most common return reasons beside its mail rules.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pypdfium2
import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image

from messaging import printing, returns, selectors
from messaging.models import Letter, Notification, PrintBatch
from messaging.returns import ReturnRefused, check_record_return
from messaging.scanpages import SCAN_DPI
from messaging.services import (
    check_create_print_batch,
    check_write_letter,
    do_mark_delivered,
    writing_refusal,
)
from penpals.celery import app as celery_app
from profiles.models import LiaisonAction, private_storage
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    PenPalFactory,
    UserFactory,
    activate_totp,
    image_bytes,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_dir")]

Status = Letter.Status
Reason = Letter.ReturnReason
NOTE = "Staples are not allowed here.\nPlease send loose sheets."
BODY = "Dear Marcus, the garden is full of tomatoes: violet-umbrella-42."


# --- Fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def eager_tasks():
    """Tasks enqueued after commit run here, at once (the real worker is tested elsewhere)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def printed_letter(liaison, facility, pen_pal, *, delivered=False, **profile_fields):
    """An outbound letter of `pen_pal` approved and printed through the real
    services (alone in its batch), then delivered if asked."""
    profile = InmateProfileFactory.published(facility=facility, **profile_fields)
    correspondence = CorrespondenceFactory(pen_pal=pen_pal, profile=profile)
    letter = LetterFactory(
        correspondence=correspondence,
        status=Status.APPROVED,
        approved_at=timezone.now(),
        body=BODY,
    )
    batch = check_create_print_batch(liaison, facility, [letter.pk], uuid.uuid4())
    if delivered:
        do_mark_delivered(liaison, batch, [letter.pk])
    letter.refresh_from_db()
    return letter


def another_letter(letter, status=Status.APPROVED, **fields) -> Letter:
    """One more outbound letter in the same correspondence."""
    return LetterFactory(
        correspondence=letter.correspondence, status=status, body="Another letter.", **fields
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def letter_return_url(letter, facility=None) -> str:
    facility = facility or letter.correspondence.profile.facility
    return reverse("liaison_letters:letter_return", args=[facility.slug, letter.pk])


def return_find_url(facility) -> str:
    return reverse("liaison_letters:return_find", args=[facility.slug])


def return_choose_url(correspondence, facility=None) -> str:
    facility = facility or correspondence.profile.facility
    return reverse("liaison_letters:return_choose", args=[facility.slug, correspondence.pk])


def thread_url(letter) -> str:
    return reverse("letters:thread", args=[letter.correspondence_id])


@pytest.fixture
def rosa(db):
    return PenPalFactory(email="rosa@example.org", display_name="Rosa")


@pytest.fixture
def letter(liaison, facility, rosa):
    return printed_letter(liaison, facility, rosa, display_name="Marcus", legal_name="Marcus Legal")


@pytest.fixture
def facility_b():
    """Facility B with its own liaison (MFA set up) and a printed letter."""
    membership = LiaisonFactory()
    activate_totp(membership.user)
    letter = printed_letter(
        membership.user, membership.facility, PenPalFactory(), legal_name="Bea Secretname"
    )
    return SimpleNamespace(
        facility=membership.facility,
        liaison=membership.user,
        letter=letter,
        correspondence=letter.correspondence,
    )


@pytest.fixture
def rosa_client(client, rosa):
    client.force_login(rosa)
    return client


# --- The rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("delivered", [False, True])
def test_it_records_the_return_of_a_printed_or_delivered_letter(
    liaison, facility, rosa, delivered, django_capture_on_commit_callbacks
):
    letter = printed_letter(liaison, facility, rosa, delivered=delivered)
    with django_capture_on_commit_callbacks():
        assert check_record_return(liaison, letter, Reason.MAIL_RULES, f"  {NOTE}\x00 ") is True
    assert letter.status == Status.RETURNED
    letter.refresh_from_db()
    assert letter.status == Status.RETURNED
    assert letter.return_reason == Reason.MAIL_RULES
    assert letter.return_note == NOTE
    assert letter.returned_by == liaison
    assert letter.returned_at is not None
    # Nothing else about the letter changes: it was printed (and maybe delivered).
    assert letter.printed_at is not None
    assert (letter.delivered_at is not None) == delivered
    action = LiaisonAction.objects.get(kind=LiaisonAction.Kind.LETTER_RETURNED)
    assert action.actor == liaison
    assert action.facility == facility
    assert action.profile == letter.correspondence.profile
    assert action.detail == {
        "letter": letter.pk,
        "code": letter.correspondence.code,
        "reason": Reason.MAIL_RULES,
    }
    notification = Notification.objects.get(kind=Notification.Kind.LETTER_RETURNED)
    assert notification.recipient == rosa
    assert notification.key == f"letter_returned:{letter.pk}"
    assert notification.context == {
        "letter_id": letter.pk,
        "correspondence_id": letter.correspondence_id,
    }


def test_recording_twice_changes_nothing_and_sends_one_email(
    liaison, letter, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert check_record_return(liaison, letter, Reason.REFUSED, "") is True
    first = Letter.objects.get(pk=letter.pk)
    # Another liaison of the facility records it again, differently: the first stands.
    other = LiaisonFactory(facility=letter.correspondence.profile.facility).user
    stale = Letter.objects.get(pk=letter.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert check_record_return(other, stale, Reason.OTHER, "Something else.") is False
    assert stale.return_reason == Reason.REFUSED  # the caller's copy says what is true
    again = Letter.objects.get(pk=letter.pk)
    assert (again.return_reason, again.return_note, again.returned_at, again.returned_by) == (
        first.return_reason,
        first.return_note,
        first.returned_at,
        first.returned_by,
    )
    assert LiaisonAction.objects.filter(kind=LiaisonAction.Kind.LETTER_RETURNED).count() == 1
    assert Notification.objects.filter(kind=Notification.Kind.LETTER_RETURNED).count() == 1
    assert len(mail.outbox) == 1


def test_the_batch_is_settled_once_none_of_its_letters_waits_to_be_handed_out(
    liaison, facility, rosa, django_capture_on_commit_callbacks
):
    first = printed_letter(liaison, facility, rosa)
    batch = first.print_batch
    second = another_letter(first, status=Status.PRINTED, print_batch=batch)
    private_storage().save(printing.stored_pdf_name(batch), ContentFile(b"%PDF-1.4 batch"))
    check_record_return(liaison, first, Reason.REFUSED, "")
    batch.refresh_from_db()
    assert batch.delivered_at is None  # the second is still to hand out
    assert printing.has_stored_pdf(batch)
    with django_capture_on_commit_callbacks(execute=True):
        check_record_return(liaison, second, Reason.MOVED, "")
    batch.refresh_from_db()
    assert batch.delivered_at is not None and batch.delivered_by == liaison
    # Like a batch marked delivered, its PDF (legal names) is not kept.
    assert not printing.has_stored_pdf(batch)


@pytest.mark.parametrize(
    "status", [Status.SUBMITTED, Status.IN_REVIEW, Status.APPROVED, Status.REJECTED]
)
def test_only_a_printed_or_delivered_letter_can_be_returned(liaison, letter, status):
    waiting = another_letter(letter, status=status)
    with pytest.raises(ReturnRefused) as refused:
        check_record_return(liaison, waiting, Reason.MOVED, "")
    if status == Status.APPROVED:
        # Not printed: nothing has reached the mailroom. The profile is what to mark.
        assert "has not been printed yet" in refused.value.messages[0]
        assert "mark their profile instead" in refused.value.messages[0]
    waiting.refresh_from_db()
    assert waiting.status == status
    assert not Notification.objects.filter(kind=Notification.Kind.LETTER_RETURNED).exists()
    assert not LiaisonAction.objects.filter(kind=LiaisonAction.Kind.LETTER_RETURNED).exists()


def test_a_reply_from_prison_cannot_be_returned(liaison, letter):
    reply = LetterFactory(
        correspondence=letter.correspondence,
        direction=Letter.Direction.INBOUND,
        status=Status.APPROVED,
        created_by=liaison,
    )
    with pytest.raises(ReturnRefused, match="sent to the person in prison"):
        check_record_return(liaison, reply, Reason.REFUSED, "")


@pytest.mark.parametrize(
    ("reason", "note", "says"),
    [
        ("", "", "Choose why the letter came back."),
        ("lost", "", "Choose why the letter came back."),
        (Reason.OTHER, "   ", "Say in the note why the letter came back"),
        (Reason.REFUSED, "x" * (returns.NOTE_MAX_LENGTH + 1), "at most 1000 characters"),
    ],
)
def test_it_refuses_a_return_without_a_reason_it_can_pass_on(liaison, letter, reason, note, says):
    with pytest.raises(ReturnRefused, match=says):
        check_record_return(liaison, letter, reason, note)
    letter.refresh_from_db()
    assert letter.status == Status.PRINTED


def test_only_the_facilitys_liaison_or_staff_who_handle_the_post_may_record_it(
    letter, rosa, facility_b, moderator
):
    unfit = [
        facility_b.liaison,  # another facility's liaison
        rosa,  # the pen pal who wrote it
        PenPalFactory(),
        UserFactory(is_staff=True),  # staff without the permission
    ]
    for user in unfit:
        with pytest.raises(PermissionDenied):
            check_record_return(user, letter, Reason.REFUSED, "")
    letter.refresh_from_db()
    assert letter.status == Status.PRINTED
    # Moderators upload postal replies; returned post is theirs too.
    assert check_record_return(moderator, letter, Reason.REFUSED, "") is True


def test_a_liaison_of_an_inactive_facility_may_not(liaison, facility, letter):
    facility.is_active = False
    facility.save(update_fields=["is_active"])
    with pytest.raises(PermissionDenied):
        check_record_return(liaison, letter, Reason.REFUSED, "")


@pytest.mark.parametrize("reason", [Reason.MOVED, Reason.RELEASED])
def test_a_return_for_a_move_or_release_closes_nothing_and_the_pen_pal_can_write_again(
    liaison, letter, rosa, reason
):
    check_record_return(liaison, letter, reason, "")
    correspondence = letter.correspondence
    correspondence.refresh_from_db()
    assert correspondence.closed_at is None
    assert correspondence.is_open
    profile = correspondence.profile
    assert writing_refusal(rosa, profile, correspondence) == ""
    again = check_write_letter(rosa, profile, "Trying again, keeping to the rules.", uuid.uuid4())
    assert again.correspondence_id == correspondence.pk
    assert again.status == Status.SUBMITTED


# --- The email -------------------------------------------------------------------------------


def sent_parts(message) -> tuple[str, str, str]:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return message.subject, message.body, html


def return_and_send(liaison, letter, reason, note, capture) -> tuple[str, str, str]:
    with capture(execute=True):
        check_record_return(liaison, letter, reason, note)
    (message,) = mail.outbox
    assert message.to == [letter.correspondence.pen_pal.email]
    return sent_parts(message)


def test_the_email_says_why_and_what_to_do_but_not_the_note(
    liaison, letter, eager_tasks, django_capture_on_commit_callbacks
):
    subject, text, html = return_and_send(
        liaison, letter, Reason.MAIL_RULES, NOTE, django_capture_on_commit_callbacks
    )
    assert subject == "[Penpals] The facility returned your letter"
    thread = f"/letters/{letter.correspondence_id}/"
    for part in (text, html):
        assert "Hello Rosa," in part
        assert "The facility has sent your letter back." in part
        assert "It breaks the facility" in part  # the reason
        assert "mail rules on the page where you write" in part  # what to fix
        assert "added a note for you; read it in your conversation" in part
        assert thread in part
    assert "Reason: It breaks the facility's mail rules" in text
    assert "<" not in text
    assert f'{thread}"' in html
    # The facility's note, the letter and the person stay on the site.
    profile = letter.correspondence.profile
    for secret in (
        "Staples",
        "loose sheets",
        "violet-umbrella-42",
        BODY[:30],
        profile.legal_name,
        profile.display_name,
        profile.inmate_number,
    ):
        assert secret not in subject + text + html, secret


def test_the_email_without_a_note_does_not_mention_one(
    liaison, letter, eager_tasks, django_capture_on_commit_callbacks
):
    _, text, html = return_and_send(
        liaison, letter, Reason.RELEASED, "", django_capture_on_commit_callbacks
    )
    assert "The person has been released" in text
    assert "never passes on addresses" in text
    assert "note" not in text and "note" not in html


def test_the_email_is_in_the_pen_pals_language(
    liaison, letter, rosa, eager_tasks, django_capture_on_commit_callbacks
):
    rosa.language = "es"
    rosa.save(update_fields=["language"])
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        check_record_return(liaison, letter, Reason.MOVED, "")
    (message,) = mail.outbox
    subject, text, html = sent_parts(message)
    assert message.extra_headers["Content-Language"] == "es"
    with translation.override("es"):
        expected = [
            gettext("Hello %(name)s,") % {"name": "Rosa"},
            gettext("Reason:"),
            str(Reason.MOVED.label),
            returns.return_advice(Reason.MOVED),
        ]
        expected_subject = gettext("The facility returned your letter")
    assert "Hola, Rosa:" in expected and "Motivo:" in expected
    assert "La persona fue trasladada a otro centro penitenciario" in expected
    for words in expected:
        assert words in text, words
    assert subject == f"[Penpals] {expected_subject}"
    assert "Motivo:" in html and "Hola, Rosa:" in html


def test_no_email_when_the_pen_pal_switched_status_emails_off(
    liaison, letter, rosa, eager_tasks, django_capture_on_commit_callbacks
):
    rosa.has_letter_status_emails = False
    rosa.save(update_fields=["has_letter_status_emails"])
    with django_capture_on_commit_callbacks(execute=True):
        assert check_record_return(liaison, letter, Reason.REFUSED, "") is True
    assert not mail.outbox
    assert not Notification.objects.exists()


# --- The pen pal's thread -------------------------------------------------------------------


def test_the_thread_shows_the_reason_the_note_and_what_to_do(rosa_client, liaison, letter):
    check_record_return(liaison, letter, Reason.MAIL_RULES, NOTE)
    response = rosa_client.get(thread_url(letter))
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "<strong>Returned by the facility:</strong> It breaks the facility&#x27;s mail rules."
        in page
    )
    assert "Note from the facility:" in page
    assert "Staples are not allowed here.<br>Please send loose sheets." in page
    assert "mail rules on the page where you write" in page
    # The pen pal can write again from here.
    assert reverse("letters:write", args=[letter.correspondence.profile.slug]) in page


def test_the_thread_shows_the_return_in_the_pen_pals_language(rosa_client, rosa, liaison, letter):
    rosa.language = "es"
    rosa.save(update_fields=["language"])
    check_record_return(liaison, letter, Reason.MOVED, "")
    page = rosa_client.get(thread_url(letter)).content.decode()
    with translation.override("es"):
        reason = str(Reason.MOVED.label)
        advice = returns.return_advice(Reason.MOVED)
    assert reason == "La persona fue trasladada a otro centro penitenciario"
    assert reason in page
    assert advice.replace("’", "&#x27;") in page or advice in page


def test_the_thread_of_a_returned_letter_takes_no_more_queries(
    rosa_client, liaison, letter, django_assert_max_num_queries
):
    check_record_return(liaison, letter, Reason.MAIL_RULES, NOTE)
    with CaptureQueriesContext(connection) as before:
        rosa_client.get(thread_url(letter))
    for _ in range(3):
        check_record_return(liaison, another_letter(letter, status=Status.PRINTED), "refused", "")
    with django_assert_max_num_queries(len(before)):
        assert rosa_client.get(thread_url(letter)).status_code == 200


# --- The facility's most common return reasons ----------------------------------------------


def returned(facility, reason, *, ago=timedelta(days=1), count=1) -> None:
    """`count` letters of `facility` returned `ago` for `reason`, stored directly."""
    for _ in range(count):
        LetterFactory(
            correspondence=CorrespondenceFactory(
                profile=InmateProfileFactory.published(facility=facility)
            ),
            status=Status.RETURNED,
            printed_at=timezone.now() - ago - timedelta(days=3),
            returned_at=timezone.now() - ago,
            return_reason=reason,
        )


@pytest.fixture
def write_client(client, alice, profile):
    client.force_login(alice)
    return client


def write_page(client, profile) -> str:
    response = client.get(reverse("letters:write", args=[profile.slug]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_write_page_shows_no_reasons_below_three_returns(write_client, profile):
    facility = profile.facility
    returned(facility, Reason.MAIL_RULES, count=2)
    # Older than a year, or another facility's: not counted.
    returned(facility, Reason.MAIL_RULES, ago=timedelta(days=400))
    returned(InmateProfileFactory().facility, Reason.MAIL_RULES, count=3)
    assert selectors.common_return_reasons(facility) == []
    assert "sent letters back" not in write_page(write_client, profile)


def test_the_write_page_shows_the_three_most_common_reasons_with_counts(write_client, profile):
    facility = profile.facility
    returned(facility, Reason.MAIL_RULES, count=3)
    returned(facility, Reason.REFUSED, count=2)
    returned(facility, Reason.ADDRESS, count=1)
    returned(facility, Reason.MOVED, count=1)
    returned(facility, Reason.RELEASED, ago=timedelta(days=400), count=5)
    assert [(item.reason, item.count) for item in selectors.common_return_reasons(facility)] == [
        (Reason.MAIL_RULES, 3),
        (Reason.REFUSED, 2),
        (Reason.MOVED, 1),  # tied with "address": the order of the reasons' list decides
    ]
    page = write_page(write_client, profile)
    assert f"Why {facility.name} sent letters back in the last 12 months" in page
    assert "It breaks the facility&#x27;s mail rules: 3 letters" in page
    assert "The person refused the letter: 2 letters" in page
    assert "The person has moved to another facility: 1 letter<" in page
    assert "The name or number on it does not match" not in page
    assert "released" not in page.split("sent letters back")[1].split("</ul>")[0]


def test_the_reasons_are_shown_in_the_readers_language(write_client, alice, profile):
    alice.language = "es"
    alice.save(update_fields=["language"])
    returned(profile.facility, Reason.MOVED, count=3)
    page = write_page(write_client, profile)
    assert "La persona fue trasladada a otro centro penitenciario" in page


def test_the_reasons_are_counted_in_one_query_and_cached_per_facility(
    profile, django_assert_num_queries
):
    facility = profile.facility
    other = InmateProfileFactory().facility
    returned(facility, Reason.REFUSED, count=3)
    returned(other, Reason.ADDRESS, count=4)
    with django_assert_num_queries(1):
        first = selectors.common_return_reasons(facility)
    with django_assert_num_queries(0):
        assert selectors.common_return_reasons(facility) == first
    with django_assert_num_queries(1):
        assert [item.reason for item in selectors.common_return_reasons(other)] == [Reason.ADDRESS]
    # A new return shows once the hour is up (here: the cached count removed).
    returned(facility, Reason.MOVED, count=4)
    assert [item.reason for item in selectors.common_return_reasons(facility)] == [Reason.REFUSED]
    cache.delete(selectors.return_reasons_cache_key(facility.pk))
    assert [item.reason for item in selectors.common_return_reasons(facility)] == [
        Reason.MOVED,
        Reason.REFUSED,
    ]


def test_the_count_is_served_by_the_returned_letters_index(profile):
    returned(profile.facility, Reason.REFUSED, count=3)
    since = timezone.now() - selectors.RETURN_REASONS_WINDOW
    query = (
        Letter.objects.filter(
            status=Status.RETURNED,
            correspondence__profile__facility_id=profile.facility_id,
            returned_at__gte=since,
            return_reason__in=Reason.values,
        )
        .order_by()
        .values_list("return_reason")
    )
    # The tables are tiny here, so the planner would scan them; told not to,
    # it must find the partial index usable for the selector's filter.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert "messaging_letter_returned" in query.explain()


def test_the_write_page_pins_its_queries(write_client, profile, django_assert_max_num_queries):
    returned(profile.facility, Reason.REFUSED, count=3)
    with CaptureQueriesContext(connection) as cold:
        write_page(write_client, profile)
    # Session, user, profile, correspondence, the refusal checks, the reasons.
    assert len(cold) <= 12
    with django_assert_max_num_queries(len(cold) - 1):
        assert "The person refused the letter: 3 letters" in write_page(write_client, profile)


# --- Recording a return in the liaison portal ----------------------------------------------


def test_the_batch_page_links_each_printed_or_delivered_letter_to_a_return(
    liaison_client, liaison, facility, letter, rosa, django_assert_max_num_queries
):
    batch = letter.print_batch
    # Two more in the same batch: one delivered, one returned.
    extra = [
        LetterFactory(
            correspondence=CorrespondenceFactory(
                pen_pal=rosa, profile=InmateProfileFactory.published(facility=facility)
            ),
            status=Status.APPROVED,
            approved_at=timezone.now(),
        )
        for _ in range(2)
    ]
    Letter.objects.filter(pk__in=[x.pk for x in extra]).update(
        status=Status.PRINTED, print_batch=batch, printed_at=timezone.now()
    )
    do_mark_delivered(liaison, batch, [extra[0].pk])
    check_record_return(liaison, Letter.objects.get(pk=extra[1].pk), Reason.REFUSED, "")
    url = reverse("liaison_letters:batch_detail", args=[facility.slug, batch.pk])
    with django_assert_max_num_queries(10):
        response = liaison_client.get(url)
    page = response.content.decode()
    assert letter_return_url(letter) in page
    assert letter_return_url(extra[0]) in page
    assert letter_return_url(extra[1]) not in page
    assert "Returned by the facility: The person refused the letter" in page
    assert return_find_url(facility) in page


def test_a_liaison_records_a_return_from_the_letter(
    liaison_client, letter, eager_tasks, django_capture_on_commit_callbacks
):
    url = letter_return_url(letter)
    response = liaison_client.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert letter.correspondence.code in page and "Marcus Legal" in page
    assert 'name="reason"' in page and 'name="note"' in page
    assert reverse("liaison:lifecycle", args=[letter.correspondence.profile_id]) in page
    with django_capture_on_commit_callbacks(execute=True):
        response = liaison_client.post(
            url, {"reason": Reason.MAIL_RULES, "note": NOTE}, follow=True
        )
    assert response.redirect_chain[-1][0] == reverse(
        "liaison_letters:batch_detail",
        args=[letter.correspondence.profile.facility.slug, letter.print_batch_id],
    )
    assert (
        f"Return recorded for {letter.correspondence.code}: It breaks the facility's mail rules."
        in messages_of(response)[0]
    )
    letter.refresh_from_db()
    assert letter.status == Status.RETURNED
    assert letter.return_note == NOTE
    # Again (a double click): nothing changes, no second email.
    with django_capture_on_commit_callbacks(execute=True):
        again = liaison_client.post(url, {"reason": Reason.REFUSED, "note": ""}, follow=True)
    assert "already recorded as returned" in messages_of(again)[0]
    letter.refresh_from_db()
    assert letter.return_reason == Reason.MAIL_RULES
    assert len(mail.outbox) == 1
    # The page of a returned letter says so and offers no form.
    page = liaison_client.get(url).content.decode()
    assert "Recorded as returned on" in page and 'name="reason"' not in page


def test_the_return_form_explains_what_is_missing(liaison_client, letter):
    response = liaison_client.post(letter_return_url(letter), {"reason": Reason.OTHER})
    assert response.status_code == 200
    assert "Say in the note why the letter came back" in response.content.decode()
    response = liaison_client.post(letter_return_url(letter), {"note": "hello"})
    assert "Choose why the letter came back." in response.content.decode()
    letter.refresh_from_db()
    assert letter.status == Status.PRINTED


@pytest.mark.parametrize(
    "status", [Status.SUBMITTED, Status.IN_REVIEW, Status.APPROVED, Status.REJECTED]
)
def test_a_letter_the_facility_never_had_on_paper_is_not_found(liaison_client, letter, status):
    """A liaison guessing ids reaches no letter still in review (its text is
    not the facility's to see yet) nor any not printed."""
    waiting = another_letter(letter, status=status)
    assert liaison_client.get(letter_return_url(waiting)).status_code == 404
    assert liaison_client.post(letter_return_url(waiting), {"reason": "moved"}).status_code == 404


def test_a_reply_is_not_found_as_a_letter_to_return(liaison_client, liaison, letter):
    reply = LetterFactory(
        correspondence=letter.correspondence,
        direction=Letter.Direction.INBOUND,
        status=Status.APPROVED,
        created_by=liaison,
    )
    assert liaison_client.get(letter_return_url(reply)).status_code == 404


def test_it_finds_the_correspondence_by_the_typed_reference(liaison_client, facility, letter):
    code = letter.correspondence.code
    typed = code.lower().replace("-", " ")
    response = liaison_client.post(return_find_url(facility), {"code": typed})
    assert response.status_code == 302
    assert response["Location"] == return_choose_url(letter.correspondence)


def test_another_facilitys_reference_is_not_found_like_an_unknown_one(
    liaison_client, facility, facility_b
):
    theirs = liaison_client.post(
        return_find_url(facility), {"code": facility_b.correspondence.code}
    )
    unknown = liaison_client.post(return_find_url(facility), {"code": "PP-2222-3333"})
    assert theirs.status_code == unknown.status_code == 404
    says = "No correspondence of your facilities has this reply reference."
    for response in (theirs, unknown):
        page = response.content.decode()
        assert says in page
        assert facility_b.facility.name not in page
        assert "Bea Secretname" not in page


def test_the_find_form_asks_for_a_reference_or_a_scan(liaison_client, facility):
    response = liaison_client.post(return_find_url(facility), {})
    assert response.status_code == 200
    assert "Type the reply reference, or choose a scan" in response.content.decode()
    response = liaison_client.post(return_find_url(facility), {"code": "hello"})
    assert "This is not a reply reference" in response.content.decode()
    not_a_scan = SimpleUploadedFile("letter.jpg", b"GIF89a not a scan")
    response = liaison_client.post(return_find_url(facility), {"scan": not_a_scan})
    assert response.status_code == 200
    assert "this is not a JPEG, PNG or PDF file" in response.content.decode()


def test_the_choice_lists_printed_letters_not_yet_returned_newest_first(
    liaison_client, liaison, letter
):
    older = letter
    Letter.objects.filter(pk=older.pk).update(printed_at=timezone.now() - timedelta(days=9))
    newer = another_letter(letter, status=Status.DELIVERED, printed_at=timezone.now())
    gone = another_letter(letter, status=Status.PRINTED, printed_at=timezone.now())
    check_record_return(liaison, gone, Reason.REFUSED, "")
    waiting = another_letter(letter, status=Status.APPROVED)
    response = liaison_client.get(return_choose_url(letter.correspondence))
    assert response.status_code == 200
    choices = [pk for pk, _ in response.context["form"].fields["letter"].choices]
    assert [choice.value for choice in choices] == [newer.pk, older.pk]
    page = response.content.decode()
    # Each with its first words, to match the paper in hand.
    assert "(Delivered): “Another letter.”" in page
    assert "(Printed): “Dear Marcus, the garden is full of tomatoes:…”" in page
    assert f'value="{waiting.pk}"' not in page
    assert "Already recorded as returned" in page and "The person refused the letter" in page


def test_a_liaison_records_a_return_chosen_from_the_correspondence(
    liaison_client, letter, eager_tasks, django_capture_on_commit_callbacks
):
    url = return_choose_url(letter.correspondence)
    with django_capture_on_commit_callbacks(execute=True):
        response = liaison_client.post(
            url, {"letter": letter.pk, "reason": Reason.ADDRESS, "note": ""}, follow=True
        )
    assert response.redirect_chain[-1][0] == return_find_url(letter.correspondence.profile.facility)
    assert "Return recorded for" in messages_of(response)[0]
    letter.refresh_from_db()
    assert letter.status == Status.RETURNED and letter.return_reason == Reason.ADDRESS
    assert len(mail.outbox) == 1
    # Nothing left to choose: the page says so.
    page = liaison_client.get(url).content.decode()
    assert "No printed letter of this correspondence is waiting" in page


def test_a_letter_of_another_correspondence_cannot_be_chosen(
    liaison_client, liaison, facility, letter, rosa, facility_b
):
    other_here = printed_letter(liaison, facility, rosa)
    for intruder in (other_here, facility_b.letter):
        response = liaison_client.post(
            return_choose_url(letter.correspondence),
            {"letter": intruder.pk, "reason": Reason.REFUSED},
        )
        assert response.status_code == 200
        assert "Choose one of the letters listed." in response.content.decode()
        intruder.refresh_from_db()
        assert intruder.status == Status.PRINTED


# --- Scanning the returned letter ------------------------------------------------------------


def rasterised(pdf: bytes, *, only_page: int | None = None) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = [document[only_page]] if only_page is not None else list(document)
        return [
            page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L") for page in pages
        ]
    finally:
        document.close()


def as_upload(image: Image.Image, name: str = "returned.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=60)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def printed_pdf(letter) -> bytes:
    return printing.render_batch_pdf(PrintBatch.objects.get(pk=letter.print_batch_id))


def test_a_scan_of_the_returned_reply_sheet_finds_its_letter(liaison_client, facility, letter):
    """The batch PDF made by the real print code, its reply sheet (the last
    page) rasterised and turned like a rough scan, finds the correspondence."""
    sheet = rasterised(printed_pdf(letter))[-1].rotate(90, expand=True, fillcolor=255)
    response = liaison_client.post(return_find_url(facility), {"scan": as_upload(sheet)})
    assert response.status_code == 302
    assert response["Location"] == return_choose_url(letter.correspondence)


def test_a_pdf_of_the_whole_returned_letter_finds_it(liaison_client, facility, letter):
    pdf = printed_pdf(letter)
    upload = SimpleUploadedFile("returned.pdf", pdf, content_type="application/pdf")
    response = liaison_client.post(return_find_url(facility), {"scan": upload})
    assert response.status_code == 302
    assert response["Location"] == return_choose_url(letter.correspondence)


def test_a_scan_of_another_facilitys_letter_is_not_found(liaison_client, facility, facility_b):
    sheet = rasterised(printed_pdf(facility_b.letter))[-1]
    response = liaison_client.post(return_find_url(facility), {"scan": as_upload(sheet)})
    assert response.status_code == 404
    page = response.content.decode()
    assert "No correspondence of your facilities has this reply reference." in page
    assert facility_b.correspondence.code not in page


def test_a_scan_without_a_code_asks_for_the_typed_reference(liaison_client, facility, letter):
    first_page = rasterised(printed_pdf(letter), only_page=0)[0]
    response = liaison_client.post(return_find_url(facility), {"scan": as_upload(first_page)})
    assert response.status_code == 200
    assert "No reply code could be read on this file" in response.content.decode()
    blank = SimpleUploadedFile("blank.png", image_bytes("PNG", (300, 400)))
    response = liaison_client.post(return_find_url(facility), {"scan": blank})
    assert "No reply code could be read on this file" in response.content.decode()


# --- Who may reach the new pages ---------------------------------------------------------


def letter_kwargs(objects) -> list:
    return [objects.facility.slug, objects.letter.pk]


def facility_args(objects) -> list:
    return [objects.facility.slug]


def correspondence_args(objects) -> list:
    return [objects.facility.slug, objects.correspondence.pk]


RETURN_TARGETS = {
    "letter_return": (letter_kwargs, {"reason": Reason.REFUSED, "note": ""}),
    "return_find": (facility_args, None),  # the POST data is made per test (a code)
    "return_choose": (correspondence_args, None),
}
CASES = [(name, method) for name in RETURN_TARGETS for method in ("GET", "POST")]


def request_as(client, name, method, objects):
    args_for, post_data = RETURN_TARGETS[name]
    url = reverse(f"liaison_letters:{name}", args=args_for(objects))
    if method == "GET":
        return client.get(url)
    if name == "return_find":
        post_data = {"code": objects.correspondence.code}
    elif name == "return_choose":
        post_data = {"letter": objects.letter.pk, "reason": Reason.REFUSED, "note": ""}
    return client.post(url, post_data)


def assert_untouched(objects) -> None:
    objects.letter.refresh_from_db()
    assert objects.letter.status == Status.PRINTED
    assert not LiaisonAction.objects.filter(kind=LiaisonAction.Kind.LETTER_RETURNED).exists()
    assert not Notification.objects.filter(kind=Notification.Kind.LETTER_RETURNED).exists()


@pytest.mark.parametrize(("name", "method"), CASES)
def test_another_facilitys_liaison_gets_404(liaison_client, facility_b, name, method):
    response = request_as(liaison_client, name, method, facility_b)
    assert response.status_code == 404
    assert_untouched(facility_b)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_ids_of_another_facility_under_ones_own_slug_get_404(
    liaison_client, facility, facility_b, name, method
):
    """Guessing: B's letter or correspondence id with A's own facility slug."""
    guessed = SimpleNamespace(**{**vars(facility_b), "facility": facility})
    response = request_as(liaison_client, name, method, guessed)
    # The find page is A's own: it answers "not found" for B's reference.
    assert response.status_code == (200 if name == "return_find" and method == "GET" else 404)
    assert_untouched(facility_b)


@pytest.mark.parametrize("name", ["letter_return", "return_choose"])
def test_a_missing_id_gets_the_same_404(liaison_client, facility, name):
    args = [facility.slug, 10**9]
    assert liaison_client.get(reverse(f"liaison_letters:{name}", args=args)).status_code == 404


@pytest.mark.parametrize(("name", "method"), CASES)
def test_the_facilitys_own_liaison_gets_through(client, facility_b, name, method):
    """The control: the 404s above come from the access checks."""
    client.force_login(facility_b.liaison)
    response = request_as(client, name, method, facility_b)
    assert response.status_code in (200, 302)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_a_pen_pal_gets_404_even_the_letters_own_writer(client, facility_b, name, method):
    client.force_login(facility_b.letter.correspondence.pen_pal)
    assert request_as(client, name, method, facility_b).status_code == 404
    assert_untouched(facility_b)


@pytest.mark.parametrize(("name", "method"), CASES)
def test_anonymous_visitors_are_sent_to_log_in(client, facility_b, name, method):
    response = request_as(client, name, method, facility_b)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert_untouched(facility_b)


@pytest.mark.parametrize("name", list(RETURN_TARGETS))
def test_a_liaison_without_mfa_is_asked_to_set_it_up(client, facility_b, name):
    membership = LiaisonFactory(facility=facility_b.facility)
    client.force_login(membership.user)
    response = request_as(client, name, "POST", facility_b)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert_untouched(facility_b)


# --- Query counts on the new pages -------------------------------------------------------------


def test_the_return_pages_take_a_fixed_number_of_queries(
    liaison_client, liaison, facility, letter, django_assert_max_num_queries
):
    for _ in range(4):
        another_letter(letter, status=Status.PRINTED, printed_at=timezone.now())
    check_record_return(liaison, another_letter(letter, status=Status.PRINTED), "refused", "")
    check_record_return(liaison, another_letter(letter, status=Status.PRINTED), "moved", "")
    with django_assert_max_num_queries(8):
        assert liaison_client.get(letter_return_url(letter)).status_code == 200
    with django_assert_max_num_queries(6):
        assert liaison_client.get(return_find_url(facility)).status_code == 200
    with django_assert_max_num_queries(9):
        assert liaison_client.get(return_choose_url(letter.correspondence)).status_code == 200


# --- The admin -------------------------------------------------------------------------------


@pytest.fixture
def moderator_client(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    return client


def admin_return_url(letter) -> str:
    return reverse("admin:messaging_letter_record_return", args=[letter.pk])


def test_staff_record_a_return_in_the_admin(
    moderator_client, moderator, letter, eager_tasks, django_capture_on_commit_callbacks
):
    change_url = reverse("admin:messaging_letter_change", args=[letter.pk])
    page = moderator_client.get(change_url).content.decode()
    assert admin_return_url(letter) in page
    assert moderator_client.get(admin_return_url(letter)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator_client.post(
            admin_return_url(letter), {"reason": Reason.RELEASED, "note": ""}
        )
    assert response.status_code == 302 and response["Location"] == change_url
    letter.refresh_from_db()
    assert letter.status == Status.RETURNED and letter.returned_by == moderator
    assert len(mail.outbox) == 1
    # The change page and the list show the status with its reason; no button any more.
    page = moderator_client.get(change_url).content.decode()
    assert admin_return_url(letter) not in page
    assert "The person has been released" in page
    listing = moderator_client.get(reverse("admin:messaging_letter_changelist")).content.decode()
    assert "Returned by the facility: The person has been released" in listing
    # Again: nothing changes.
    moderator_client.post(admin_return_url(letter), {"reason": Reason.MOVED, "note": ""})
    letter.refresh_from_db()
    assert letter.return_reason == Reason.RELEASED
    assert len(mail.outbox) == 1


def test_the_admin_offers_no_return_for_a_letter_not_printed(moderator_client, letter):
    waiting = another_letter(letter, status=Status.APPROVED)
    change_url = reverse("admin:messaging_letter_change", args=[waiting.pk])
    assert admin_return_url(waiting) not in moderator_client.get(change_url).content.decode()
    response = moderator_client.post(admin_return_url(waiting), {"reason": Reason.MOVED})
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == Status.APPROVED


def test_the_admin_return_page_is_for_staff_only(client, liaison, rosa, letter):
    activate_totp(liaison)
    for user in (liaison, rosa):
        client.force_login(user)
        response = client.post(admin_return_url(letter), {"reason": Reason.MOVED})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    client.logout()
    assert client.get(admin_return_url(letter))["Location"].startswith(reverse("admin:login"))
    letter.refresh_from_db()
    assert letter.status == Status.PRINTED


def test_the_admin_return_page_of_a_missing_letter_is_404(moderator_client):
    assert (
        moderator_client.get(
            reverse("admin:messaging_letter_record_return", args=[10**9])
        ).status_code
        == 404
    )
