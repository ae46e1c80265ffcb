"""Putting things under review and deciding them."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from moderation import registry
from moderation.models import ModerationDecision, ModerationItem


def submit_for_review(
    obj, kind: str, *, facility=None, summary: str = "", risk_score: int = 0, flags=()
) -> ModerationItem:
    """Open (or refresh) the pending item for `obj`. Call inside the caller's transaction."""
    content_type = ContentType.objects.get_for_model(obj)
    item, created = ModerationItem.objects.get_or_create(
        content_type=content_type,
        object_id=obj.pk,
        kind=kind,
        status=ModerationItem.Status.PENDING,
        defaults={
            "facility": facility,
            "summary": summary[:300],
            "risk_score": risk_score,
            "flags": list(flags),
        },
    )
    if not created:
        item.summary = summary[:300]
        item.risk_score = risk_score
        item.flags = list(flags)
        item.save(update_fields=["summary", "risk_score", "flags"])
    return item


def withdraw_pending(obj, kind: str) -> None:
    """Close pending items for `obj` that no longer need a decision (e.g. a deleted photo)."""
    ModerationItem.objects.for_object(obj).filter(kind=kind).pending().update(
        status=ModerationItem.Status.WITHDRAWN
    )


class AlreadyDecided(Exception):
    pass


@transaction.atomic
def do_decide(
    item_id: int, moderator, *, approve: bool, reason_code: str = "", note: str = ""
) -> ModerationItem:
    """Approve or reject a pending item once. Locks the row, so two moderators
    deciding at the same moment produce one decision; the second gets AlreadyDecided."""
    item = ModerationItem.objects.select_for_update().get(pk=item_id)
    if item.status != ModerationItem.Status.PENDING:
        raise AlreadyDecided(f"This item was already {item.get_status_display().lower()}.")
    if not approve and not reason_code:
        raise ValidationError("A rejection needs a reason.")
    handlers = registry.handlers_for(item.kind)
    item.status = ModerationItem.Status.APPROVED if approve else ModerationItem.Status.REJECTED
    item.decided_by = moderator
    item.decided_at = timezone.now()
    item.reason_code = reason_code
    item.note = note
    item.claimed_by = None
    item.claimed_until = None
    item.save()
    ModerationDecision.objects.create(
        item=item, moderator=moderator, status=item.status, reason_code=reason_code, note=note
    )
    (handlers.on_approve if approve else handlers.on_reject)(item, moderator)
    return item
