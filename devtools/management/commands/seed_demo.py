"""Load demo data for `make run`. Idempotent: running it again changes nothing.

Later features add their own demo content by registering a function in
DEMO_SEEDERS (see `seed_accounts` and `seed_facilities` below).
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from devtools.demo.accounts import (
    DEMO_ACCOUNTS,
    DEMO_FACILITIES,
    DEMO_PASSWORD,
    DEMO_TOTP_EMAIL,
    DEMO_TOTP_SECRET,
)
from devtools.demo.messaging import seed_letters
from devtools.demo.moderation import seed_moderation_queue
from devtools.demo.profiles import seed_profiles
from penpals.models import MODERATORS_GROUP, User
from profiles.models import Facility, FacilityLiaison


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

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)


def demo_totp_code() -> str:

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
