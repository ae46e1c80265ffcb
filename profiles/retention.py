"""How long the originals of rejected photos are kept, and their deletion
(a daily beat job).

A rejected photo never becomes public, but its original stays in private
storage for a while so the liaison and moderators can see what was refused.
settings.REJECTED_PHOTO_RETENTION_DAYS after the rejection (by processing:
`processed_at`; by a moderator: the decision's `decided_at`), the original is
deleted and the row's `original` becomes empty. The row stays (status, reason,
checksum), so the liaison's page still says what happened, and the same file
uploaded again is still recognised as this rejected photo.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from moderation.models import ModerationItem
from penpals.retention import BATCH_SIZE, purge_files
from profiles.models import ProfilePhoto

REJECTED = Q(status=ProfilePhoto.Status.REJECTED) | Q(review_status=ProfilePhoto.Review.REJECTED)


def expired_rejected_photos() -> QuerySet[ProfilePhoto]:
    """Rejected photos whose original is still stored and past its period."""
    cutoff = timezone.now() - timedelta(days=settings.REJECTED_PHOTO_RETENTION_DAYS)
    rejection = ModerationItem.objects.filter(
        content_type=ContentType.objects.get_for_model(ProfilePhoto),
        object_id=OuterRef("pk"),
        status=ModerationItem.Status.REJECTED,
    ).order_by("-decided_at")
    return (
        ProfilePhoto.objects.filter(REJECTED)
        .exclude(original="")
        .annotate(
            rejected_at=Case(
                When(status=ProfilePhoto.Status.REJECTED, then=F("processed_at")),
                # processed_at only when no decision is on record (it is earlier).
                default=Coalesce(Subquery(rejection.values("decided_at")[:1]), F("processed_at")),
            )
        )
        .filter(rejected_at__lt=cutoff)
    )


def purge_rejected_originals(batch_size: int = BATCH_SIZE) -> int:
    """Delete the originals of expired rejected photos; returns how many
    (penpals.retention.purge_files: batched, SKIP LOCKED, file before field)."""
    return purge_files(expired_rejected_photos(), "original", batch_size)
