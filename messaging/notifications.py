"""Sending the outbox: one `Notification` row is one email.

How an email gets sent
    `messaging.services.notify` records the row (one per event: `key` is
    unique) and enqueues `messaging.tasks.send_notification` after commit. The
    task calls `deliver_notification`, which

    1. claims the row: "pending" -> "sending", attempt counted, committed
       before the mail server is contacted;
    2. renders the email from the row's ids, now (`build_email`), and sends it;
    3. marks the row "sent".

Why nothing is sent twice
    Only a "pending" row whose backoff has passed can be claimed, under a row
    lock, so a second task for the same row (a duplicate delivery, a retry
    racing the sweep, a redelivery after a worker restart) finds nothing to
    do. A send that fails before the server accepted the message puts the row
    back to "pending".

    The one window where the outcome is unknown is between handing the message
    to the mail server and committing "sent": a worker killed there, a
    database that goes away there, or a connection that drops after the server
    received the message but before it confirmed. The row then stays
    "sending" (the sweep resets it after SENDING_STALE) or comes back
    "pending", and is sent again: such a crash can repeat an email rather
    than lose it. Every attempt at one row carries the same Message-ID, so a
    mail server or client that de-duplicates drops the repeat.

Failures
    A refused connection, a timeout, a temporary (4xx) answer or any other
    error: the row goes back to "pending" with `last_error`, and the task
    retries after `backoff_seconds(attempts)`. After NOTIFICATION_MAX_ATTEMPTS
    attempts, or at once when the server refuses the recipient permanently
    (5xx), the row is "failed". The recipient gone (account deleted), the
    preference switched off since, or the letter gone: the row is "cancelled".

The sweep (beat, every two minutes) re-sends what no task will: pending rows
whose task was lost (never tried after FIRST_TASK_GRACE), pending rows whose
retry was lost (backoff plus RETRY_GRACE passed), and rows left "sending" by a
worker that died (after SENDING_STALE, longer than any task may run).

Privacy: the row's context holds ids only, and the templates get no letter
object: an email says what happened and links to the conversation, where the
pen pal signs in. No letter text, nothing about the inmate. A rejection
carries the reason and the moderator's note, which staff write for the sender.
A returned letter carries the reason and what to do, but not the facility's
note, which the pen pal reads in the thread.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from messaging.models import Letter, Notification
from messaging.returns import return_advice
from messaging.services import NOTIFICATION_PREFERENCE, rejection_reason_label
from penpals.models import User
from penpals.tasks import task_named

logger = logging.getLogger(__name__)

State = Notification.State
Kind = Notification.Kind

# The after-commit task normally sends a new row within seconds; the sweep
# waits this long before deciding that task was lost.
FIRST_TASK_GRACE = timedelta(minutes=1)
# The same for a scheduled retry, counted from the end of its backoff.
RETRY_GRACE = timedelta(minutes=1)
# A row "sending" for longer than this belongs to a worker that died: Celery
# kills any task after CELERY_TASK_TIME_LIMIT (3 minutes), well within it.
SENDING_STALE = timedelta(minutes=10)
MAX_BACKOFF_SECONDS = 3600


class SendFailed(Exception):
    """The email was not sent and the row is pending again: retry in `retry_in` seconds."""

    def __init__(self, message: str, retry_in: int):
        super().__init__(message)
        self.retry_in = retry_in


def backoff_seconds(attempts: int) -> int:
    """Wait after the `attempts`-th failure: 30 s, 1 min, 2 min ... at most an hour."""
    return min(MAX_BACKOFF_SECONDS, 30 * 2 ** max(0, attempts - 1))


def next_attempt_at(notification: Notification) -> datetime:
    """When a pending row may be tried (again)."""
    if notification.attempted_at is None:
        return notification.created_at
    return notification.attempted_at + timedelta(seconds=backoff_seconds(notification.attempts))


def message_id(notification: Notification) -> str:
    """The same on every attempt at one row; differs between rows, databases and sites."""
    domain = urlsplit(settings.SITE_URL).hostname or "penpals.localhost"
    return f"<notification-{notification.pk}-{int(notification.created_at.timestamp())}@{domain}>"


# --- Rendering ---------------------------------------------------------------------------


def build_email(notification: Notification) -> EmailMultiAlternatives:
    """Render `notification` for sending now.

    Raises Letter.DoesNotExist when the letter it is about no longer exists.
    """
    letter = (
        Letter.objects.only(
            "pk", "correspondence_id", "rejection_reason", "rejection_note",
            "return_reason", "return_note",
        )
        .get(pk=notification.context["letter_id"])
    )  # fmt: skip
    recipient = notification.recipient
    # The recipient's language, not the one active in this worker or request.
    with translation.override(recipient.language):
        return _render_email(notification, letter, recipient)


def _render_email(
    notification: Notification, letter: Letter, recipient: User
) -> EmailMultiAlternatives:
    site_url = settings.SITE_URL
    # The templates get names and links only, never the letter: nothing in an
    # email can show what a letter says or who the inmate is.
    context = {
        "name": recipient.display_name,
        "site_url": site_url,
        "letters_url": site_url + reverse("letters:inbox"),
        "thread_url": site_url + reverse("letters:thread", args=[letter.correspondence_id]),
        "settings_url": site_url + reverse("account_settings"),
    }
    if notification.kind == Kind.LETTER_REJECTED:
        context["reason"] = rejection_reason_label(letter)
        context["note"] = letter.rejection_note
        context["safety_url"] = site_url + reverse("safety")
    if notification.kind == Kind.LETTER_RETURNED:
        # The reason and what to do about it. The liaison's note stays on the
        # site, behind sign-in: a facility's free text may say something about
        # the person (where they went), which an email must never carry.
        context["reason"] = letter.get_return_reason_display()
        context["advice"] = return_advice(letter.return_reason)
        context["note_added"] = "yes" if letter.return_note else ""
    base = f"messaging/email/{notification.kind}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    email = EmailMultiAlternatives(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
        body=render_to_string(f"{base}.txt", context),
        to=[recipient.email],
        headers={
            "Message-ID": message_id(notification),
            # RFC 3834: an automatic message; vacation responders stay quiet.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "Content-Language": translation.get_language(),
        },
    )
    email.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    return email


# --- Sending -----------------------------------------------------------------------------


def _claim(notification_id: int) -> Notification | None:
    """Mark the row "sending" if it is pending and due; None if there is nothing to do."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id, state=State.PENDING)
            .first()
        )
        # Locked by another worker, already sent, or still in its backoff (an
        # early duplicate must not spend an attempt): nothing to do here.
        if notification is None or next_attempt_at(notification) > timezone.now():
            return None
        notification.state = State.SENDING
        notification.attempts += 1
        notification.attempted_at = timezone.now()
        notification.save(update_fields=["state", "attempts", "attempted_at"])
        return notification


def _reason_not_to_send(notification: Notification) -> str:
    recipient = notification.recipient
    if recipient.is_deleted or not recipient.email:
        return "recipient account deleted"
    # Checked again now: the person may have switched this email off since.
    if not getattr(recipient, NOTIFICATION_PREFERENCE[Kind(notification.kind)]):
        return "recipient switched these emails off"
    return ""


def _is_permanent(exc: Exception) -> bool:
    """The server refused every recipient for good (5xx): no retry can help.

    Other 5xx answers (authentication, a refused sender) are a configuration
    problem an operator fixes, so they are retried like a network failure.
    """
    return (
        isinstance(exc, smtplib.SMTPRecipientsRefused)
        and bool(exc.recipients)
        and all(code >= 500 for code, _ in exc.recipients.values())
    )


def _finish(notification: Notification, state: str, **fields) -> None:
    Notification.objects.filter(pk=notification.pk).update(state=state, **fields)


def _cancel(notification: Notification, reason: str, log: dict) -> str:
    _finish(notification, State.CANCELLED, last_error=reason)
    logger.info("email cancelled", extra={**log, "reason": reason})
    return "cancelled"


def deliver_notification(notification_id: int) -> str:
    """Send one outbox email, at most once; safe to call any number of times.

    Returns "sent", "skipped" (not pending, not due yet, or another worker has
    it), "cancelled" or "failed". Raises SendFailed when the row is pending
    again and the caller should retry after `retry_in` seconds.
    """
    notification = _claim(notification_id)
    if notification is None:
        return "skipped"
    log = {"notification": notification.pk, "kind": notification.kind}
    if reason := _reason_not_to_send(notification):
        return _cancel(notification, reason, log)
    try:
        build_email(notification).send()
    except Letter.DoesNotExist:
        return _cancel(notification, "letter no longer exists", log)
    except Exception as exc:
        # A rendering bug counts as an attempt too: retried (a fix may be
        # deployed meanwhile), then given up, never retried forever.
        error = repr(exc)[:2000]
        gave_up = _is_permanent(exc) or notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
        _finish(notification, State.FAILED if gave_up else State.PENDING, last_error=error)
        logger.warning(
            "email not sent",
            extra={**log, "attempts": notification.attempts, "error": error, "gave_up": gave_up},
            # Network and SMTP errors are OSErrors; anything else is a bug worth a traceback.
            exc_info=not isinstance(exc, OSError),
        )
        if gave_up:
            return "failed"
        raise SendFailed(error, backoff_seconds(notification.attempts)) from exc
    _finish(notification, State.SENT, sent_at=timezone.now(), last_error="")
    logger.info("email sent", extra={**log, "attempts": notification.attempts})
    return "sent"


# --- The sweep ---------------------------------------------------------------------------


def _lost(now: datetime) -> Q:
    """Pending rows that a task should have sent by `now` and did not."""
    lost = Q(attempted_at__isnull=True, created_at__lt=now - FIRST_TASK_GRACE)
    attempts = 1
    while backoff_seconds(attempts) < MAX_BACKOFF_SECONDS:
        waited = timedelta(seconds=backoff_seconds(attempts)) + RETRY_GRACE
        lost |= Q(attempts=attempts, attempted_at__lt=now - waited)
        attempts += 1
    waited = timedelta(seconds=MAX_BACKOFF_SECONDS) + RETRY_GRACE
    return lost | Q(attempts__gte=attempts, attempted_at__lt=now - waited)


def sweep_outbox(limit: int = 500) -> int:
    """Enqueue a send for every email stuck unsent; returns how many.

    Run by beat. Rows left "sending" by a dead worker go back to "pending"
    first. Sending twice is harmless: `deliver_notification` claims each row once.
    """
    send_notification = task_named("messaging.tasks.send_notification")
    now = timezone.now()
    stale = Notification.objects.filter(state=State.SENDING, attempted_at__lt=now - SENDING_STALE)
    # A row that kills its worker every time must not be tried forever.
    last_chance = Q(attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS)
    stopped = "the worker sending it stopped"
    given_up = stale.filter(last_chance).update(state=State.FAILED, last_error=stopped)
    reset = stale.exclude(last_chance).update(state=State.PENDING, last_error=stopped)
    if given_up or reset:
        logger.warning(
            "outbox rows left sending by a dead worker",
            extra={"reset": reset, "given_up": given_up},
        )
    # Served by the partial index messaging_outbox_unsent.
    lost_ids = list(
        Notification.objects.filter(_lost(now), state=State.PENDING)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in lost_ids:
        send_notification.delay(notification_id)
    return len(lost_ids)
