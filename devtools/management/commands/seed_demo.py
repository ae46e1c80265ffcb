"""Load demo data for `make run`. Idempotent: running it again changes nothing.

Later features add their own demo content by registering a function in
DEMO_SEEDERS (see `seed_accounts` and `seed_facilities` below).
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from devtools.demo.messaging import seed_letters
from devtools.demo.moderation import seed_moderation_queue
from devtools.demo.profiles import seed_profiles
from penpals.models import MODERATORS_GROUP, User
from profiles.models import Facility, FacilityLiaison

DEMO_PASSWORD = "penpals-demo-2026"  # noqa: S105 - demo accounts on a development machine only

# The demo moderator's TOTP secret, set up by seed_demo and printed by
# `make run`, so the demo can sign in to the admin at once: add it to any
# authenticator app, or print the current code with --print-totp-code.
# Public on purpose: demo data refuses to load with DEBUG off.
DEMO_TOTP_EMAIL = "moderator@example.org"
DEMO_TOTP_SECRET = "PENPALSDEMOMODERATORSIGN"  # noqa: S105 - base32, demo only

DEMO_ACCOUNTS = [
    # (email, display name, role)
    ("admin@example.org", "Ada Admin", "admin"),
    ("moderator@example.org", "Morgan Moderator", "moderator"),
    ("liaison@example.org", "Lee Liaison", "liaison"),
    ("alex@example.org", "Alex", "pen pal"),
    ("sam@example.org", "Sam", "pen pal"),
]

DEMO_FACILITIES = [
    {
        "slug": "riverbend-state",
        "name": "Riverbend State Correctional Facility",
        "kind": Facility.Kind.STATE,
        "state": "OH",
        "mailing_address": "Riverbend State Correctional Facility\nPO Box 1200\nColumbus, OH 43216",
        "mail_rules": "Letters on white paper only. No stickers, glitter, perfume, staples or polaroids.",
    },
    {
        "slug": "cedar-county-jail",
        "name": "Cedar County Jail",
        "kind": Facility.Kind.COUNTY,
        "state": "IA",
        "mailing_address": "Cedar County Jail\n400 Cedar St\nTipton, IA 52772",
        "mail_rules": "Postcards and letters up to 5 pages. No photographs.",
        "screening_mode": Facility.ScreeningMode.FLAGGED_ONLY,
    },
    {
        "slug": "fci-high-plains",
        "name": "FCI High Plains",
        "kind": Facility.Kind.FEDERAL,
        "state": "CO",
        "mailing_address": "FCI High Plains\nPO Box 7000\nFlorence, CO 81226",
        "mail_rules": "Include the inmate number on every page. No cash, stamps or checks.",
    },
]


def seed_facilities() -> None:
    for fields in DEMO_FACILITIES:
        slug = fields["slug"]
        Facility.objects.get_or_create(
            slug=slug, defaults={k: v for k, v in fields.items() if k != "slug"}
        )


def seed_accounts() -> None:
    moderators = Group.objects.get_or_create(name=MODERATORS_GROUP)[0]
    for email, display_name, role in DEMO_ACCOUNTS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=DEMO_PASSWORD,
                display_name=display_name,
                is_staff=role in {"admin", "moderator"},
                is_superuser=role == "admin",
            )
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if role == "moderator":
            user.groups.add(moderators)
        if email == DEMO_TOTP_EMAIL:
            seed_demo_totp(user)
        if role == "liaison":
            FacilityLiaison.objects.get_or_create(
                user=user, facility=Facility.objects.get(slug=DEMO_FACILITIES[0]["slug"])
            )


def seed_demo_totp(user: User) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)


def demo_totp_code() -> str:
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    counters = list(yield_hotp_counters_from_time())  # the tolerance window around now
    return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, counters[len(counters) // 2]))


# Run in order; each must be idempotent.
DEMO_SEEDERS = [
    seed_facilities,
    seed_accounts,
    seed_profiles,
    seed_letters,
    seed_moderation_queue,
]


class Command(BaseCommand):
    help = "Create demo accounts and facilities (idempotent). Refuses to run with DEBUG off."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--print-logins", action="store_true", help="Only print the demo logins."
        )
        parser.add_argument(
            "--print-password", action="store_true", help="Only print the demo password."
        )
        parser.add_argument(
            "--print-totp-code",
            action="store_true",
            help="Only print the demo moderator's current two-factor code.",
        )
        parser.add_argument("--force", action="store_true", help="Seed even with DEBUG off.")

    def handle(
        self,
        *args,
        print_logins: bool,
        print_password: bool,
        print_totp_code: bool,
        force: bool,
        **options,
    ) -> None:
        if print_totp_code:
            self.stdout.write(demo_totp_code())
            return
        if print_password:
            self.stdout.write(DEMO_PASSWORD)
            return
        if print_logins:
            for email, _name, role in DEMO_ACCOUNTS:
                self.stdout.write(f"{role:<10} {email}")
            self.stdout.write(
                f"\nTwo-factor secret of {DEMO_TOTP_EMAIL} (any TOTP app): {DEMO_TOTP_SECRET}"
            )
            return
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo accounts with DEBUG off (use --force).")
        with transaction.atomic():
            for seeder in DEMO_SEEDERS:
                seeder()
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
