"""Letter screening and the email outbox (implemented in messaging.services and
messaging.notifications). Every task is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from messaging import intake, notifications, printing, reading, retention, services
from messaging.metrics import REPLY_READING, SCAN_RUN, SCREENING


@shared_task
def screen_letter(letter_id: int) -> None:
    with SCREENING.time():
        services.screen_letter(letter_id)


@shared_task
def sweep_unscreened_letters() -> int:
    """Re-send screening for letters whose task was lost (scheduled by beat)."""
    return services.sweep_unscreened_letters()


@shared_task(bind=True)
def send_notification(self, notification_id: int) -> str:
    """Send one email from the outbox (messaging.notifications); safe to run twice.

    A failed send is retried after its backoff. A database error escapes to
    the base task's automatic retry; the row is then pending (nothing was sent)
    or "sending" (the sweep deals with it), never sent twice by the retry.
    """
    try:
        return notifications.deliver_notification(notification_id)
    except notifications.SendFailed as exc:
        # The row is pending again with the attempt counted; if this retry is
        # lost, the outbox sweep sends the row once its backoff has passed.
        raise self.retry(countdown=exc.retry_in, max_retries=None) from exc


@shared_task
def sweep_outbox() -> int:
    """Re-send emails stuck unsent (scheduled by beat)."""
    return notifications.sweep_outbox()


# A 200-letter batch of the longest letters takes minutes (messaging/printing.py).
@shared_task(soft_time_limit=600, time_limit=660)
def render_print_batch_pdf(batch_id: int) -> str:
    """Render a print batch's PDF into private storage (messaging.printing)."""
    return printing.render_and_store_batch_pdf(batch_id)


@shared_task
def purge_expired_scans() -> int:
    """Delete reply scans past LETTER_SCAN_RETENTION_DAYS (scheduled daily by beat)."""
    return retention.purge_expired_scans()


@shared_task
def enforce_no_contact_order(order_id: int) -> int:
    """Close and hold back what a new no-contact order covers (enqueued when
    a liaison records one: messaging.services.on_no_contact_order_recorded)."""
    return services.enforce_no_contact_order(order_id)


# OCR takes seconds a page; messaging.reading stops starting pages well
# within the soft limit, so a reply is always screened.
@shared_task(soft_time_limit=900, time_limit=960)
def read_reply(letter_id: int) -> None:
    """OCR an inbound letter's scans, then screen it (messaging.reading)."""
    with REPLY_READING.time():
        reading.read_reply(letter_id)


# A run of 500 pages takes minutes; a run cut short by the limit carries on
# where it stopped when the sweep queues it again (messaging/intake.py).
@shared_task(soft_time_limit=1800, time_limit=1860)
def process_scan_run(run_id: int) -> str:
    """Read a scanning run and split it into replies (messaging.intake)."""
    with SCAN_RUN.time():
        return intake.process_run(run_id)


@shared_task
def sweep_scan_runs() -> int:
    """Queue again scanning runs whose worker stopped (scheduled by beat)."""
    return intake.sweep_scan_runs()


@shared_task
def render_letter_pdf(letter_id: int) -> str:
    """Render an approved letter's pages and reply sheet into private storage,
    once, for the print batches it will be merged into (messaging.printing)."""
    return printing.render_and_store_letter_pdf(letter_id)


@shared_task
def discard_letter_pdfs(letter_ids: list[int]) -> int:
    """Remove the stored PDFs of letters delivered, rejected or returned (messaging.printing)."""
    return printing.discard_letter_pdfs(letter_ids)


@shared_task
def sweep_letter_pdfs() -> int:
    """Remove stored letter PDFs that no letter needs (scheduled daily by beat)."""
    return printing.sweep_letter_pdfs()
