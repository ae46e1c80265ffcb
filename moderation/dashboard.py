"""What the admin index shows about the queue: a few cheap aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext

from moderation.models import ModerationDecision, ModerationItem, languages_read_by_moderators
from penpals.languages import READABLE_LANGUAGES

LETTER_KINDS = (ModerationItem.Kind.LETTER_OUT, ModerationItem.Kind.LETTER_IN)


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
    # (code, name, pending letters): letters in a language no active
    # moderator reads, most waiting first.
    unread_languages: list[tuple[str, str, int]]

    @property
    def unread_letters(self) -> int:
        return sum(count for _code, _name, count in self.unread_languages)


def queue_dashboard() -> QueueDashboard:
    # One index-only scan of moderation_pending_language (which includes the
    # kind): pending items per kind and language, and the oldest of them.
    pending_groups = list(
        ModerationItem.objects.pending()
        .values_list("kind", "language")
        .annotate(items=Count("id"), oldest=Min("created_at"))
        .order_by()
    )
    pending: dict[str, int] = {}
    letters_by_language: dict[str, int] = {}
    for kind, language, items, _oldest in pending_groups:
        pending[kind] = pending.get(kind, 0) + items
        if kind in LETTER_KINDS and language:
            letters_by_language[language] = letters_by_language.get(language, 0) + items
    oldest = min((group[3] for group in pending_groups), default=None)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    decisions = (
        ModerationDecision.objects.filter(created_at__gte=midnight)
        .values_list("moderator__display_name", "moderator_id")
        .annotate(decisions=Count("id"))
        .order_by("-decisions")
    )
    escalated = ModerationItem.objects.filter(status=ModerationItem.Status.ESCALATED).count()
    read = languages_read_by_moderators()
    unread_languages = sorted(
        (
            (code, str(dict(READABLE_LANGUAGES).get(code, code)), count)
            for code, count in letters_by_language.items()
            if code not in read
        ),
        key=lambda entry: (-entry[2], entry[1]),
    )
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
        unread_languages=unread_languages,
    )
