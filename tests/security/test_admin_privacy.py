"""Private facts in the admin, attacked the way a curious moderator would:
through the query string, the search box, the sort parameter, autocomplete,
raw-id popups, history pages and "Recent actions".

An inmate's legal name, date of birth and inmate number, and account emails,
are for superusers (and the facility's liaisons, in the portal) only. Each
probe is made twice, with a true and a false guess: a moderator must get the
same answer to both (and never see the value), while a superuser, who may
test them, gets different answers, which proves the probe can tell.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from messaging.models import Letter
from moderation.models import (
    ModerationDecision,
    ModerationItem,
    NoContactOrder,
    ProtectionRequest,
    Report,
    WritingSuspension,
)
from moderation.services import submit_for_review
from penpals.admin_privacy import PrivateFieldsMixin
from penpals.models import User
from profiles.models import InmateProfile, LiaisonAction
from tests.factories import (
    CorrespondenceFactory,
    FacilityFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    ProfilePhotoFactory,
    UserFactory,
    activate_totp,
)

pytestmark = pytest.mark.django_db

LEGAL_NAME = "Quentin Legalname"
NUMBER = "ZX48213"
BIRTH = datetime.date(1979, 4, 17)
PEN_PAL_EMAIL = "secret-pen-pal@example.org"
ADMIN_EMAIL = "root-admin@example.org"
ORDER_EMAIL = "victim-kim@example.org"
PROJECT_APPS = {"penpals", "profiles", "messaging", "moderation"}


def changelist(model_label: str) -> str:
    app_label, model_name = model_label.split(".")
    return reverse(f"admin:{app_label}_{model_name.lower()}_changelist")


def private_values(world) -> list[str]:
    return [
        LEGAL_NAME,
        NUMBER,
        BIRTH.isoformat(),
        BIRTH.strftime("%B %-d, %Y"),
        BIRTH.strftime("%b. %-d, %Y"),
        PEN_PAL_EMAIL,
        ADMIN_EMAIL,
    ]


def assert_shows_nothing_private(response, world) -> None:
    page = response.content.decode()
    for value in private_values(world):
        assert value not in page, f"{value!r} shown at {response.request['PATH_INFO']}"


def listed(response) -> list[int] | None:
    """The objects a changelist shows, in order (None for a page that is not one)."""
    if response.status_code != 200 or response.context is None or "cl" not in response.context:
        return None
    return [obj.pk for obj in response.context["cl"].result_list]


def answer(client, url: str, params: dict) -> tuple[int, list[int] | None, str]:
    response = client.get(url, params)
    body = response.content.decode() if response.status_code != 200 else ""
    return response.status_code, listed(response), body


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    facility = FacilityFactory(slug="facility-x")
    profile = InmateProfileFactory.published(
        facility=facility,
        display_name="Marcus",
        legal_name=LEGAL_NAME,
        inmate_number=NUMBER,
        date_of_birth=BIRTH,
    )
    # A second profile, so a filter that works shows one of two.
    other = InmateProfileFactory.published(
        facility=facility,
        display_name="Nestor",
        legal_name="Aaron Other",
        inmate_number="QQ11111",
        date_of_birth=datetime.date(1990, 1, 1),
    )
    pen_pal = PenPalFactory(email=PEN_PAL_EMAIL, display_name="")
    correspondence = CorrespondenceFactory(pen_pal=pen_pal, profile=profile)
    letter = LetterFactory(correspondence=correspondence)
    CorrespondenceFactory(profile=other)
    photo = ProfilePhotoFactory(profile=profile)
    ProfilePhotoFactory(profile=other)
    for obj, kind in ((profile, "profile"), (letter, "letter_out"), (photo, "photo")):
        submit_for_review(obj, kind, facility=facility, summary=f"{kind} under review")
    submit_for_review(other, "profile", facility=facility, summary="other profile")
    order = NoContactOrder.objects.create(profile=profile, name="Kim Doe", email=ORDER_EMAIL)
    NoContactOrder.objects.create(profile=other, name="Lee Roe", email="lee@example.org")
    ProtectionRequest.objects.create(
        profile=profile, relationship="self", ask="review", requester_name="Kim",
        requester_email=ORDER_EMAIL,
    )  # fmt: skip
    WritingSuspension.objects.create(user=pen_pal, reason="Scams")
    WritingSuspension.objects.create(user=PenPalFactory(), reason="Spam")
    report = Report.objects.create(
        reporter=pen_pal,
        reason="money",
        content_type=ContentType.objects.get_for_model(InmateProfile),
        object_id=other.pk,
    )
    superuser = UserFactory(email=ADMIN_EMAIL, display_name="", is_staff=True, is_superuser=True)
    activate_totp(superuser)
    moderator = ModeratorFactory(email="mod-private@example.org", display_name="Moe")
    activate_totp(moderator)
    return type(
        "World",
        (),
        dict(
            facility=facility, profile=profile, other=other, pen_pal=pen_pal, letter=letter,
            photo=photo, order=order, report=report, superuser=superuser, moderator=moderator,
            correspondence=correspondence,
        ),
    )  # fmt: skip


@pytest.fixture
def as_moderator(client, world):
    client.force_login(world.moderator)
    return client


@pytest.fixture
def as_superuser(client, world):
    client.force_login(world.superuser)
    return client


# Each probe: (changelist, lookup, a true guess, a false guess).
LOOKUP_PROBES = [
    ("profiles.InmateProfile", "legal_name__istartswith", "Quen", "Zzz"),
    ("profiles.InmateProfile", "legal_name", LEGAL_NAME, "Nobody"),
    ("profiles.InmateProfile", "date_of_birth__lte", "1980-01-01", "1970-01-01"),
    ("profiles.InmateProfile", "date_of_birth__year", "1979", "1978"),
    ("profiles.InmateProfile", "inmate_number__startswith", "ZX", "QZ"),
    ("profiles.InmateProfile", "consent_form__isnull", "False", "True"),
    ("profiles.InmateProfile", "facility__profiles__legal_name__startswith", "Quen", "Zzz"),
    ("profiles.InmateProfile", "consent_confirmed_by__email__startswith", "root", "zzz"),
    ("profiles.ProfilePhoto", "profile__legal_name__startswith", "Quen", "Zzz"),
    ("profiles.ProfilePhoto", "profile__inmate_number", NUMBER, "QZ00000"),
    ("profiles.ProfilePhoto", "profile__date_of_birth__lte", "1980-01-01", "1970-01-01"),
    ("moderation.ModerationItem", "facility__profiles__legal_name__startswith", "Quen", "Zzz"),
    ("moderation.ModerationItem", "facility__profiles__inmate_number", NUMBER, "QZ00000"),
    ("messaging.Correspondence", "profile__legal_name__startswith", "Quen", "Zzz"),
    ("messaging.Correspondence", "pen_pal__email__startswith", "secret", "zzz"),
    ("messaging.Correspondence", "profile__facility__profiles__legal_name", LEGAL_NAME, "No"),
    ("messaging.Letter", "correspondence__profile__legal_name__startswith", "Quen", "Zzz"),
    ("messaging.Letter", "correspondence__profile__facility__profiles__inmate_number", NUMBER, "QZ"),
    ("messaging.Letter", "created_by__email__startswith", "secret", "zzz"),
    ("moderation.NoContactOrder", "profile__legal_name__startswith", "Quen", "Zzz"),
    ("moderation.NoContactOrder", "profile__inmate_number", NUMBER, "QZ00000"),
    ("moderation.ProtectionRequest", "profile__date_of_birth__lte", "1980-01-01", "1970-01-01"),
    ("moderation.WritingSuspension", "user__email__startswith", "secret", "zzz"),
    ("moderation.WritingSuspension", "user__emailaddress__email__startswith", "secret", "zzz"),
    ("moderation.Report", "reporter__email__startswith", "secret", "zzz"),
    ("moderation.Report", "reporter__password__startswith", "md5", "zzz"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "lookup", "true_guess", "false_guess"), LOOKUP_PROBES)
def test_it_refuses_a_moderators_lookup_on_a_private_field(
    as_moderator, world, model, lookup, true_guess, false_guess
):
    url = changelist(model)
    assert as_moderator.get(url).status_code == 200  # the list itself is theirs
    right = answer(as_moderator, url, {lookup: true_guess})
    wrong = answer(as_moderator, url, {lookup: false_guess})
    assert right == wrong, f"{lookup} answers yes or no"
    assert right[0] == 400  # the admin's refusal of a lookup it does not allow


@pytest.mark.parametrize(
    ("lookup", "true_guess", "false_guess"),
    [
        ("legal_name__istartswith", "Quen", "Zzz"),
        ("date_of_birth__lte", "1980-01-01", "1970-01-01"),
        ("inmate_number", NUMBER, "QZ00000"),
    ],
)
def test_it_lets_a_superuser_filter_on_private_fields(
    as_superuser, world, lookup, true_guess, false_guess
):
    # The same probes tell a superuser apart: they would catch an oracle.
    url = changelist("profiles.InmateProfile")
    right = answer(as_superuser, url, {lookup: true_guess})
    wrong = answer(as_superuser, url, {lookup: false_guess})
    assert right[0] == wrong[0] == 200
    assert world.profile.pk in right[1]
    assert world.profile.pk not in wrong[1]


# Each probe: (changelist, a search term that is true, one that is false).
SEARCH_PROBES = [
    ("profiles.InmateProfile", NUMBER, "QZ00000"),
    ("moderation.ModerationItem", NUMBER, "QZ00000"),
    ("moderation.ModerationItem", PEN_PAL_EMAIL, "nobody@example.org"),
    ("moderation.NoContactOrder", NUMBER, "QZ00000"),
    ("moderation.NoContactOrder", "victim", "zzzzzz"),
    ("moderation.ProtectionRequest", NUMBER, "QZ00000"),
    ("moderation.WritingSuspension", PEN_PAL_EMAIL, "nobody@example.org"),
    ("moderation.WritingSuspension", "secret", "zzzzzz"),
]


@pytest.mark.parametrize(("model", "true_term", "false_term"), SEARCH_PROBES)
def test_it_gives_a_moderators_search_the_same_answer_for_a_private_guess(
    as_moderator, world, model, true_term, false_term
):
    url = changelist(model)
    params = {"status": "all"} if model == "moderation.ModerationItem" else {}
    right = answer(as_moderator, url, {**params, "q": true_term})
    wrong = answer(as_moderator, url, {**params, "q": false_term})
    assert right[0] == 200
    assert right[1] == wrong[1] == []


@pytest.mark.parametrize(
    ("model", "true_term", "false_term"),
    [
        ("profiles.InmateProfile", NUMBER, "QZ00000"),
        ("moderation.ModerationItem", NUMBER, "QZ00000"),
        ("moderation.ModerationItem", PEN_PAL_EMAIL, "nobody@example.org"),
        ("moderation.NoContactOrder", NUMBER, "QZ00000"),
        ("moderation.WritingSuspension", PEN_PAL_EMAIL, "nobody@example.org"),
    ],
)
def test_it_lets_a_superuser_search_by_private_facts(
    as_superuser, world, model, true_term, false_term
):
    url = changelist(model)
    params = {"status": "all"} if model == "moderation.ModerationItem" else {}
    right = answer(as_superuser, url, {**params, "q": true_term})
    wrong = answer(as_superuser, url, {**params, "q": false_term})
    assert right[1] and wrong[1] == []


def test_it_finds_an_order_by_its_whole_email_for_a_moderator(as_moderator, world):
    found = answer(as_moderator, changelist("moderation.NoContactOrder"), {"q": ORDER_EMAIL})
    assert found[1] == [world.order.pk]


def test_it_still_finds_items_by_display_name_and_reference(as_moderator, world):
    url = changelist("moderation.ModerationItem")
    by_name = answer(as_moderator, url, {"status": "all", "q": "Marcus"})
    by_code = answer(as_moderator, url, {"status": "all", "q": world.correspondence.code})
    profile_item = ModerationItem.objects.for_object(world.profile).get()
    letter_item = ModerationItem.objects.for_object(world.letter).get()
    assert profile_item.pk in by_name[1]
    assert by_code[1] == [letter_item.pk]


def swap_private_facts(first: InmateProfile, second: InmateProfile) -> None:
    """The two profiles' legal names, birth dates and numbers, exchanged (and
    their pen pals' emails): everything public stays where it was."""
    fields = ("legal_name", "date_of_birth", "inmate_number")
    facts = {pk: InmateProfile.objects.values(*fields).get(pk=pk) for pk in (first.pk, second.pk)}
    InmateProfile.objects.filter(pk=first.pk).update(inmate_number="swap-in-progress")
    InmateProfile.objects.filter(pk=second.pk).update(**facts[first.pk])
    InmateProfile.objects.filter(pk=first.pk).update(**facts[second.pk])
    pen_pals = [User.objects.get(correspondences__profile=profile) for profile in (first, second)]
    emails = [pen_pal.email for pen_pal in pen_pals]
    User.objects.filter(pk=pen_pals[0].pk).update(email="swap-in-progress@example.org")
    User.objects.filter(pk=pen_pals[1].pk).update(email=emails[0])
    User.objects.filter(pk=pen_pals[0].pk).update(email=emails[1])


@pytest.mark.parametrize(
    "model", ["profiles.InmateProfile", "profiles.ProfilePhoto", "messaging.Correspondence",
              "moderation.NoContactOrder", "moderation.ProtectionRequest"],
)  # fmt: skip
def test_it_never_sorts_a_moderators_list_by_a_private_field(as_moderator, world, model):
    # Every ?o= a moderator may send, before and after the two profiles swap
    # their private facts: an order that followed them would flip.
    url = changelist(model)
    orders = [f"{sign}{index}" for index in range(12) for sign in ("", "-")]
    before = {o: answer(as_moderator, url, {"o": o})[:2] for o in orders}
    swap_private_facts(world.profile, world.other)
    after = {o: answer(as_moderator, url, {"o": o})[:2] for o in orders}
    assert before == after


def test_it_never_sorts_by_an_email_for_a_staff_member_who_may_view_users(client, world):
    # A staff member granted the user list (not a superuser) gets no email
    # column, and no ?o= sorts by the email; a superuser's ?o= does.
    world.moderator.user_permissions.add(Permission.objects.get(codename="view_user"))
    first = UserFactory(email="aaa@example.org", display_name="Zed")
    second = UserFactory(email="zzz@example.org", display_name="Abe")
    url = changelist("penpals.User")
    orders = [f"{sign}{index}" for index in range(10) for sign in ("", "-")]

    def sorted_pairs(user) -> dict[str, list[int]]:
        client.force_login(user)
        pairs = {}
        for o in orders:
            pks = answer(client, url, {"o": o})[1]
            pairs[o] = [pk for pk in pks if pk in (first.pk, second.pk)]
        return pairs

    before = sorted_pairs(world.moderator)
    before_admin = sorted_pairs(world.superuser)
    assert "aaa@example.org" not in answer(client, url, {})[2]
    client.force_login(world.moderator)
    assert "aaa@example.org" not in client.get(url).content.decode()
    User.objects.filter(pk=first.pk).update(email="swap@example.org")
    User.objects.filter(pk=second.pk).update(email="aaa@example.org")
    User.objects.filter(pk=first.pk).update(email="zzz@example.org")
    assert sorted_pairs(world.moderator) == before
    assert sorted_pairs(world.superuser) != before_admin  # the probe can tell


def autocomplete(client, app_label: str, model_name: str, field_name: str, term: str):
    return client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )


@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name"),
    [
        ("moderation", "nocontactorder", "profile"),
        ("moderation", "protectionrequest", "profile"),
        ("profiles", "profilephoto", "profile"),
        ("messaging", "correspondence", "profile"),
    ],
)
def test_it_autocompletes_profiles_for_a_moderator_without_private_facts(
    as_moderator, world, app_label, model_name, field_name
):
    right = autocomplete(as_moderator, app_label, model_name, field_name, NUMBER)
    wrong = autocomplete(as_moderator, app_label, model_name, field_name, "QZ00000")
    assert right.status_code == wrong.status_code == 200  # ordered: no warning, no 500
    assert right.json() == wrong.json() == {"results": [], "pagination": {"more": False}}
    by_name = autocomplete(as_moderator, app_label, model_name, field_name, "Marcus")
    assert [row["id"] for row in by_name.json()["results"]] == [str(world.profile.pk)]
    assert_shows_nothing_private(by_name, world)


def test_it_autocompletes_profiles_by_number_for_a_superuser(as_superuser, world):
    found = autocomplete(as_superuser, "moderation", "nocontactorder", "profile", NUMBER)
    assert [row["id"] for row in found.json()["results"]] == [str(world.profile.pk)]
    assert NUMBER not in found.content.decode()  # the label has no number, for anyone


def test_it_refuses_a_moderators_autocomplete_of_accounts(as_moderator, world):
    right = autocomplete(as_moderator, "moderation", "writingsuspension", "user", PEN_PAL_EMAIL)
    wrong = autocomplete(as_moderator, "moderation", "writingsuspension", "user", "nobody@x.org")
    assert right.status_code == wrong.status_code == 403
    assert PEN_PAL_EMAIL not in right.content.decode()


def test_it_labels_an_account_without_a_name_with_no_email(as_superuser, world):
    found = autocomplete(as_superuser, "moderation", "writingsuspension", "user", PEN_PAL_EMAIL)
    assert found.json()["results"] == [
        {"id": str(world.pen_pal.pk), "text": f"Member #{world.pen_pal.pk}"}
    ]


@pytest.mark.parametrize("to_field", ["inmate_number", "legal_name", "date_of_birth"])
def test_it_refuses_a_popup_that_references_a_private_field(as_moderator, world, to_field):
    url = changelist("profiles.InmateProfile")
    response = as_moderator.get(url, {"_popup": "1", "_to_field": to_field})
    assert response.status_code == 400
    change = reverse("admin:profiles_inmateprofile_change", args=[world.profile.pk])
    assert as_moderator.get(change, {"_to_field": to_field}).status_code == 400


@pytest.mark.parametrize(
    "url_of",
    [
        lambda w: reverse("admin:profiles_inmateprofile_change", args=[w.profile.pk]),
        lambda w: changelist("profiles.InmateProfile"),
        lambda w: reverse("admin:profiles_profilephoto_change", args=[w.photo.pk]),
        lambda w: changelist("profiles.ProfilePhoto"),
        lambda w: reverse("admin:messaging_letter_change", args=[w.letter.pk]),
        lambda w: reverse("admin:messaging_correspondence_change", args=[w.correspondence.pk]),
        lambda w: changelist("messaging.Correspondence"),
        lambda w: changelist("moderation.NoContactOrder"),
        lambda w: reverse("admin:moderation_nocontactorder_change", args=[w.order.pk]),
        lambda w: changelist("moderation.WritingSuspension"),
        lambda w: reverse(
            "admin:moderation_moderationitem_change",
            args=[ModerationItem.objects.for_object(w.profile).get().pk],
        ),
        lambda w: changelist("moderation.Report"),
    ],
)
def test_it_shows_a_moderator_no_private_fact_on_admin_pages(as_moderator, world, url_of):
    response = as_moderator.get(url_of(world))
    assert response.status_code == 200
    assert_shows_nothing_private(response, world)


def test_it_shows_a_superuser_the_private_fields(as_superuser, world):
    response = as_superuser.get(
        reverse("admin:profiles_inmateprofile_change", args=[world.profile.pk])
    )
    page = response.content.decode()
    assert LEGAL_NAME in page and NUMBER in page


def log_old_entries(world) -> None:
    """History rows as the admin wrote them before labels were safe: the
    object's name then held the inmate number, and an inline's its email."""
    profile_type = ContentType.objects.get_for_model(InmateProfile)
    LogEntry.objects.create(
        user=world.superuser,
        content_type=profile_type,
        object_id=str(world.profile.pk),
        object_repr=f"Marcus (facility-x #{NUMBER})",
        action_flag=CHANGE,
        change_message=json.dumps(
            [
                {"changed": {"fields": ["Legal name", "Date of birth", "Bio"]}},
                {"added": {"name": "no-contact order", "object": f"{LEGAL_NAME} {NUMBER}"}},
            ]
        ),
    )
    LogEntry.objects.create(
        user=world.superuser,
        content_type=profile_type,
        object_id=str(world.profile.pk),
        object_repr=f"Marcus (facility-x #{NUMBER})",
        action_flag=CHANGE,
        change_message=f"Set the legal name to {LEGAL_NAME}",
    )
    LogEntry.objects.create(
        user=world.moderator,
        content_type=ContentType.objects.get_for_model(NoContactOrder),
        object_id=str(world.order.pk),
        object_repr=f"Order for {LEGAL_NAME} #{NUMBER} by {PEN_PAL_EMAIL}",
        action_flag=CHANGE,
        change_message="[]",
    )


def test_it_shows_a_moderator_the_history_without_private_facts(as_moderator, world):
    log_old_entries(world)
    url = reverse("admin:profiles_inmateprofile_history", args=[world.profile.pk])
    response = as_moderator.get(url)
    assert response.status_code == 200
    assert_shows_nothing_private(response, world)
    page = response.content.decode()
    assert "Legal name" not in page and "Date of birth" not in page
    assert "Bio" in page and "private details" in page
    assert f"Member #{world.superuser.pk}" in page


def test_it_shows_a_superuser_the_full_history(as_superuser, world):
    log_old_entries(world)
    url = reverse("admin:profiles_inmateprofile_history", args=[world.profile.pk])
    page = as_superuser.get(url).content.decode()
    assert ADMIN_EMAIL in page and "Legal name" in page


def test_it_shows_a_moderators_recent_actions_without_stored_names(as_moderator, world):
    log_old_entries(world)
    response = as_moderator.get(reverse("admin:index"))
    assert response.status_code == 200
    assert_shows_nothing_private(response, world)
    assert f"#{world.order.pk}" in response.content.decode()


def test_it_shows_the_queue_dashboard_without_a_moderators_email(as_moderator, world):
    nameless = ModeratorFactory(email="nameless-mod@example.org", display_name="")
    item = ModerationItem.objects.for_object(world.photo).get()
    ModerationDecision.objects.create(item=item, moderator=nameless, status="approved")
    page = as_moderator.get(reverse("admin:index")).content.decode()
    assert "nameless-mod@example.org" not in page
    assert f"Member #{nameless.pk}" in page


def test_it_labels_profiles_and_accounts_without_private_facts(world):
    assert str(world.profile) == f"Marcus (facility-x, profile {world.profile.pk})"
    assert str(world.pen_pal) == f"Member #{world.pen_pal.pk}"
    assert PEN_PAL_EMAIL not in str(Letter.objects.get(pk=world.letter.pk).created_by)


def test_it_applies_the_privacy_rule_to_every_project_admin():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        assert isinstance(model_admin, PrivateFieldsMixin), model
        for inline in model_admin.inlines:
            assert issubclass(inline, PrivateFieldsMixin), inline


def test_it_orders_every_admin_list_and_autocomplete_deterministically(rf, world):
    request = rf.get("/")
    request.user = world.moderator
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        ordering = model_admin.get_ordering(request)
        names = {name.lstrip("-") for name in ordering if isinstance(name, str)}
        assert names & {"pk", "id", model._meta.pk.name}, model


def test_it_names_staff_in_the_liaison_activity_trail_by_role(client, world):
    liaison = LiaisonFactory(facility=world.facility, user__display_name="Lia").user
    colleague = LiaisonFactory(
        facility=world.facility, user__display_name="", user__email="colleague@example.org"
    ).user
    activate_totp(liaison)
    for actor in (world.superuser, world.moderator, colleague):
        LiaisonAction.objects.create(
            actor=actor, facility=world.facility, profile=world.profile, kind="scan_downloaded"
        )
    client.force_login(liaison)
    page = client.get(reverse("liaison:activity", args=[world.facility.slug])).content.decode()
    assert ADMIN_EMAIL not in page and "mod-private@example.org" not in page
    assert len(re.findall("Penpals staff", page)) == 2
    assert "colleague@example.org" in page  # a nameless colleague, by address
