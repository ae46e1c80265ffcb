from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from devtools.management.commands.seed_demo import DEMO_PASSWORD
from penpals.models import User
from profiles.models import Facility, FacilityLiaison


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_it_seeds_each_role_once_when_run_twice():
    call_command("seed_demo")
    counts = (User.objects.count(), Facility.objects.count(), FacilityLiaison.objects.count())
    call_command("seed_demo")
    assert (
        User.objects.count(),
        Facility.objects.count(),
        FacilityLiaison.objects.count(),
    ) == counts
    assert counts == (5, 3, 1)

    moderator = User.objects.get(email="moderator@example.org")
    assert moderator.is_staff and not moderator.is_superuser
    assert moderator.groups.filter(name="Moderators").exists()
    assert moderator.check_password(DEMO_PASSWORD)
    liaison = User.objects.get(email="liaison@example.org")
    assert not liaison.is_staff
    assert liaison.requires_mfa()
    assert User.objects.get(email="admin@example.org").is_superuser
    assert EmailAddress.objects.filter(verified=True).count() == 5
    assert not User.objects.get(email="alex@example.org").requires_mfa()


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_it_refuses_to_seed_in_production():
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_the_demo_moderator_can_sign_in_with_the_printed_secret(client):
    from io import StringIO

    from allauth.mfa.totp.internal.auth import validate_totp_code

    from devtools.management.commands.seed_demo import DEMO_TOTP_SECRET

    call_command("seed_demo")
    logins = StringIO()
    call_command("seed_demo", "--print-logins", stdout=logins)
    assert DEMO_TOTP_SECRET in logins.getvalue()
    code = StringIO()
    call_command("seed_demo", "--print-totp-code", stdout=code)
    assert validate_totp_code(DEMO_TOTP_SECRET, code.getvalue().strip())

    # Through the real login: password, then the code, then the queue opens.
    response = client.post(
        reverse("account_login"), {"login": "moderator@example.org", "password": DEMO_PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    # The printed code may belong to a step that has passed by now (seeding is
    # slow on a busy machine): print a fresh one, in a fresh step, to type.
    seconds_into_step = time.time() % 30
    if seconds_into_step > 25:
        time.sleep(30 - seconds_into_step + 0.1)
    code = StringIO()
    call_command("seed_demo", "--print-totp-code", stdout=code)
    response = client.post(reverse("mfa_authenticate"), {"code": code.getvalue().strip()})
    assert response.status_code == 302
    assert client.get("/admin/moderation/moderationitem/").status_code == 200


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_the_demo_queue_has_every_kind_some_flagged_claimed_and_decided():
    from django.utils import timezone

    from moderation.models import ModerationItem

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: the same items, not twice as many
    pending = ModerationItem.objects.pending()
    assert set(pending.values_list("kind", flat=True)) == set(ModerationItem.Kind.values)
    assert pending.filter(kind="profile_change").count() == 1
    assert pending.exclude(flags=[]).exists()
    assert pending.filter(claimed_until__gt=timezone.now()).count() == 1
    assert ModerationItem.objects.filter(status__in=["approved", "rejected"]).exists()
    photo_item = pending.get(kind="photo")
    assert photo_item.content_object.status == "ready"  # processed: the page shows it
