"""The demo moderation queue for `make run`: an item of every kind.

The letters' items come from devtools.demo.messaging (flagged, decided and waiting).
This adds what a moderator also works: a new profile, a profile change, a new
photo, a report, and one item claimed by the demo moderator. Everything goes
through the same services as in production, so the items, audit records and
photo renditions are real.
"""

from __future__ import annotations

import io
from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from moderation.models import ModerationItem
from moderation.reports import AlreadyReported, check_report
from moderation.services import claim, submit_for_review
from penpals.models import User
from profiles.models import Facility, InmateProfile
from profiles.photos import run_photo_processing
from profiles.services import check_upload_photo, do_update_profile

NEW_PROFILE_NUMBER = "DEMO-REVIEW-1"
CHANGED_BIO = (
    "Still reading everything I can find about the ocean. New: I started a "
    "writing class, and I would love to trade short stories."
)


def seed_moderation_queue() -> None:
    """Idempotent: each part is skipped once its object exists."""

    liaison = User.objects.get(email="liaison@example.org")
    facility = Facility.objects.get(slug="riverbend-state")

    new_profile, created = InmateProfile.objects.get_or_create(
        facility=facility,
        inmate_number=NEW_PROFILE_NUMBER,
        defaults={
            "legal_name": "Jordan Avery Pike",
            "display_name": "Jordan",
            "date_of_birth": date(1988, 3, 14),
            "gender": "male",
            "bio": "New here. I like chess, old westerns and learning Spanish.",
            "interests": ["chess", "movies", "languages"],
            "seeking": ["friendship"],
            "languages": ["en"],
            "status": InmateProfile.Status.PENDING_REVIEW,
        },
    )
    if created:
        submit_for_review(
            new_profile,
            ModerationItem.Kind.PROFILE,
            facility=facility,
            summary=f"{new_profile.display_name}: {new_profile.bio}",
        )
        photo, _ = check_upload_photo(
            liaison, new_profile, SimpleUploadedFile("jordan.png", _portrait())
        )
        # Processed now, not by the worker: the queue shows the photo at once.
        run_photo_processing(photo.pk)

    published = InmateProfile.objects.published().filter(facility=facility).order_by("pk")
    changed = published.first()
    if changed is not None and not changed.pending_changes:
        do_update_profile(liaison, changed, {"bio": CHANGED_BIO})

    reported = published.exclude(pk=getattr(changed, "pk", None)).first()
    if reported is not None:
        try:
            check_report(
                User.objects.get(email="sam@example.org"),
                reported,
                "scam",
                "Their profile asks people to send money for a lawyer.",
            )
        except AlreadyReported:
            pass

    # One item the demo moderator is working on (claims last a few minutes).
    moderator = User.objects.get(email="moderator@example.org")
    item = ModerationItem.objects.pending().filter(kind=ModerationItem.Kind.PROFILE_CHANGE).first()
    if item is not None and not (item.claimed_until and item.claimed_until > timezone.now()):
        claim(item, moderator)


def _portrait() -> bytes:
    """A plain drawn portrait, so the demo needs no photo files."""
    image = Image.new("RGB", (600, 600), (96, 125, 139))
    draw = ImageDraw.Draw(image)
    draw.ellipse((200, 110, 400, 330), fill=(224, 190, 160))
    draw.rectangle((150, 360, 450, 600), fill=(55, 71, 79))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
