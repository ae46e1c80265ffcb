"""Letter screening and the email outbox (implemented in messaging.services and
messaging.notifications). Every task is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task
def screen_letter(letter_id: int) -> None:
    from messaging.services import screen_letter as screen

    screen(letter_id)


@shared_task
def sweep_unscreened_letters() -> int:
    """Re-send screening for letters whose task was lost (scheduled by beat)."""
    from messaging.services import sweep_unscreened_letters as sweep

    return sweep()


@shared_task(bind=True)
def send_notification(self, notification_id: int) -> str:
    """Send one email from the outbox (messaging.notifications); safe to run twice.

    A failed send is retried after its backoff. A database error escapes to
    the base task's automatic retry; the row is then pending (nothing was sent)
    or "sending" (the sweep deals with it), never sent twice by the retry.
    """
    from messaging.notifications import SendFailed, deliver_notification

    try:
        return deliver_notification(notification_id)
    except SendFailed as exc:
        # The row is pending again with the attempt counted; if this retry is
        # lost, the outbox sweep sends the row once its backoff has passed.
        raise self.retry(countdown=exc.retry_in, max_retries=None) from exc


@shared_task
def sweep_outbox() -> int:
    """Re-send emails stuck unsent (scheduled by beat)."""
    from messaging.notifications import sweep_outbox as sweep

    return sweep()


# A 200-letter batch of the longest letters takes minutes (messaging/printing.py).
@shared_task(soft_time_limit=600, time_limit=660)
def render_print_batch_pdf(batch_id: int) -> str:
    """Render a print batch's PDF into private storage (messaging.printing)."""
    from messaging.printing import render_and_store_batch_pdf

    return render_and_store_batch_pdf(batch_id)


@shared_task
def purge_expired_scans() -> int:
    """Delete reply scans past LETTER_SCAN_RETENTION_DAYS (scheduled daily by beat)."""
    from messaging.retention import purge_expired_scans as purge

    return purge()


@shared_task
def enforce_no_contact_order(order_id: int) -> int:
    """Close and hold back what a new no-contact order covers (enqueued when
    a liaison records one: messaging.services.on_no_contact_order_recorded)."""
    from messaging.services import enforce_no_contact_order as enforce

    return enforce(order_id)
