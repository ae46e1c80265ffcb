"""factory_boy factories for the whole suite."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group

from penpals.models import MODERATORS_GROUP, User
from profiles.models import Facility, FacilityLiaison

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    display_name = factory.Faker("first_name")
    password = factory.django.Password(PASSWORD)


class PenPalFactory(UserFactory):
    """A pen pal whose email address is verified (allowed to log in)."""

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        if create:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class ModeratorFactory(PenPalFactory):
    is_staff = True

    @factory.post_generation
    def moderators_group(obj, create, extracted, **kwargs):
        if create:
            obj.groups.add(Group.objects.get_or_create(name=MODERATORS_GROUP)[0])


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    name = factory.Sequence(lambda n: f"Facility {n}")
    slug = factory.Sequence(lambda n: f"facility-{n}")
    kind = Facility.Kind.STATE
    state = "OH"
    mailing_address = "PO Box 1\nColumbus, OH 43216"
    mail_rules = "White paper only."


class LiaisonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FacilityLiaison

    user = factory.SubFactory(PenPalFactory)
    facility = factory.SubFactory(FacilityFactory)


def activate_totp(user: User) -> str:
    """Give `user` a TOTP authenticator; returns the secret for making codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
