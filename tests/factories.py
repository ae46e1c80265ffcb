"""factory_boy factories for the whole suite."""

from __future__ import annotations

import importlib
import time

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


def ensure_moderator_permissions() -> None:
    """Re-grant the Moderators group's permissions from its data migration.

    Transactional tests (real worker, browser) empty every table afterwards,
    group permissions included; the next test that needs a moderator gets
    them back from the same definition the migration uses.
    """
    from django.apps import apps

    # 0016 grants the whole current set (it runs the earlier grants first).
    migration = importlib.import_module(
        "moderation.migrations.0016_moderators_scan_run_permissions"
    )
    migration.grant(apps, None)


class ModeratorFactory(PenPalFactory):
    is_staff = True

    @factory.post_generation
    def moderators_group(obj, create, extracted, **kwargs):
        if create:
            ensure_moderator_permissions()
            obj.groups.add(Group.objects.get(name=MODERATORS_GROUP))


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

    # A code typed in the last seconds of its 30 s step may reach the server in
    # the next one (no tolerance is configured): wait for a fresh step instead.
    seconds_into_step = time.time() % 30
    if seconds_into_step > 25:
        time.sleep(30 - seconds_into_step + 0.1)
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


class InmateProfileFactory(factory.django.DjangoModelFactory):
    """A draft profile; use `.published()` for one listed in the directory."""

    class Meta:
        model = "profiles.InmateProfile"

    facility = factory.SubFactory(FacilityFactory)
    inmate_number = factory.Sequence(lambda n: f"A{100000 + n}")
    legal_name = factory.Faker("name")
    display_name = factory.Faker("first_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=20, maximum_age=70)
    gender = "male"
    bio = "I like reading, chess and long letters about everyday life."
    interests = factory.LazyFunction(lambda: ["chess", "reading"])
    seeking = factory.LazyFunction(lambda: ["friendship"])
    languages = factory.LazyFunction(lambda: ["en"])

    @classmethod
    def published(cls, **kwargs):
        from django.utils import timezone

        now = timezone.now()
        kwargs.setdefault("published_at", now)
        kwargs.setdefault("public_updated_at", now)
        return cls(status="published", **kwargs)


class ProfilePhotoFactory(factory.django.DjangoModelFactory):
    """A photo as just uploaded: the original in private storage, not processed yet."""

    class Meta:
        model = "profiles.ProfilePhoto"

    profile = factory.SubFactory(InmateProfileFactory)
    original = factory.django.FileField(filename="original", data=b"\xff\xd8\xff\xe0 not a photo")
    checksum = factory.Sequence(lambda n: f"{n:064x}")
    size_bytes = 17


def image_bytes(image_format: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real image (Pillow) in `image_format`, for upload tests."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, format=image_format)
    return out.getvalue()


# The smallest PDF viewers open: one empty page.
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def add_public_photo(profile, *, is_primary: bool = True, **kwargs):
    """A processed, approved photo of `profile` (display and thumbnail names
    only, no files), made its primary photo unless `is_primary` is False."""
    photo = ProfilePhotoFactory(
        profile=profile,
        status="ready",
        review_status="approved",
        is_primary=is_primary,
        display=kwargs.pop("display", f"photos/display/{profile.slug}.jpg"),
        thumbnail=kwargs.pop("thumbnail", f"photos/thumbs/{profile.slug}.jpg"),
        width=480,
        height=480,
        **kwargs,
    )
    if is_primary:
        profile.primary_photo = photo
        profile.save(update_fields=["primary_photo"])
    return photo


# --- Letters --------------------------------------------------------------------------


class CorrespondenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.Correspondence"

    pen_pal = factory.SubFactory(PenPalFactory)
    profile = factory.LazyFunction(lambda: InmateProfileFactory.published())


class LetterFactory(factory.django.DjangoModelFactory):
    """An outbound letter in `status` (default "submitted"), built directly, without
    screening; tests of the flow itself go through messaging.services."""

    class Meta:
        model = "messaging.Letter"

    correspondence = factory.SubFactory(CorrespondenceFactory)
    direction = "out"
    body = "Dear friend, I hope this finds you well. Tell me about your week."
    created_by = factory.LazyAttribute(lambda letter: letter.correspondence.pen_pal)
    idempotency_key = factory.Faker("uuid4")


def write_letter(pen_pal, profile, body: str = "Hello! How are you doing this week?"):
    """A letter written through the service (limits checked, screening enqueued)."""
    import uuid

    from messaging.services import check_write_letter

    return check_write_letter(pen_pal, profile, body, uuid.uuid4())


def screen_and_decide(letter, moderator, *, approve: bool = True, reason_code: str = "", note=""):
    """Run the screening task's body, then decide the letter's moderation item."""
    from messaging.services import screen_letter
    from moderation.models import ModerationItem
    from moderation.services import current_version, do_decide

    screen_letter(letter.pk)
    item = ModerationItem.objects.for_object(letter).pending().get()
    # As the item page does: the decision is on the version the moderator read.
    do_decide(
        item.pk,
        moderator,
        approve=approve,
        seen_version=current_version(item),
        reason_code=reason_code,
        note=note,
    )
    letter.refresh_from_db()
    return letter
