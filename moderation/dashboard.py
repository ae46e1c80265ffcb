"""What the admin index shows about the queue: three cheap aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from moderation.models import ModerationDecision, ModerationItem


@dataclass(frozen=True)
class QueueDashboard:
    depth_by_kind: list[tuple[str, int]]  # (kind label, pending items), every kind
    # (kind value, kind label, pending items), every kind: for links to the queue.
    pending_by_kind: list[tuple[str, str, int]]
    pending_total: int
    oldest_pending_at: datetime | None
    decisions_today: list[tuple[str, int]]  # (moderator, decisions since midnight)
    reports_open: int
    escalated: int


def queue_dashboard() -> QueueDashboard:
    # Index-only count on the partial pending index (moderation_pending_kind).
    pending = dict(
        ModerationItem.objects.pending().values_list("kind").annotate(items=Count("id")).order_by()
    )
    # First row of moderation_pending_age.
    oldest = (
        ModerationItem.objects.pending()
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    decisions = (
        ModerationDecision.objects.filter(created_at__gte=midnight)
        .values_list("moderator__display_name", "moderator_id")
        .annotate(decisions=Count("id"))
        .order_by("-decisions")
    )
    escalated = ModerationItem.objects.filter(status=ModerationItem.Status.ESCALATED).count()
    return QueueDashboard(
        depth_by_kind=[
            (str(kind.label), pending.get(kind.value, 0)) for kind in ModerationItem.Kind
        ],
        pending_by_kind=[
            (kind.value, str(kind.label), pending.get(kind.value, 0))
            for kind in ModerationItem.Kind
        ],
        pending_total=sum(pending.values()),
        oldest_pending_at=oldest,
        decisions_today=[
            # As User.__str__ names a moderator: never their email.
            (
                name
                or (gettext("Member #%(pk)s") % {"pk": pk} if pk else gettext("(deleted account)")),
                count,
            )
            for name, pk, count in decisions
        ],
        reports_open=pending.get(ModerationItem.Kind.REPORT, 0),
        escalated=escalated,
    )
