"""Reports, no-contact orders, protection requests and writing suspensions in
the admin, and the liaison portal's no-contact orders.

The neutral refusal on an email match and the flag on a name match are
covered in tests/messaging/test_letter_services.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import Correspondence, Letter
from messaging.services import (
    NOT_ACCEPTING_MESSAGE,
    SUSPENDED_MESSAGE,
    LetterRefused,
    enforce_no_contact_order,
    writing_refusal,
)
from moderation.models import ModerationItem, NoContactOrder, ProtectionRequest, WritingSuspension
from moderation.protection import (
    ProtectionRefused,
    check_suspend_writer,
    do_create_protection_request,
    do_grant_no_contact_order,
    do_pause_requested_profile,
)
from moderation.reports import check_report
from profiles.models import InmateProfile, LiaisonAction
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    PenPalFactory,
    activate_totp,
    write_letter,
)

pytestmark = pytest.mark.django_db

REPORTS = reverse("admin:moderation_report_changelist")
REQUESTS = reverse("admin:moderation_protectionrequest_changelist")
ORDERS = reverse("admin:moderation_nocontactorder_changelist")
SUSPENSIONS = reverse("admin:moderation_writingsuspension_changelist")


@pytest.fixture
def staff_client(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    return client


@pytest.fixture
def profile():
    return InmateProfileFactory.published(display_name="Marcus", inmate_number="Z-4242")


@pytest.fixture
def correspondence(alice, profile):
    return CorrespondenceFactory(pen_pal=alice, profile=profile)


def act(client, url, action, objects, **extra):
    return client.post(
        url, {"action": action, "_selected_action": [o.pk for o in objects], **extra}, follow=True
    )


# --- Report admin ------------------------------------------------------------------------


def test_the_report_list_shows_what_is_needed_in_constant_queries(
    staff_client, alice, bob, charlie, profile, correspondence, django_assert_max_num_queries
):
    letter = LetterFactory(correspondence=correspondence)
    check_report(bob, profile, "money", "Asked me for a gift card")
    check_report(charlie, letter, "threat")
    check_report(bob, alice, "scam")
    with django_assert_max_num_queries(14):
        response = staff_client.get(REPORTS)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Asks for money or gifts" in body and "Threatening or harassing" in body
    assert "Profile: Marcus" in body and "User: Alice" in body
    assert "inmate profile" in body and "letter" in body
    assert "Bob" in body and "Charlie" in body
    assert "Pending" in body
    assert "Z-4242" not in body
    # The target is linked.
    assert reverse("admin:profiles_inmateprofile_change", args=[profile.pk]) in body

    # Each further report adds no query.
    for _ in range(3):
        check_report(PenPalFactory(), profile, "other")
    with django_assert_max_num_queries(14):
        staff_client.get(REPORTS)


def test_reports_filter_by_review_status(staff_client, bob, charlie, profile, moderator):
    decided = check_report(bob, profile, "money")
    check_report(charlie, profile, "other")
    item = ModerationItem.objects.for_object(decided).get()
    item.status = ModerationItem.Status.APPROVED
    item.save()
    response = staff_client.get(REPORTS, {"item_status": "pending"})
    assert list(response.context["cl"].result_list) == [
        r for r in response.context["cl"].result_list if r.item_status == "pending"
    ]
    assert len(response.context["cl"].result_list) == 1


def test_pausing_a_reported_profile_is_audited_and_closes_the_review(
    staff_client, moderator_with_mfa, bob, profile
):
    report = check_report(bob, profile, "money")
    response = act(staff_client, REPORTS, "pause_target_profile", [report])
    assert "Paused the profile of 1 report(s)." in response.content.decode()
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PAUSED
    action = LiaisonAction.objects.get(profile=profile, kind=LiaisonAction.Kind.PAUSED)
    assert action.actor == moderator_with_mfa
    item = ModerationItem.objects.for_object(report).get()
    assert item.status == ModerationItem.Status.APPROVED
    assert item.decided_by == moderator_with_mfa


def test_pausing_refuses_a_report_about_a_user(staff_client, alice, bob):
    report = check_report(bob, alice, "scam")
    response = act(staff_client, REPORTS, "pause_target_profile", [report])
    assert "it is not about a profile" in response.content.decode()
    assert ModerationItem.objects.for_object(report).get().status == "pending"


def test_suspending_the_writer_asks_why_then_stops_their_letters(
    staff_client, alice, bob, profile, correspondence
):
    earlier = write_letter(alice, profile, "My earlier letter, still to be reviewed.")
    report = check_report(bob, alice, "scam")

    page = act(staff_client, REPORTS, "suspend_target_writer", [report])
    assert "Suspend these pen pals from writing?" in page.content.decode()
    assert not WritingSuspension.objects.exists()
    refused = act(
        staff_client, REPORTS, "suspend_target_writer", [report], confirm="yes", reason=""
    )
    assert "This field is required." in refused.content.decode()
    done = act(
        staff_client, REPORTS, "suspend_target_writer", [report], confirm="yes", reason="Scams"
    )
    assert "Suspended the writer of 1 report(s)." in done.content.decode()

    suspension = WritingSuspension.objects.active().get(user=alice)
    assert "Scams" in suspension.reason
    assert writing_refusal(alice, profile) == SUSPENDED_MESSAGE
    with pytest.raises(LetterRefused, match="suspended from writing"):
        write_letter(alice, profile, "Another one")
    # What they already sent stays, in the queue, for staff to read.
    earlier.refresh_from_db()
    assert earlier.status == Letter.Status.SUBMITTED
    assert Letter.objects.filter(created_by=alice).count() == 1


def test_suspending_from_an_outbound_letter_report_suspends_its_writer(
    staff_client, alice, bob, correspondence
):
    letter = LetterFactory(correspondence=correspondence)
    report = check_report(bob, letter, "threat")
    act(staff_client, REPORTS, "suspend_target_writer", [report], confirm="yes", reason="Threat")
    assert WritingSuspension.objects.active().filter(user=alice).exists()


def test_lifting_a_suspension_lets_them_write_again(staff_client, moderator, alice, profile):
    suspension = check_suspend_writer(alice, moderator, "Pattern of rejected letters")
    # Suspending twice keeps one active suspension.
    assert check_suspend_writer(alice, moderator, "Again") == suspension
    response = act(staff_client, SUSPENSIONS, "lift_selected", [suspension])
    assert "Lifted 1 suspension(s)." in response.content.decode()
    assert writing_refusal(alice, profile) == ""


def test_staff_accounts_cannot_be_suspended(moderator):
    with pytest.raises(ProtectionRefused):
        check_suspend_writer(moderator, moderator, "No")


def test_a_suspension_can_be_added_in_the_admin_once(staff_client, alice, moderator_with_mfa):
    add = reverse("admin:moderation_writingsuspension_add")
    staff_client.post(add, {"user": alice.pk, "reason": "Rejected letters"})
    suspension = WritingSuspension.objects.get()
    assert suspension.created_by == moderator_with_mfa
    again = staff_client.post(add, {"user": alice.pk, "reason": "Again"})
    assert "already suspended from writing" in again.content.decode()
    staff = staff_client.post(add, {"user": moderator_with_mfa.pk, "reason": "x"})
    assert "Staff accounts cannot be suspended" in staff.content.decode()
    assert WritingSuspension.objects.count() == 1


def test_closing_a_reported_correspondence(staff_client, alice, profile, correspondence):
    letter = LetterFactory(correspondence=correspondence, direction="in", created_by=None)
    report = check_report(alice, letter, "threat")
    response = act(staff_client, REPORTS, "close_target_correspondence", [report])
    assert "Closed 1 correspondence(s)." in response.content.decode()
    correspondence.refresh_from_db()
    assert correspondence.close_reason == Correspondence.CloseReason.MODERATOR
    assert correspondence.closed_at is not None
    assert "closed" in writing_refusal(alice, profile, correspondence)
    # An inmate's letter has no pen pal writer to suspend.
    response = act(
        staff_client, REPORTS, "suspend_target_writer", [report], confirm="yes", reason="x"
    )
    assert "no pen pal wrote what it points to" in response.content.decode()


# --- No-contact order admin --------------------------------------------------------------------


def test_staff_record_an_order_that_refuses_the_writer(
    staff_client, moderator_with_mfa, alice, profile, correspondence
):
    response = staff_client.post(
        reverse("admin:moderation_nocontactorder_add"),
        {"profile": profile.pk, "name": "", "email": " ALICE@example.org ", "note": "Court order", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    order = NoContactOrder.objects.get()
    assert order.created_by == moderator_with_mfa
    assert order.email == "alice@example.org"
    assert writing_refusal(alice, profile) == NOT_ACCEPTING_MESSAGE
    correspondence.refresh_from_db()
    assert correspondence.close_reason == Correspondence.CloseReason.MODERATOR


def test_an_order_needs_a_name_or_an_email(staff_client, profile):
    response = staff_client.post(
        reverse("admin:moderation_nocontactorder_add"),
        {"profile": profile.pk, "name": "", "email": "", "note": "", "is_active": "on"},
    )
    assert response.status_code == 200
    assert not NoContactOrder.objects.exists()


def test_orders_are_found_by_email_or_name_and_never_by_inmate_number(staff_client, profile):
    NoContactOrder.objects.create(profile=profile, name="Pat Example", email="pat@example.org")
    NoContactOrder.objects.create(
        profile=InmateProfileFactory.published(), name="Someone", email="someone@example.org"
    )
    for query in ("pat@example.org", "PAT@example.org", "Pat Example"):
        response = staff_client.get(ORDERS, {"q": query})
        assert [o.name for o in response.context["cl"].result_list] == ["Pat Example"], query
    # A moderator may not see inmate numbers, so may not test one either; nor
    # guess an address by its start.
    for query in ("Z-4242", "pat@"):
        assert list(staff_client.get(ORDERS, {"q": query}).context["cl"].result_list) == [], query
    assert "Z-4242" not in staff_client.get(ORDERS).content.decode()


# --- Protection requests: one step ------------------------------------------------------------


def make_request(profile, **fields) -> ProtectionRequest:
    return do_create_protection_request(
        {
            "profile": profile,
            "relationship": "self",
            "ask": "no_contact",
            "requester_name": "Alice Victim",
            "requester_email": "alice@example.org",
            **fields,
        }
    )


def test_one_step_turns_a_request_into_a_no_contact_order(
    staff_client, moderator_with_mfa, alice, profile, correspondence
):
    protection_request = make_request(profile)
    response = act(staff_client, REQUESTS, "grant_no_contact_order", [protection_request])
    assert "No-contact order recorded: 1 request(s)." in response.content.decode()

    protection_request.refresh_from_db()
    order = protection_request.no_contact_order
    assert protection_request.status == ProtectionRequest.Status.NO_CONTACT_ORDER
    assert protection_request.resolved_by == moderator_with_mfa
    assert (order.profile, order.email, order.name) == (
        profile,
        "alice@example.org",
        "Alice Victim",
    )
    assert order.created_by == moderator_with_mfa
    item = ModerationItem.objects.for_object(protection_request).get()
    assert item.status == ModerationItem.Status.APPROVED
    # The person protected is now refused, neutrally, and the open pair is closed.
    assert writing_refusal(alice, profile) == NOT_ACCEPTING_MESSAGE
    correspondence.refresh_from_db()
    assert correspondence.is_closed

    # A second step on the same request is refused, not repeated.
    again = act(staff_client, REQUESTS, "grant_no_contact_order", [protection_request])
    assert "was already handled" in again.content.decode()
    assert NoContactOrder.objects.count() == 1


def test_one_step_turns_a_request_into_a_paused_profile(staff_client, moderator_with_mfa, profile):
    protection_request = make_request(profile, ask="review")
    response = act(staff_client, REQUESTS, "pause_requested_profile", [protection_request])
    assert "Profile paused: 1 request(s)." in response.content.decode()
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PAUSED
    protection_request.refresh_from_db()
    assert protection_request.status == ProtectionRequest.Status.PROFILE_PAUSED
    assert LiaisonAction.objects.filter(
        profile=profile, kind="paused", actor=moderator_with_mfa
    ).exists()


def test_a_request_without_a_profile_asks_staff_to_choose_it_first(
    staff_client, moderator, profile
):
    protection_request = make_request(None, profile_description="Marcus, somewhere")
    response = act(staff_client, REQUESTS, "grant_no_contact_order", [protection_request])
    assert "names no profile" in response.content.decode()
    assert not NoContactOrder.objects.exists()
    # Staff choose the profile on the request, then the step works.
    change = reverse("admin:moderation_protectionrequest_change", args=[protection_request.pk])
    assert staff_client.post(change, {"profile": profile.pk}).status_code == 302
    protection_request.refresh_from_db()
    assert protection_request.profile == profile
    assert protection_request.requester_name == "Alice Victim"
    do_pause_requested_profile(protection_request, moderator)
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PAUSED


def test_an_advocates_request_protects_the_person_named_not_the_advocate(moderator, profile):
    protection_request = make_request(
        profile, relationship="advocate", protected_name="Robin Survivor", protected_email=""
    )
    order = do_grant_no_contact_order(protection_request, moderator)
    assert (order.name, order.email) == ("Robin Survivor", "")


def test_the_request_list_shows_requests_without_private_profile_data(staff_client, profile):
    make_request(profile)
    body = staff_client.get(REQUESTS).content.decode()
    assert "Marcus" in body and "Z-4242" not in body


# --- Liaison portal -----------------------------------------------------------------------------


@pytest.fixture
def liaison_profile(liaison):
    facility = liaison.facility_memberships.get().facility
    return InmateProfileFactory.published(facility=facility, display_name="Lee")


def liaison_url(profile) -> str:
    return reverse("liaison_safety:no_contact_orders", args=[profile.pk])


def test_a_liaison_records_an_order_for_their_facility(
    client, liaison, liaison_profile, alice, django_assert_max_num_queries
):
    activate_totp(liaison)
    client.force_login(liaison)
    pair = CorrespondenceFactory(pen_pal=alice, profile=liaison_profile)
    response = client.post(
        liaison_url(liaison_profile),
        {"name": "Alice", "email": "alice@example.org", "note": "Victim of the offence"},
        follow=True,
    )
    assert "No-contact order recorded" in response.content.decode()
    order = NoContactOrder.objects.get()
    assert (order.profile, order.created_by) == (liaison_profile, liaison)
    assert writing_refusal(alice, liaison_profile) == NOT_ACCEPTING_MESSAGE
    # The correspondence is closed out of the liaison's sight, by the task.
    pair.refresh_from_db()
    assert not pair.is_closed
    enforce_no_contact_order(order.pk)
    pair.refresh_from_db()
    assert pair.is_closed
    # In the facility's audit trail, naming the order but not the protected person.
    action = LiaisonAction.objects.get(kind=LiaisonAction.Kind.NO_CONTACT_ORDER)
    assert (action.actor, action.profile, action.detail) == (
        liaison,
        liaison_profile,
        {"order": order.pk},
    )
    with django_assert_max_num_queries(12):
        page = client.get(liaison_url(liaison_profile))
    assert "alice@example.org" in page.content.decode()
    assert "no-store" in page["Cache-Control"]


def test_a_liaisons_order_needs_a_name_or_an_email(client, liaison, liaison_profile):
    activate_totp(liaison)
    client.force_login(liaison)
    response = client.post(liaison_url(liaison_profile), {"name": " ", "email": "", "note": ""})
    assert "Give a name, an email address, or both." in response.content.decode()
    response = client.post(liaison_url(liaison_profile), {"name": "", "email": "nope", "note": ""})
    assert "Enter a valid email address." in response.content.decode()
    assert not NoContactOrder.objects.exists()


def test_other_facilities_and_other_people_get_404(client, liaison, alice, liaison_profile):
    elsewhere = InmateProfileFactory.published()
    activate_totp(liaison)
    client.force_login(liaison)
    assert client.get(liaison_url(elsewhere)).status_code == 404
    assert (
        client.post(liaison_url(elsewhere), {"name": "X", "email": "", "note": ""}).status_code
        == 404
    )
    assert not NoContactOrder.objects.exists()
    # A pen pal (with MFA, so the middleware lets them through) is not a liaison.
    activate_totp(alice)
    client.force_login(alice)
    assert client.get(liaison_url(liaison_profile)).status_code == 404


def test_the_liaison_page_needs_login_and_mfa(client, liaison, liaison_profile):
    response = client.get(liaison_url(liaison_profile))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    client.force_login(liaison)
    response = client.get(liaison_url(liaison_profile))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
