"""The moderators' workspace: the queue's order, filters, search, claiming,
next item, bulk decisions, escalation, the dashboard and the paginator."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from messaging.models import Letter
from messaging.services import screen_letter
from moderation.admin import ModerationItemAdmin
from moderation.models import ModerationDecision, ModerationItem
from moderation.paginator import EstimatedCountPaginator, estimated_row_count
from moderation.services import claim, next_item
from profiles.models import InmateProfile
from tests.factories import (
    FacilityFactory,
    InmateProfileFactory,
    ModeratorFactory,
    UserFactory,
    activate_totp,
    write_letter,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:moderation_moderationitem_changelist")
NEXT = reverse("admin:moderation_moderationitem_next")
_fake_ids = itertools.count(10_000_000)


def change_url(item):
    return reverse("admin:moderation_moderationitem_change", args=[item.pk])


def make_item(*, kind="profile", risk=0, flags=(), facility=None, age_hours=0, **fields):
    """An item for the list only: its object id points at nothing (the list never loads it)."""
    item = ModerationItem.objects.create(
        kind=kind,
        content_type=ContentType.objects.get_for_model(InmateProfile),
        object_id=next(_fake_ids),
        risk_score=risk,
        flags=list(flags),
        facility=facility,
        summary=fields.pop("summary", f"{kind} risk {risk}"),
        **fields,
    )
    # created_at is auto_now_add: age it afterwards.
    ModerationItem.objects.filter(pk=item.pk).update(
        created_at=timezone.now() - timedelta(hours=age_hours)
    )
    item.refresh_from_db()
    return item


def listed(response) -> list[int]:
    return [item.pk for item in response.context["cl"].result_list]


@pytest.fixture
def second_moderator(db):
    other = ModeratorFactory(email="second@example.org", display_name="Sam")
    activate_totp(other)
    return other


@pytest.fixture
def superuser(db):
    admin = UserFactory(
        email="admin@example.org", display_name="Ada", is_staff=True, is_superuser=True
    )
    activate_totp(admin)
    return admin


@pytest.fixture
def mod_client(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    return client


@pytest.fixture
def flagged_letter_item(alice, default_screening_rules):
    letter = write_letter(
        alice, InmateProfileFactory.published(), "Hi friend, send me your cash app please."
    )
    screen_letter(letter.pk)
    return ModerationItem.objects.for_object(letter).get()


# --- Order and filters ---------------------------------------------------------------


def test_it_lists_pending_items_by_risk_then_age(mod_client):
    low_old = make_item(risk=10, age_hours=50)
    high_new = make_item(risk=80, age_hours=1)
    high_old = make_item(risk=80, age_hours=5)
    make_item(risk=99, status=ModerationItem.Status.APPROVED)

    response = mod_client.get(QUEUE)

    assert response.status_code == 200
    assert listed(response) == [high_old.pk, high_new.pk, low_old.pk]


def test_it_shows_decided_items_only_when_asked(mod_client):
    pending = make_item()
    approved = make_item(status=ModerationItem.Status.APPROVED)
    assert listed(mod_client.get(QUEUE, {"status": "approved"})) == [approved.pk]
    assert set(listed(mod_client.get(QUEUE, {"status": "all"}))) == {pending.pk, approved.pk}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind__exact": "letter_out"}, {"letter"}),
        ({"flag": "money"}, {"money"}),
        ({"age": "24h"}, {"old", "older"}),
        ({"age": "72h"}, {"older"}),
    ],
)
def test_it_filters_by_kind_flag_and_age(mod_client, params, expected):
    items = {
        "letter": make_item(kind="letter_out", flags=["contact"]),
        "money": make_item(flags=["money", "threat"]),
        "old": make_item(age_hours=30),
        "older": make_item(age_hours=80),
    }
    response = mod_client.get(QUEUE, params)
    assert set(listed(response)) == {items[name].pk for name in expected}


def test_it_filters_by_facility(mod_client):
    here, there = FacilityFactory(), FacilityFactory()
    mine = make_item(facility=here)
    make_item(facility=there)
    assert listed(mod_client.get(QUEUE, {"facility__id__exact": here.pk})) == [mine.pk]


def test_it_filters_by_claim(mod_client, moderator_with_mfa, second_moderator):
    soon = timezone.now() + timedelta(minutes=5)
    mine = make_item(claimed_by=moderator_with_mfa, claimed_until=soon)
    theirs = make_item(claimed_by=second_moderator, claimed_until=soon)
    expired = make_item(
        claimed_by=second_moderator, claimed_until=timezone.now() - timedelta(minutes=1)
    )
    free = make_item()

    assert listed(mod_client.get(QUEUE, {"claimed": "mine"})) == [mine.pk]
    assert listed(mod_client.get(QUEUE, {"claimed": "others"})) == [theirs.pk]
    assert set(listed(mod_client.get(QUEUE, {"claimed": "no"}))) == {expired.pk, free.pk}


def test_it_shows_the_claim_flags_and_preview_in_the_list(mod_client, second_moderator):
    make_item(
        flags=["money"],
        summary="Asks for a cash app\nsecond line",
        claimed_by=second_moderator,
        claimed_until=timezone.now() + timedelta(minutes=5),
    )
    html = mod_client.get(QUEUE).content.decode()
    assert '<span class="queue-flag">Money request</span>' in html
    assert "Asks for a cash app\nsecond line" in html
    assert "Sam until" in html


def test_it_escapes_the_preview(mod_client):
    make_item(summary="<script>alert(1)</script>")
    html = mod_client.get(QUEUE).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_escalated_items_have_a_filter_for_admins_only(client, moderator_with_mfa, superuser):
    escalated = make_item(status=ModerationItem.Status.ESCALATED)
    client.force_login(superuser)
    response = client.get(QUEUE, {"status": "escalated"})
    assert listed(response) == [escalated.pk]
    assert "?status=escalated" in response.content.decode()
    client.force_login(moderator_with_mfa)
    assert "?status=escalated" not in client.get(QUEUE).content.decode()


# --- Search --------------------------------------------------------------------------


@pytest.fixture
def searchable(alice, bob, default_screening_rules):
    """A letter item from alice to Marcus (A777001) and a profile item of Marcus;
    an unrelated letter from bob to someone else."""
    from moderation.services import submit_for_review

    marcus = InmateProfileFactory.published(display_name="Marcus", inmate_number="A777001")
    other = InmateProfileFactory.published(display_name="Zed", inmate_number="B1")
    alice_letter = write_letter(alice, marcus, "Hello Marcus, how are you?")
    bob_letter = write_letter(bob, other, "Hello Zed.")
    for letter in (alice_letter, bob_letter):
        screen_letter(letter.pk)
    return {
        "alice_letter": ModerationItem.objects.for_object(alice_letter).get(),
        "bob_letter": ModerationItem.objects.for_object(bob_letter).get(),
        "marcus_profile": submit_for_review(marcus, "profile_change", facility=marcus.facility),
        "code": alice_letter.correspondence.code,
    }


# Moderators find items by what they may see; an inmate number or a pen pal's
# email (private facts) finds nothing for them, so a guess confirms nothing.
# Superusers search by both.
@pytest.mark.parametrize(
    ("term", "for_moderator", "for_superuser"),
    [
        ("A777001", set(), {"alice_letter", "marcus_profile"}),
        ("marcus", {"alice_letter", "marcus_profile"}, {"alice_letter", "marcus_profile"}),
        ("ALICE@example.org", set(), {"alice_letter"}),
        ("bob@example.org", set(), {"bob_letter"}),
        ("code", {"alice_letter"}, {"alice_letter"}),
        ("nobody-at-all", set(), set()),
    ],
)
def test_it_searches_by_what_each_role_may_see(
    client, moderator_with_mfa, superuser, searchable, term, for_moderator, for_superuser
):
    if term == "code":
        term = searchable["code"].lower().replace("-", " ")  # as typed off an envelope
    for user, expected in ((moderator_with_mfa, for_moderator), (superuser, for_superuser)):
        client.force_login(user)
        response = client.get(QUEUE, {"q": term})
        assert response.status_code == 200
        assert set(listed(response)) == {searchable[name].pk for name in expected}, user


# --- Query counts and paginator ------------------------------------------------------


def test_the_list_runs_the_same_queries_for_5_or_50_items(
    mod_client, django_assert_max_num_queries, second_moderator
):
    def fill(count):
        for number in range(count):
            make_item(
                kind=["profile", "photo", "letter_out", "letter_in", "report"][number % 5],
                facility=FacilityFactory() if number % 2 else None,
                claimed_by=second_moderator if number % 3 else None,
                claimed_until=timezone.now() + timedelta(minutes=5),
                flags=["money"],
            )

    fill(5)
    mod_client.get(QUEUE)  # warm the content type cache
    with django_assert_max_num_queries(14) as five:
        mod_client.get(QUEUE)
    fill(45)
    with django_assert_max_num_queries(len(five)) as fifty:
        response = mod_client.get(QUEUE)
    assert len(listed(response)) == ModerationItemAdmin.list_per_page
    assert len(fifty) == len(five)


def test_the_item_page_runs_the_same_queries_whatever_its_history_holds(
    mod_client, flagged_letter_item, second_moderator, django_assert_max_num_queries
):
    """The letter under review, its hits, its history and its claim: a fixed
    number of queries, one decision in the history or many."""
    url = change_url(flagged_letter_item)
    mod_client.get(url)  # claims it; warms the content type cache

    def add_history(count):
        for number in range(count):
            ModerationDecision.objects.create(
                item=flagged_letter_item,
                moderator=second_moderator,
                status=ModerationItem.Status.ESCALATED,
                note=f"Escalation {number}",
            )

    add_history(1)
    with django_assert_max_num_queries(20) as short:
        assert mod_client.get(url).status_code == 200
    add_history(20)
    with django_assert_max_num_queries(len(short)) as long:
        response = mod_client.get(url)
    assert response.content.decode().count("Escalation ") >= 21
    assert len(long) == len(short)


def test_the_paginator_counts_small_results_exactly():
    for _ in range(3):
        make_item()
    paginator = EstimatedCountPaginator(ModerationItem.objects.pending(), 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2


def test_the_paginator_uses_the_planners_estimate_above_the_threshold(
    django_assert_num_queries,
):
    for _ in range(3):
        make_item()
    queryset = ModerationItem.objects.filter(risk_score__gte=0)
    estimate = estimated_row_count(queryset)
    assert estimate > 0  # the planner never estimates zero rows

    class TinyThreshold(EstimatedCountPaginator):
        exact_up_to = 1

    with django_assert_num_queries(2) as queries:
        count = TinyThreshold(queryset, 50).count
    # Two rows counted (the bound) say "more than one": the estimate decides,
    # but never below what was counted.
    assert count == max(2, estimate)
    bounded, explain = (query["sql"] for query in queries.captured_queries)
    assert "LIMIT 2" in bounded
    assert explain.startswith("EXPLAIN (FORMAT JSON)")


def test_the_paginator_never_counts_more_rows_than_its_bound(django_assert_num_queries):
    for _ in range(5):
        make_item()

    class SmallBound(EstimatedCountPaginator):
        exact_up_to = 10

    with django_assert_num_queries(1) as queries:
        assert SmallBound(ModerationItem.objects.pending(), 2).count == 5
    assert "LIMIT 11" in queries.captured_queries[0]["sql"]


# --- Claiming and next item ----------------------------------------------------------


def test_opening_an_item_claims_it(mod_client, moderator_with_mfa):
    item = make_item()
    assert mod_client.get(change_url(item)).status_code == 200
    item.refresh_from_db()
    assert item.claimed_by == moderator_with_mfa
    assert item.claimed_until > timezone.now() + timedelta(minutes=9)


def test_opening_an_item_another_holds_warns_and_keeps_their_claim(
    client, moderator_with_mfa, second_moderator
):
    item = make_item()
    assert claim(item, second_moderator)
    client.force_login(moderator_with_mfa)
    html = client.get(change_url(item)).content.decode()
    assert "Claimed by Sam until" in html
    item.refresh_from_db()
    assert item.claimed_by == second_moderator


def test_a_claim_expires(moderator_with_mfa, second_moderator):
    item = make_item()
    assert claim(item, second_moderator)
    assert not claim(item, moderator_with_mfa)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert claim(item, moderator_with_mfa)
    item.refresh_from_db()
    assert item.claimed_by == moderator_with_mfa


def test_claiming_an_item_releases_the_moderators_other_claim(moderator_with_mfa):
    first, second = make_item(), make_item()
    claim(first, moderator_with_mfa)
    claim(second, moderator_with_mfa)
    first.refresh_from_db()
    assert first.claimed_by is None


def test_next_item_skips_live_claims_of_others(moderator_with_mfa, second_moderator):
    top = make_item(risk=90)
    middle = make_item(risk=50)
    make_item(risk=10)
    claim(top, second_moderator)

    taken = next_item(moderator_with_mfa)

    assert taken.pk == middle.pk
    middle.refresh_from_db()
    assert middle.claimed_by == moderator_with_mfa
    # Asking again moves on (and frees the previous one) rather than repeating it.
    assert next_item(moderator_with_mfa).risk_score == 10
    middle.refresh_from_db()
    assert middle.claimed_by is None


def test_next_item_takes_an_expired_claim(moderator_with_mfa, second_moderator):
    item = make_item(risk=90)
    claim(item, second_moderator)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert next_item(moderator_with_mfa).pk == item.pk


def test_the_next_button_opens_the_claimed_item(mod_client, moderator_with_mfa):
    item = make_item(risk=70)
    response = mod_client.post(NEXT)
    assert response.status_code == 302
    assert response["Location"] == change_url(item)
    item.refresh_from_db()
    assert item.claimed_by == moderator_with_mfa


def test_the_next_button_says_when_the_queue_is_empty(mod_client):
    response = mod_client.post(NEXT, follow=True)
    assert "The queue is empty" in response.content.decode()
    assert mod_client.get(NEXT).status_code == 405


def test_next_item_is_for_moderators_only(client, alice):
    make_item()
    assert client.post(NEXT).status_code == 302  # to the login page
    activate_totp(alice)
    client.force_login(alice)
    response = client.post(NEXT)
    assert response.status_code in (302, 403)
    assert ModerationItem.objects.filter(claimed_by=alice).count() == 0


# --- Bulk decisions ------------------------------------------------------------------


@pytest.fixture
def profile_items():
    from moderation.services import submit_for_review

    items = []
    for _ in range(3):
        profile = InmateProfileFactory(status=InmateProfile.Status.PENDING_REVIEW)
        items.append(submit_for_review(profile, "profile", facility=profile.facility))
    return items


def seen_versions(items) -> dict[str, str]:
    """The versions a bulk confirmation page carries for the items it lists."""
    from moderation.services import current_version

    return {f"seen_version_{item.pk}": current_version(item) for item in items}


def bulk(client, action, items, **extra):
    return client.post(
        QUEUE,
        {
            "action": action,
            "_selected_action": [item.pk for item in items],
            **seen_versions(items),
            **extra,
        },
        follow=True,
    )


def test_bulk_approve_asks_for_confirmation_first(mod_client, profile_items):
    response = bulk(mod_client, "approve_selected", profile_items)
    html = response.content.decode()
    assert "Approve these 3 items?" in html
    assert 'name="confirm"' in html
    assert ModerationItem.objects.pending().count() == 3


def test_bulk_approve_decides_each_and_reports_the_already_decided(
    mod_client, profile_items, second_moderator
):
    from moderation.services import current_version, do_decide

    do_decide(
        profile_items[0].pk,
        second_moderator,
        approve=True,
        seen_version=current_version(profile_items[0]),
    )

    response = bulk(mod_client, "approve_selected", profile_items, confirm="yes")

    html = response.content.decode()
    assert "Approved 2 item(s)." in html
    assert "1 selected item(s) were already decided" in html
    assert ModerationItem.objects.filter(status="approved").count() == 3
    assert ModerationDecision.objects.filter(item=profile_items[0]).count() == 1
    assert InmateProfile.objects.filter(status=InmateProfile.Status.PUBLISHED).count() == 3


def test_bulk_decisions_report_items_decided_while_confirming(
    mod_client, profile_items, second_moderator
):
    """The confirmation page lists decided items too when the list shows
    every status; deciding them again is refused by do_decide's lock."""
    from moderation.services import current_version, do_decide

    do_decide(
        profile_items[0].pk,
        second_moderator,
        approve=True,
        seen_version=current_version(profile_items[0]),
    )
    response = mod_client.post(
        f"{QUEUE}?status=all",
        {
            "action": "approve_selected",
            "_selected_action": [item.pk for item in profile_items],
            **seen_versions(profile_items),
            "confirm": "yes",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Approved 2 item(s)." in html
    assert "Left 1 item(s) as they were" in html
    assert "already approved" in html
    assert ModerationDecision.objects.filter(item=profile_items[0]).count() == 1


def test_bulk_reject_needs_a_reason(mod_client, profile_items):
    response = bulk(mod_client, "reject_selected", profile_items, confirm="yes")
    html = response.content.decode()
    assert "Reject these 3 items?" in html
    assert "Choose the reason for the rejection." in html
    assert ModerationItem.objects.pending().count() == 3


def test_bulk_reject_reaches_the_writer_with_the_reason(mod_client, flagged_letter_item, alice):
    response = bulk(
        mod_client,
        "reject_selected",
        [flagged_letter_item],
        confirm="yes",
        reason_code="money",
        note="No money requests, please.",
    )
    assert "Rejected 1 item(s)." in response.content.decode()
    letter = Letter.objects.get(pk=flagged_letter_item.object_id)
    assert letter.status == Letter.Status.REJECTED
    assert letter.rejection_reason == "money"
    assert letter.rejection_note == "No money requests, please."
    decision = ModerationDecision.objects.get(item=flagged_letter_item)
    assert (decision.status, decision.reason_code) == ("rejected", "money")


# --- Escalation and history ----------------------------------------------------------


def decide(client, item, **data):
    url = reverse("admin:moderation_moderationitem_decide", args=[item.pk])
    return client.post(url, data, follow=True)


def test_escalating_needs_a_note(mod_client, flagged_letter_item):
    response = decide(mod_client, flagged_letter_item, decision="escalate")
    assert "Say why you escalate the item." in response.content.decode()
    flagged_letter_item.refresh_from_db()
    assert flagged_letter_item.status == ModerationItem.Status.PENDING


def test_an_escalated_item_waits_for_an_admin(
    client, moderator_with_mfa, superuser, flagged_letter_item
):
    client.force_login(moderator_with_mfa)
    decide(client, flagged_letter_item, decision="escalate", note="Looks like a threat?")
    flagged_letter_item.refresh_from_db()
    assert flagged_letter_item.status == ModerationItem.Status.ESCALATED

    response = decide(client, flagged_letter_item, decision="approve")
    assert "an admin decides it" in response.content.decode()

    client.force_login(superuser)
    page = client.get(change_url(flagged_letter_item)).content.decode()
    assert "Looks like a threat?" in page  # the history inline
    decide(client, flagged_letter_item, decision="reject", reason_code="threat")
    flagged_letter_item.refresh_from_db()
    assert flagged_letter_item.status == ModerationItem.Status.REJECTED
    assert list(flagged_letter_item.decisions.values_list("status", "moderator")) == [
        ("escalated", moderator_with_mfa.pk),
        ("rejected", superuser.pk),
    ]


# --- Dashboard -----------------------------------------------------------------------


def test_the_admin_index_shows_the_queue_dashboard(
    mod_client, moderator_with_mfa, django_assert_max_num_queries
):
    from moderation.services import do_escalate

    make_item(kind="letter_out", age_hours=30)
    make_item(kind="letter_out")
    make_item(kind="report")
    escalated = make_item()
    do_escalate(escalated.pk, moderator_with_mfa, note="Check this")

    with django_assert_max_num_queries(12):
        response = mod_client.get(reverse("admin:index"))

    dashboard = response.context["dashboard"]
    assert dashboard.pending_total == 3
    assert ("Letter out", 2) in dashboard.depth_by_kind
    assert dashboard.reports_open == 1
    assert dashboard.escalated == 1
    assert timezone.now() - dashboard.oldest_pending_at > timedelta(hours=29)
    assert dashboard.decisions_today == [(moderator_with_mfa.display_name, 1)]
    assert 'id="queue-dashboard"' in response.content.decode()


def test_the_dashboard_is_hidden_from_staff_without_queue_access(client):
    staff = UserFactory(email="staff@example.org", is_staff=True)
    activate_totp(staff)
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert 'id="queue-dashboard"' not in response.content.decode()
