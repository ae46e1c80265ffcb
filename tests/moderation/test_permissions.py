"""Who reaches which admin page: moderators hold exactly what they need
(migrations 0008 and 0016), admins everything; pen pals and staff without MFA none."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from moderation.models import NoContactOrder, ProtectionRequest, WritingSuspension
from moderation.reports import check_report
from penpals.models import MODERATORS_GROUP, User
from tests.factories import (
    FacilityFactory,
    InmateProfileFactory,
    LiaisonFactory,
    PenPalFactory,
    activate_totp,
)

pytestmark = pytest.mark.django_db

GRANT = importlib.import_module("moderation.migrations.0016_moderators_scan_run_permissions")


@pytest.fixture
def objects(alice, bob):
    profile = InmateProfileFactory.published()
    report = check_report(bob, profile, "money")
    order = NoContactOrder.objects.create(profile=profile, email="x@example.org")
    request = ProtectionRequest.objects.create(
        profile=profile,
        relationship="self",
        ask="review",
        requester_name="R",
        requester_email="r@example.org",
    )
    suspension = WritingSuspension.objects.create(user=alice, reason="Scams")
    return {
        "report": report,
        "nocontactorder": order,
        "protectionrequest": request,
        "writingsuspension": suspension,
    }


def pages(objects) -> dict[str, str]:
    urls = {}
    for name, obj in objects.items():
        urls[f"{name} list"] = reverse(f"admin:moderation_{name}_changelist")
        urls[f"{name} page"] = reverse(f"admin:moderation_{name}_change", args=[obj.pk])
    return urls


@pytest.fixture
def admin_user(db):
    user = User.objects.create_superuser("root@example.org", "correct-horse-battery-staple")
    activate_totp(user)
    return user


def test_the_moderators_group_holds_exactly_its_permissions(moderator):
    from django.apps import apps

    GRANT.grant(apps, None)
    held = {
        (p.content_type.app_label, p.codename)
        for p in Group.objects.get(name=MODERATORS_GROUP).permissions.select_related("content_type")
    }
    assert held == set(GRANT.MODERATOR_PERMISSIONS)
    forbidden = {
        ("profiles", "change_facility"), ("profiles", "add_facilityliaison"),
        ("profiles", "change_facilityliaison"), ("penpals", "change_user"),
        ("moderation", "change_screeningrule"), ("moderation", "add_screeningrule"),
        ("moderation", "delete_nocontactorder"), ("moderation", "change_report"),
    }  # fmt: skip
    assert not held & forbidden


def test_moderators_see_every_safety_page(client, moderator_with_mfa, objects):
    client.force_login(moderator_with_mfa)
    for label, url in pages(objects).items():
        assert client.get(url).status_code == 200, label
    assert client.get(reverse("admin:moderation_nocontactorder_add")).status_code == 200
    assert client.get(reverse("admin:moderation_writingsuspension_add")).status_code == 200
    # Requests and reports come from the site, never typed in by staff.
    assert client.get(reverse("admin:moderation_protectionrequest_add")).status_code == 403
    assert client.get(reverse("admin:moderation_report_add")).status_code == 403


def test_moderators_cannot_delete_orders_or_suspensions(client, moderator_with_mfa, objects):
    client.force_login(moderator_with_mfa)
    for name in ("nocontactorder", "writingsuspension", "report"):
        url = reverse(f"admin:moderation_{name}_delete", args=[objects[name].pk])
        assert client.post(url, {"post": "yes"}).status_code == 403, name
    assert NoContactOrder.objects.exists() and WritingSuspension.objects.exists()


def test_moderators_cannot_edit_facilities_liaisons_users_or_rules(
    client, moderator_with_mfa, alice
):
    facility = FacilityFactory(name="Old Name")
    liaison = LiaisonFactory(facility=facility)
    client.force_login(moderator_with_mfa)
    facility_url = reverse("admin:profiles_facility_change", args=[facility.pk])
    response = client.post(facility_url, {"name": "New Name", "slug": facility.slug})
    assert response.status_code == 403
    facility.refresh_from_db()
    assert facility.name == "Old Name"
    for url in (
        reverse("admin:profiles_facility_add"),
        reverse("admin:profiles_facilityliaison_change", args=[liaison.pk]),
        reverse("admin:profiles_facilityliaison_add"),
        reverse("admin:penpals_user_change", args=[alice.pk]),
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        reverse("admin:moderation_screeningrule_changelist"),
        reverse("admin:moderation_screeningrule_add"),
    ):
        assert client.get(url).status_code == 403, url
    response = client.post(
        reverse("admin:penpals_user_change", args=[alice.pk]), {"email": "evil@example.org"}
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"


def test_admins_reach_everything(client, admin_user, objects, alice):
    facility = FacilityFactory()
    client.force_login(admin_user)
    for label, url in pages(objects).items():
        assert client.get(url).status_code == 200, label
    for url in (
        reverse("admin:profiles_facility_change", args=[facility.pk]),
        reverse("admin:penpals_user_change", args=[alice.pk]),
        reverse("admin:moderation_screeningrule_changelist"),
    ):
        assert client.get(url).status_code == 200, url


def test_pen_pals_are_sent_to_the_admin_login(client, objects):
    pen_pal = PenPalFactory()
    activate_totp(pen_pal)
    client.force_login(pen_pal)
    for label, url in pages(objects).items():
        response = client.get(url)
        assert response.status_code == 302, label
        assert reverse("admin:login") in response["Location"]


def test_staff_without_mfa_must_set_it_up_first(client, moderator, objects):
    client.force_login(moderator)
    for label, url in pages(objects).items():
        response = client.get(url)
        assert response.status_code == 302, label
        assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_outside_the_moderators_group_get_403(client, objects):
    staff = PenPalFactory(is_staff=True)
    activate_totp(staff)
    client.force_login(staff)
    for label, url in pages(objects).items():
        assert client.get(url).status_code == 403, label


def test_only_those_who_decide_queue_items_get_the_actions(client, objects):
    """A staff member allowed to view reports but not to decide items sees no actions."""
    from django.contrib.auth.models import Permission

    viewer = PenPalFactory(is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_report"),
        Permission.objects.get(codename="view_protectionrequest"),
    )
    activate_totp(viewer)
    client.force_login(viewer)
    report = objects["report"]
    response = client.post(
        reverse("admin:moderation_report_changelist"),
        {"action": "pause_target_profile", "_selected_action": [report.pk]},
    )
    report.target.refresh_from_db()
    assert report.target.status == "published"
    assert response.status_code in (200, 302)
    body = client.get(reverse("admin:moderation_report_changelist")).content.decode()
    assert "pause_target_profile" not in body
