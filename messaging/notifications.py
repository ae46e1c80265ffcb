"""Sending the outbox: one `Notification` row is one email, sent at most once.

A send first marks the row "sending" (committed), then talks to the mail
server, then marks it "sent". A second task for the same row finds it not
"pending" and does nothing. If the mail server refuses or is down, the row
goes back to "pending" with the attempt counted, and the task retries with
backoff; after NOTIFICATION_MAX_ATTEMPTS it is marked "failed". If a worker
dies between "sending" and "sent" (the one window where the outcome is
unknown), the sweep re-sends the row after SENDING_STALE: a crash there may
mean one email twice, never none.

Emails never contain letter text or an inmate's private data: they say what
happened and link to the inbox, where the pen pal signs in to read.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from messaging.models import Notification

logger = logging.getLogger(__name__)

State = Notification.State

# A row "sending" for longer than this belongs to a worker that died.
SENDING_STALE = timedelta(minutes=10)


class SendFailed(Exception):
    def __init__(self, message: str, retry_in: int):
        super().__init__(message)
        self.retry_in = retry_in


def backoff_seconds(attempts: int) -> int:
    """Wait before the next attempt: 30 s, 1 min, 2 min ... at most an hour."""
    return min(3600, 30 * 2 ** max(0, attempts - 1))


def build_email(notification: Notification) -> EmailMultiAlternatives:
    recipient = notification.recipient
    context = {
        "notification": notification,
        "name": recipient.display_name or "there",
        "site_url": settings.SITE_URL,
        "letters_url": settings.SITE_URL + reverse("letters:inbox"),
        "settings_url": settings.SITE_URL + reverse("account_settings"),
    }
    correspondence_id = notification.context.get("correspondence_id")
    if correspondence_id:
        context["thread_url"] = settings.SITE_URL + reverse(
            "letters:thread", args=[correspondence_id]
        )
    base = f"messaging/email/{notification.kind}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
        body=render_to_string(f"{base}.txt", context),
        to=[recipient.email],
        # The same id on every attempt lets a mail server drop a repeat.
        headers={"Message-ID": f"<notification-{notification.pk}@penpals>"},
    )
    message.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    return message


def _claim(notification_id: int) -> Notification | None:
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id, state=State.PENDING)
            .first()
        )
        if notification is None:
            return None
        notification.state = State.SENDING
        notification.attempts += 1
        notification.attempted_at = timezone.now()
        notification.save(update_fields=["state", "attempts", "attempted_at"])
        return notification


def deliver_notification(notification_id: int) -> str:
    notification = _claim(notification_id)
    if notification is None:
        return "skipped"
    recipient = notification.recipient
    if recipient.is_deleted or not recipient.email:
        Notification.objects.filter(pk=notification.pk).update(state=State.CANCELLED)
        return "cancelled"
    try:
        build_email(notification).send()
    except Exception as exc:
        gave_up = notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
        Notification.objects.filter(pk=notification.pk).update(
            state=State.FAILED if gave_up else State.PENDING, last_error=repr(exc)[:2000]
        )
        logger.warning(
            "email not sent", extra={"notification": notification.pk, "error": repr(exc)}
        )
        if gave_up:
            return "failed"
        raise SendFailed(repr(exc), backoff_seconds(notification.attempts)) from exc
    Notification.objects.filter(pk=notification.pk).update(
        state=State.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"


def sweep_outbox(limit: int = 500) -> int:
    """Send again what is stuck: pending rows whose task was lost (or whose
    backoff has passed), and rows left "sending" by a worker that died."""
    from messaging.tasks import send_notification

    now = timezone.now()
    Notification.objects.filter(state=State.SENDING, attempted_at__lt=now - SENDING_STALE).update(
        state=State.PENDING
    )
    due = []
    for pk, attempts, attempted_at, created_at in (
        Notification.objects.filter(state=State.PENDING)
        .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lt=now - timedelta(seconds=30)))
        .order_by("created_at")
        .values_list("pk", "attempts", "attempted_at", "created_at")[:limit]
    ):
        if attempted_at is None:
            # Never tried: the task sent after commit gets a minute first.
            if created_at > now - timedelta(minutes=1):
                continue
        elif attempted_at > now - timedelta(seconds=backoff_seconds(attempts)):
            continue
        due.append(pk)
    for pk in due:
        send_notification.delay(pk)
    return len(due)
