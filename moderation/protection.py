"""Victim protection and the actions staff take on what is reported.

- A protection request comes from the public page (no account): it opens a
  top-priority moderation item and sends the requester a neutral
  confirmation that says nothing about the person listed.
- Staff turn a request into a no-contact order or a paused profile in one
  step (`do_grant_no_contact_order`, `do_pause_requested_profile`).
- Staff act on a report's target: pause a profile, suspend a pen pal from
  writing, close a correspondence.

The callers (admin actions, the public view) have checked who may act.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from moderation import registry
from moderation.models import ModerationItem, NoContactOrder, ProtectionRequest, WritingSuspension
from moderation.services import AlreadyDecided, do_decide, submit_for_review
from moderation.signals import no_contact_order_recorded

logger = logging.getLogger(__name__)

# A protection request goes to the top of the queue: a person may be at risk.
PROTECTION_RISK = 100
SUMMARY_PREFIX = "Protection request"

# At most this many requests per address per window. Counted in the shared
# cache (Redis); while Redis is down, penpals.cache.ResilientRedisCache makes
# the counter fail open, so requests are accepted rather than refused: a
# person asking for protection must never be turned away by an outage.
RATE_LIMIT_REQUESTS = 5
RATE_LIMIT_WINDOW_SECONDS = 60 * 60
RATE_LIMITED_MESSAGE = gettext_noop(
    "We have received several requests from your connection in the last hour. "
    "Please try again later, or email the Penpals team directly."
)


class ProtectionRefused(ValidationError):
    """Why a request or an action was refused; the message is shown as is."""


# --- Rate limit -----------------------------------------------------------------------


def _rate_limit_key(client_ip: str) -> str:
    # Hashed with the secret key: the cache never holds the address itself.
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{client_ip}".encode()).hexdigest()[:32]
    window = int(timezone.now().timestamp()) // RATE_LIMIT_WINDOW_SECONDS
    return f"protection-request:{digest}:{window}"


def consume_rate_limit(client_ip: str) -> bool:
    """Count one request from `client_ip`; False when it is over the limit."""
    key = _rate_limit_key(client_ip)
    cache.add(key, 0, timeout=RATE_LIMIT_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this is the window's first request.
        cache.set(key, 1, timeout=RATE_LIMIT_WINDOW_SECONDS)
        count = 1
    return count <= RATE_LIMIT_REQUESTS


# --- Protection requests ----------------------------------------------------------------


def _request_summary(protection_request: ProtectionRequest) -> str:
    profile = protection_request.profile
    about = (
        f"{profile.display_name} at {profile.facility.name}"
        if profile is not None
        else protection_request.profile_description
    )
    ask = "no contact" if protection_request.ask == ProtectionRequest.Ask.NO_CONTACT else "review"
    return f"{SUMMARY_PREFIX} ({ask}): {about}"


@transaction.atomic
def do_create_protection_request(fields: dict) -> ProtectionRequest:
    """Record a request and put it at the top of the queue. `fields` are a
    validated ProtectionRequestForm's cleaned_data (model fields only)."""
    protection_request = ProtectionRequest.objects.create(**fields)
    profile = protection_request.profile
    # Kind "report" (the queue's kind for anything a person tells us): the
    # summary and the top risk score mark it as a protection request.
    submit_for_review(
        protection_request,
        ModerationItem.Kind.REPORT,
        facility=profile.facility if profile is not None else None,
        summary=_request_summary(protection_request),
        risk_score=PROTECTION_RISK,
        flags=["threat"],
    )
    # The requester has no account: the confirmation is in the language of
    # the page they submitted, active now.
    language = translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(lambda: send_confirmation(protection_request.pk, language))
    return protection_request


def send_confirmation(protection_request_id: int, language: str | None = None) -> None:
    """The requester's neutral confirmation, in `language` (default: the
    site's). It names no one and says nothing about the person listed or
    what staff will find."""
    protection_request = ProtectionRequest.objects.filter(pk=protection_request_id).first()
    if protection_request is None:
        return
    with translation.override(language or settings.LANGUAGE_CODE):
        message = _render_confirmation(protection_request)
    try:
        message.send()
    except Exception:
        # The request is recorded and in the queue; a lost confirmation must
        # not turn the requester's submission into an error page.
        logger.exception(
            "protection request confirmation not sent", extra={"id": protection_request_id}
        )


def _render_confirmation(protection_request: ProtectionRequest) -> EmailMultiAlternatives:
    # Anyone can type any address into the public form: the email carries
    # nothing they typed and nothing about the request (no name, no profile,
    # no ask, no sequence number), only that a request arrived and a link.
    context = {"safety_url": settings.SITE_URL + reverse("safety")}
    subject = render_to_string("moderation/email/protection_received_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("moderation/email/protection_received.txt", context),
        to=[protection_request.requester_email],
        headers={"Content-Language": translation.get_language()},
    )
    message.attach_alternative(
        render_to_string("moderation/email/protection_received.html", context), "text/html"
    )
    return message


def _locked_open_request(protection_request: ProtectionRequest) -> ProtectionRequest:
    locked = ProtectionRequest.objects.select_for_update().get(pk=protection_request.pk)
    if locked.status != ProtectionRequest.Status.OPEN:
        raise ProtectionRefused(
            gettext("Request #%(pk)s was already handled: %(status)s.")
            % {"pk": locked.pk, "status": locked.get_status_display().lower()}
        )
    return locked


def _resolve(protection_request: ProtectionRequest, staff, status: str, note: str) -> None:
    protection_request.status = status
    protection_request.resolved_by = staff
    protection_request.resolved_at = timezone.now()
    protection_request.save(
        update_fields=["status", "resolved_by", "resolved_at", "no_contact_order"]
    )
    close_pending_review(protection_request, staff, note)


def close_pending_review(target, staff, note: str) -> None:
    """Close the target's pending review as "action taken", if it is still open."""
    for item_id in ModerationItem.objects.for_object(target).pending().values_list("pk", flat=True):
        try:
            do_decide(item_id, staff, approve=True, note=note)
        except AlreadyDecided:
            pass  # Someone decided it meanwhile; the action stands on its own.


@transaction.atomic
def do_grant_no_contact_order(protection_request: ProtectionRequest, staff) -> NoContactOrder:
    """Turn a request into a no-contact order in one step: the order is
    recorded, any correspondence between that email and the person is
    closed, and the request's moderation item is decided."""
    protection_request = _locked_open_request(protection_request)
    if protection_request.profile_id is None:
        raise ProtectionRefused(
            gettext(
                "Request #%(pk)s names no profile: choose the profile on the "
                "request first, then record the order."
            )
            % {"pk": protection_request.pk}
        )
    if not protection_request.order_name and not protection_request.order_email:
        raise ProtectionRefused(
            gettext("Request #%(pk)s gives no name or email of the person to protect.")
            % {"pk": protection_request.pk}
        )
    order = NoContactOrder.objects.create(
        profile_id=protection_request.profile_id,
        name=protection_request.order_name,
        email=protection_request.order_email,
        note=f"From protection request #{protection_request.pk}.",
        created_by=staff,
    )
    enforce_order_now(order)
    protection_request.no_contact_order = order
    _resolve(
        protection_request,
        staff,
        ProtectionRequest.Status.NO_CONTACT_ORDER,
        f"No-contact order #{order.pk} recorded.",
    )
    return order


def enforce_order_now(order: NoContactOrder) -> None:
    """Staff's orders apply at once, in the caller's transaction: staff may
    see every correspondence anyway. (messaging does the work, through
    moderation.signals: moderation imports no domain app.)"""
    no_contact_order_recorded.send(sender=NoContactOrder, order=order, immediately=True)


def enforce_order_later(order: NoContactOrder) -> None:
    """Apply the order in a task after commit: whoever recorded it sees the
    same response, at the same speed, whether or not its email has an account."""
    no_contact_order_recorded.send(sender=NoContactOrder, order=order, immediately=False)


@transaction.atomic
def do_pause_requested_profile(protection_request: ProtectionRequest, staff):
    """Turn a request into a paused profile in one step (the profile leaves the
    directory and takes no letters until staff resume it)."""
    protection_request = _locked_open_request(protection_request)
    if protection_request.profile_id is None:
        raise ProtectionRefused(
            gettext("Request #%(pk)s names no profile: choose the profile on the request first.")
            % {"pk": protection_request.pk}
        )
    profile = pause_profile(protection_request.profile, staff)
    _resolve(
        protection_request,
        staff,
        ProtectionRequest.Status.PROFILE_PAUSED,
        "Profile paused.",
    )
    return profile


@transaction.atomic
def do_dismiss_protection_request(protection_request: ProtectionRequest, staff) -> None:
    protection_request = _locked_open_request(protection_request)
    protection_request.status = ProtectionRequest.Status.DISMISSED
    protection_request.resolved_by = staff
    protection_request.resolved_at = timezone.now()
    protection_request.save(update_fields=["status", "resolved_by", "resolved_at"])
    for item_id in (
        ModerationItem.objects.for_object(protection_request).pending().values_list("pk", flat=True)
    ):
        try:
            do_decide(
                item_id, staff, approve=False, reason_code=ModerationItem.Reason.OTHER,
                note=gettext_noop("Dismissed."),
            )  # fmt: skip
        except AlreadyDecided:
            pass


# --- Actions on what is reported -------------------------------------------------------------


def pause_profile(profile, staff):
    """Pause a profile on staff's decision (profiles does it, audited as a
    lifecycle action by `staff`: moderation.registry.PAUSE_PROFILE). Only
    staff can resume it; a profile its liaison had paused becomes staff-paused."""
    return registry.action(registry.PAUSE_PROFILE)(profile, staff)


@transaction.atomic
def check_suspend_writer(user, staff, reason: str) -> WritingSuspension:
    """Stop `user` writing letters. Their letters stay as they are, visible to
    staff. Suspending someone already suspended returns the active suspension."""
    if user.is_staff or user.is_superuser:
        raise ProtectionRefused(
            gettext("Staff accounts do not write letters; there is nothing to suspend.")
        )
    reason = reason.strip()
    if not reason:
        raise ProtectionRefused(gettext("Say why the account is suspended."))
    # The unique constraint allows one active suspension: lock the user so two
    # staff suspending at once make one.
    type(user).objects.select_for_update().filter(pk=user.pk).first()
    existing = WritingSuspension.objects.active().filter(user=user).first()
    if existing is not None:
        return existing
    return WritingSuspension.objects.create(user=user, reason=reason, created_by=staff)


def do_lift_suspension(suspension: WritingSuspension, staff) -> bool:
    """Let the person write again; False when it was already lifted."""
    return bool(
        WritingSuspension.objects.filter(pk=suspension.pk, lifted_at__isnull=True).update(
            lifted_at=timezone.now(), lifted_by=staff
        )
    )


def do_close_correspondence(correspondence) -> bool:
    """Close a correspondence on the team's decision; False when already closed.
    Its letters stay for both sides to read; those still waiting for a
    decision are not delivered (messaging does it: see
    moderation.registry.CLOSE_CORRESPONDENCE)."""
    return registry.action(registry.CLOSE_CORRESPONDENCE)(correspondence)


# --- What a report points to ---------------------------------------------------------------
# Each app registers, per model, how to find these (moderation.registry.Subject).


def profile_of(target):
    """The profile a reported thing is about: a profile, a photo's profile, or
    the profile of a letter's or correspondence's pair; None for a user."""
    subject = registry.subject_of(target)
    return subject.profile_of(target) if subject is not None else None


def writer_of(target):
    """The pen pal behind a reported thing: a user, or the writer of an
    outbound letter; None otherwise (an inmate's letter has no pen pal writer)."""
    subject = registry.subject_of(target)
    return subject.writer_of(target) if subject is not None else None


def correspondence_of(target):
    subject = registry.subject_of(target)
    return subject.correspondence_of(target) if subject is not None else None


@transaction.atomic
def do_record_no_contact_order(actor, profile, fields: dict) -> NoContactOrder:
    """Record a no-contact order (staff, who the caller has checked): letters
    from that email are refused from now on, any open correspondence between
    that email and the person is closed, and letters not yet printed from a
    writer matching the order go back to a moderator."""
    order = NoContactOrder.objects.create(profile=profile, created_by=actor, **fields)
    enforce_order_now(order)
    return order
