"""No-contact orders, writing suspensions and inmates' blocks hold against the
ways around them an outsider would try: another spelling of the same mailbox
(case, plus-tags, Gmail's dots), a second account under the same name or
address, a new account after a suspension or a block, and letters approved
before an order existed. A liaison recording an order learns nothing about
pen pals' accounts."""

from __future__ import annotations

import importlib
import re
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging.models import Letter
from messaging.services import (
    NOT_ACCEPTING_MESSAGE,
    LetterRefused,
    check_create_print_batch,
    enforce_no_contact_order,
    screen_letter,
    writing_refusal,
)
from moderation.alerts import EVASION, alert, alert_text
from moderation.models import ModerationItem, NoContactOrder, WritingSuspension
from moderation.protection import check_suspend_writer, do_record_no_contact_order
from moderation.services import do_decide
from penpals.emails import normalize_email, normalize_person_name
from profiles.models import Facility, LiaisonAction
from tests.factories import (
    CorrespondenceFactory,
    FacilityFactory,
    InmateProfileFactory,
    PenPalFactory,
    activate_totp,
    screen_and_decide,
    write_letter,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def facility():
    # "Flagged letters only": a clean letter is approved unread, so only the
    # evasion flag stands between a matching writer and the print queue.
    return FacilityFactory(screening_mode=Facility.ScreeningMode.FLAGGED_ONLY)


@pytest.fixture
def profile(facility):
    return InmateProfileFactory.published(facility=facility, display_name="Marcus")


def order_for(profile, **fields) -> NoContactOrder:
    return NoContactOrder.objects.create(profile=profile, **fields)


def screened(letter: Letter) -> Letter:
    screen_letter(letter.pk)
    letter.refresh_from_db()
    return letter


def pending_item(letter: Letter) -> ModerationItem:
    return ModerationItem.objects.for_object(letter).pending().get()


# --- One normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("Robin@Example.org", "robin@example.org"),
        ("robin+penpals@example.org", "robin@example.org"),
        (" ROBIN+a+b@EXAMPLE.ORG ", "robin@example.org"),
        ("r.o.b.i.n@gmail.com", "robin@gmail.com"),
        ("Rob.In+x@GoogleMail.com", "robin@gmail.com"),
        ("r.obin@example.org", "r.obin@example.org"),  # dots count elsewhere
        ("ｒｏｂｉｎ@example.org", "robin@example.org"),  # full-width letters
        ("rob\u200bin@example.org", "robin@example.org"),  # a zero-width space
        ("", ""),
    ],
)
def test_it_normalises_the_spellings_of_one_mailbox(spelling, canonical):
    assert normalize_email(spelling) == canonical


def test_it_normalises_names_for_matching():
    assert normalize_person_name("  José   O'Neil ") == normalize_person_name("jose oneil")
    assert normalize_person_name("Robin\u200b Survivor") == "robin survivor"
    assert normalize_person_name("Robin Survivor") != normalize_person_name("Robin Surviver")


def test_it_stores_the_normalised_forms_on_the_order(profile):
    order = order_for(profile, name="Robin  SURVIVOR", email="Robin+x@googlemail.com")
    assert (order.email_normalized, order.name_normalized) == ("robin@gmail.com", "robin survivor")


def test_it_fills_the_normalised_forms_of_existing_orders_and_suspensions(profile, alice, bob):
    order = order_for(profile, name="Robin Survivor", email="Robin+x@example.org")
    suspension = WritingSuspension.objects.create(user=alice, reason="threats")
    EmailAddress.objects.create(user=alice, email="alice.second+y@gmail.com", verified=True)
    NoContactOrder.objects.update(email_normalized="", name_normalized="")
    WritingSuspension.objects.update(normalized_emails=[])
    migration = importlib.import_module(
        "moderation.migrations.0010_no_contact_normalized_identifiers"
    )
    migration.fill_normalized_identifiers(apps, None)
    order.refresh_from_db()
    suspension.refresh_from_db()
    assert (order.email_normalized, order.name_normalized) == (
        "robin@example.org",
        "robin survivor",
    )
    assert suspension.normalized_emails == ["alice@example.org", "alicesecond@gmail.com"]


# --- No-contact orders: the address ----------------------------------------------------------


@pytest.mark.parametrize(
    ("order_email", "account_email"),
    [
        ("robin@example.org", "robin+penpals@example.org"),
        ("robin@example.org", "ROBIN@example.org"),
        ("robin.survivor@gmail.com", "r.o.b.i.n.survivor+pp@googlemail.com"),
        ("Robin+court@example.org", "robin@example.org"),
    ],
)
def test_it_refuses_another_spelling_of_the_orders_address(profile, order_email, account_email):
    order_for(profile, email=order_email)
    writer = PenPalFactory(email=account_email, display_name="Someone Else")
    assert writing_refusal(writer, profile) == NOT_ACCEPTING_MESSAGE
    with pytest.raises(LetterRefused) as refused:
        write_letter(writer, profile)
    assert refused.value.message == NOT_ACCEPTING_MESSAGE
    assert not Letter.objects.exists()


def test_it_refuses_an_account_whose_verified_second_address_is_the_orders(profile, bob):
    order_for(profile, email="robin@example.org")
    EmailAddress.objects.create(user=bob, email="Robin+alt@example.org", verified=True)
    assert writing_refusal(bob, profile) == NOT_ACCEPTING_MESSAGE


def test_it_lets_an_unrelated_address_write(profile, bob):
    order_for(profile, email="robin@example.org")
    assert writing_refusal(bob, profile) == ""
    assert writing_refusal(PenPalFactory(email="robin2@example.org"), profile) == ""


def test_an_order_covers_only_its_profile(profile, facility):
    order_for(profile, email="robin@example.org")
    other = InmateProfileFactory.published(facility=facility)
    assert writing_refusal(PenPalFactory(email="robin+x@example.org"), other) == ""


# --- Second and new accounts: held before their first letter --------------------------------


def test_a_clean_letter_of_an_unrelated_writer_is_approved_unread(profile, bob):
    # The control for the tests below: this facility approves clean letters unread.
    order_for(profile, name="Robin Survivor", email="robin@example.org")
    letter = screened(write_letter(bob, profile))
    assert letter.status == Letter.Status.APPROVED


def test_it_holds_a_second_account_under_the_orders_name(
    profile, django_capture_on_commit_callbacks
):
    order = order_for(profile, name="Robin Survivor", email="robin@example.org")
    second = PenPalFactory(email="someone.new@example.net", display_name="  robin   SURVIVOR ")
    with django_capture_on_commit_callbacks(execute=True):
        letter = screened(write_letter(second, profile))
    assert letter.status == Letter.Status.IN_REVIEW  # never approved unread
    item = pending_item(letter)
    assert alert(EVASION) in item.alerts
    assert f"no-contact order #{order.pk}" in " ".join(map(alert_text, letter.screening["alerts"]))
    assert "other" in item.flags
    # Nobody is told anything: no email to the writer about an order.
    assert mail.outbox == []


def test_it_holds_a_new_account_of_a_suspended_writer(profile, alice, moderator):
    check_suspend_writer(alice, moderator, "Threats in letters")
    new_account = PenPalFactory(email="Alice+fresh@Example.org", display_name="Ally")
    assert writing_refusal(new_account, profile) == ""  # the same neutral path as anyone
    letter = screened(write_letter(new_account, profile))
    assert letter.status == Letter.Status.IN_REVIEW
    assert alert(EVASION) in pending_item(letter).alerts
    assert "suspended account" in " ".join(map(alert_text, letter.screening["alerts"]))


def test_a_lifted_suspension_no_longer_holds_new_accounts(profile, alice, moderator):
    suspension = check_suspend_writer(alice, moderator, "Threats in letters")
    WritingSuspension.objects.filter(pk=suspension.pk).update(lifted_at=timezone.now())
    letter = screened(write_letter(PenPalFactory(email="alice+2@example.org"), profile))
    assert letter.status == Letter.Status.APPROVED


def test_it_holds_a_new_account_of_a_writer_the_person_blocked(profile, alice):
    CorrespondenceFactory(pen_pal=alice, profile=profile, blocked_by_inmate_at=timezone.now())
    assert writing_refusal(alice, profile, alice.correspondences.get()) == NOT_ACCEPTING_MESSAGE
    new_account = PenPalFactory(email="alice+again@example.org", display_name="A. New")
    letter = screened(write_letter(new_account, profile))
    assert letter.status == Letter.Status.IN_REVIEW
    assert alert(EVASION) in pending_item(letter).alerts
    # The block was for this person only: writing to someone else is not held.
    elsewhere = InmateProfileFactory.published(facility=profile.facility)
    assert screened(write_letter(new_account, elsewhere)).status == Letter.Status.APPROVED


# --- Letters approved before the order ---------------------------------------------------------


def test_an_order_sends_a_name_matching_writers_approved_letter_back_to_review(
    profile, moderator, facility
):
    facility.screening_mode = Facility.ScreeningMode.EVERY_LETTER
    facility.save()
    writer = PenPalFactory(email="r.s@example.net", display_name="Robin Survivor")
    letter = screen_and_decide(write_letter(writer, profile), moderator)
    assert letter in Letter.objects.print_queue(facility)
    do_record_no_contact_order(moderator, profile, {"name": "robin survivor", "email": ""})
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert letter not in Letter.objects.print_queue(facility)
    assert alert(EVASION) in pending_item(letter).alerts
    # A moderator who saw the flag may let it through; it then prints.
    do_decide(pending_item(letter).pk, moderator, approve=True)
    batch = check_create_print_batch(moderator, facility, None, uuid.uuid4())
    assert list(batch.letters.all()) == [letter]


def test_printing_refuses_a_letter_whose_writer_an_order_made_since_covers(
    profile, moderator, facility, liaison
):
    # The liaison's order is applied by a task; printing before it ran still
    # holds the letter back.
    facility.screening_mode = Facility.ScreeningMode.EVERY_LETTER
    facility.save()
    writer = PenPalFactory(email="robin+pp@example.org", display_name="R")
    letter = screen_and_decide(write_letter(writer, profile), moderator)
    order_for(profile, name="Robin Survivor", email="")
    writer.display_name = "Robin Survivor"
    writer.save()
    with pytest.raises(ValidationError):
        check_create_print_batch(liaison, facility, None, uuid.uuid4())
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert letter.print_batch is None
    assert alert(EVASION) in pending_item(letter).alerts


def test_printing_holds_back_only_the_covered_letters(profile, moderator, facility, bob):
    facility.screening_mode = Facility.ScreeningMode.EVERY_LETTER
    facility.save()
    covered = PenPalFactory(email="robin@example.org", display_name="R")
    held = screen_and_decide(write_letter(covered, profile), moderator)
    kept = screen_and_decide(write_letter(bob, profile), moderator)
    order_for(profile, email="Robin+x@example.org")  # no task has closed anything yet
    batch = check_create_print_batch(moderator, facility, None, uuid.uuid4())
    assert list(batch.letters.all()) == [kept]
    held.refresh_from_db()
    assert held.status == Letter.Status.IN_REVIEW


def test_the_task_closes_the_correspondence_of_another_spelling_of_the_address(profile, bob):
    pair = CorrespondenceFactory(
        pen_pal=PenPalFactory(email="robin+pp@example.org"), profile=profile
    )
    untouched = CorrespondenceFactory(pen_pal=bob, profile=profile)
    order = order_for(profile, email="robin@example.org")
    assert enforce_no_contact_order(order.pk) == 1
    assert enforce_no_contact_order(order.pk) == 1  # twice is the same
    pair.refresh_from_db()
    untouched.refresh_from_db()
    assert pair.is_closed and not untouched.is_closed


# --- A liaison learns nothing about pen pals' accounts ----------------------------------------


def test_a_liaison_gets_the_same_answer_whether_or_not_the_email_has_an_account(
    client, liaison, alice, django_capture_on_commit_callbacks
):
    facility = liaison.facility_memberships.get().facility
    with_account = InmateProfileFactory.published(facility=facility, display_name="Lee")
    without = InmateProfileFactory.published(facility=facility, display_name="Lee")
    pair = CorrespondenceFactory(pen_pal=alice, profile=with_account)
    activate_totp(liaison)
    client.force_login(liaison)

    def record(profile, email):
        url = reverse("liaison_safety:no_contact_orders", args=[profile.pk])
        with (
            django_capture_on_commit_callbacks(execute=True),
            CaptureQueriesContext(connection) as queries,
        ):
            response = client.post(url, {"name": "", "email": email, "note": ""}, follow=True)
        # The profile's id in its URLs (not inside other numbers, "Facility 40").
        page = re.sub(rf"/{profile.pk}/", "/ID/", response.content.decode())
        page = page.replace(email, "EMAIL")
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", page)
        page = re.sub(r'datetime="[^"]*"', "WHEN", page)
        # The same work, query for query: no lookup of the pen pal's account.
        return page, [
            re.sub(
                r"\d+",
                "N",
                query["sql"].replace(email, "EMAIL").replace(normalize_email(email), "EMAIL"),
            )
            for query in queries.captured_queries
        ]

    guessed = record(with_account, "alice+guess@example.org")
    unknown = record(without, "nobody-at-all@example.org")
    assert guessed[0] == unknown[0]
    assert guessed[1] == unknown[1]
    pair.refresh_from_db()
    assert not pair.is_closed  # closed later, by the task, out of the liaison's sight
    details = [
        sorted(action.detail)
        for action in LiaisonAction.objects.filter(kind=LiaisonAction.Kind.NO_CONTACT_ORDER)
    ]
    assert details == [["order"], ["order"]]
    enforce_no_contact_order(NoContactOrder.objects.get(profile=with_account).pk)
    pair.refresh_from_db()
    assert pair.is_closed
