"""Putting things under review and deciding them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation import registry
from moderation.models import ModerationDecision, ModerationItem


def submit_for_review(
    obj,
    kind: str,
    *,
    facility=None,
    summary: str = "",
    risk_score: int = 0,
    flags=(),
    language: str = "",
    alerts=(),
) -> ModerationItem:
    """Open (or refresh) the pending item for `obj`. Call inside the caller's
    transaction. `language` is the ISO 639-1 code screening detected in a
    letter ("" when unknown or not a letter); `alerts` are what the machine
    found (moderation.alerts), shown before the summary."""
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
            "language": language,
            "alerts": list(alerts),
        },
    )
    if not created:
        item.summary = summary[:300]
        item.risk_score = risk_score
        item.flags = list(flags)
        item.language = language
        item.alerts = list(alerts)
        item.save(update_fields=["summary", "risk_score", "flags", "language", "alerts"])
    return item


def withdraw_pending(obj, kind: str) -> None:
    """Close pending items for `obj` that no longer need a decision (e.g. a deleted photo)."""
    ModerationItem.objects.for_object(obj).filter(kind=kind).pending().update(
        status=ModerationItem.Status.WITHDRAWN
    )


class AlreadyDecided(Exception):
    pass


class StaleVersion(Exception):
    """The object under review changed after the moderator read it: the
    decision would apply to something they did not see. Nothing is decided;
    the item stays pending with the new content."""


# What changed, in the moderator's words, per kind of item.
_STALE_MESSAGES = {
    ModerationItem.Kind.PROFILE: _(
        "This profile changed while you were reading it. Review the new version."
    ),
    ModerationItem.Kind.PROFILE_CHANGE: _(
        "This profile changed while you were reading it. Review the new version."
    ),
    ModerationItem.Kind.PHOTO: _(
        "This photo changed while you were looking at it. Review the new version."
    ),
}
_STALE_MESSAGE = _("This item changed while you were reading it. Review the new version.")


def current_version(item: ModerationItem) -> str:
    """The version of what `item` puts under review, as it is now ("" for kinds
    whose content cannot change). A page that lets a moderator decide must read
    it BEFORE it reads the content it shows: a change in between then makes the
    decision stale (refused), never approves what was not shown."""
    version_of = registry.handlers_for(item.kind).version_of
    return version_of(item, for_update=False) if version_of is not None else ""


@transaction.atomic
def do_decide(
    item_id: int,
    moderator,
    *,
    approve: bool,
    seen_version: str | None = None,
    reason_code: str = "",
    note: str = "",
) -> ModerationItem:
    """Approve or reject a pending (or, for an admin, escalated) item once. Locks
    the row, so two moderators deciding at the same moment produce one decision;
    the second gets AlreadyDecided.

    A moderator's decision (`moderator` is not None) on a kind that registers
    `version_of` must pass `seen_version`, the current_version() the page they
    decided on was rendered with; if the object changed since, StaleVersion is
    raised and nothing is decided. Only a system decision (moderator None) of
    content the system itself checked may leave it out."""
    peek = ModerationItem.objects.only("kind", "content_type", "object_id").get(pk=item_id)
    handlers = registry.handlers_for(peek.kind)
    # Only a moderator's decision is checked against the version they saw.
    version_of = handlers.version_of if moderator is not None else None
    is_versioned = version_of is not None
    if is_versioned and seen_version is None:
        raise TypeError(
            f"A moderator's decision on a {peek.kind} item must pass the version they saw "
            "(seen_version=current_version(item) as the page was rendered)."
        )
    # The object is locked before the item: its writers (a liaison's edit, a
    # photo's processing) lock it and then refresh its pending item, so the
    # same order here cannot deadlock with them, and it cannot change between
    # this check and the handler that publishes it.
    version = version_of(peek, for_update=True) if version_of is not None else None
    item = ModerationItem.objects.select_for_update().get(pk=item_id)
    # An escalated item waits for an admin's decision; anything else is final.
    is_escalated = item.status == ModerationItem.Status.ESCALATED
    if item.status != ModerationItem.Status.PENDING and not is_escalated:
        raise AlreadyDecided(
            gettext("This item was already %(status)s.")
            % {"status": item.get_status_display().lower()}
        )
    if is_escalated and not moderator.is_superuser:
        raise AlreadyDecided(gettext("This item was escalated: an admin decides it."))
    if is_versioned and version != seen_version:
        raise StaleVersion(str(_STALE_MESSAGES.get(item.kind, _STALE_MESSAGE)))
    if not approve and not reason_code:
        raise ValidationError(gettext("A rejection needs a reason."))
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


@transaction.atomic
def do_escalate(item_id: int, moderator, *, note: str) -> ModerationItem:
    """Hand a pending item to an admin. Same row lock as do_decide, so an item
    cannot be escalated and decided at once; raises AlreadyDecided otherwise.
    The note is for the admin (kept in the decision), not for the sender."""
    item = ModerationItem.objects.select_for_update().get(pk=item_id)
    if item.status != ModerationItem.Status.PENDING:
        raise AlreadyDecided(
            gettext("This item was already %(status)s.")
            % {"status": item.get_status_display().lower()}
        )
    if not note.strip():
        raise ValidationError(gettext("Say why you escalate the item."))
    item.status = ModerationItem.Status.ESCALATED
    item.claimed_by = None
    item.claimed_until = None
    item.save(update_fields=["status", "claimed_by", "claimed_until"])
    ModerationDecision.objects.create(item=item, moderator=moderator, status=item.status, note=note)
    return item


# --- Claiming ------------------------------------------------------------------------
# A claim is advisory: it keeps two moderators from reading the same item at
# once. The decision itself is protected by do_decide's row lock.


def claim_duration() -> timedelta:
    return timedelta(minutes=settings.MODERATION_CLAIM_MINUTES)


def _claimable_by(moderator, now) -> Q:
    return (
        Q(claimed_by__isnull=True)
        | Q(claimed_until__isnull=True)
        | Q(claimed_until__lte=now)
        | Q(claimed_by=moderator)
    )


def claim(item: ModerationItem, moderator) -> bool:
    """Claim a pending item for `moderator` unless someone else holds a live claim.

    One conditional UPDATE, so two moderators opening the item at the same
    moment cannot both win. Releases the moderator's other claims (a
    moderator works one item at a time). Returns whether the claim is
    theirs; `item` is refreshed with the current claim either way."""
    now = timezone.now()
    until = now + claim_duration()
    with transaction.atomic():
        claimed = (
            ModerationItem.objects.pending()
            .filter(_claimable_by(moderator, now), pk=item.pk)
            .update(claimed_by=moderator, claimed_until=until)
        )
        if claimed:
            _release_other_claims(moderator, keep_id=item.pk)
    item.refresh_from_db(fields=["claimed_by", "claimed_until", "status"])
    return bool(claimed)


def _release_other_claims(moderator, *, keep_id: int) -> None:
    ModerationItem.objects.pending().filter(claimed_by=moderator).exclude(pk=keep_id).update(
        claimed_by=None, claimed_until=None
    )


def next_item(moderator, *, leaving_id: int | None = None) -> ModerationItem | None:
    """Claim and return the highest-priority pending item nobody else holds.

    SKIP LOCKED lets several moderators ask at the same moment without
    waiting on each other or getting the same item. Items the moderator
    already claims are skipped too, so "next" always moves on; when the
    caller names the item the moderator leaves (`leaving_id`: the page they
    pressed "Next" on, the item they just decided), only that one is skipped,
    so an item they opened and left (for the previous one) comes back first."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    with transaction.atomic():
        items = ModerationItem.objects.pending()
        if leaving_id is None:
            items = items.filter(free)
        else:
            items = items.filter(free | Q(claimed_by=moderator)).exclude(pk=leaving_id)
        item = (
            items.order_by("-risk_score", "created_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if item is None:
            return None
        item.claimed_by = moderator
        item.claimed_until = now + claim_duration()
        item.save(update_fields=["claimed_by", "claimed_until"])
        _release_other_claims(moderator, keep_id=item.pk)
    return item
