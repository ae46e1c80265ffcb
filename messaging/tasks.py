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


@shared_task(bind=True, autoretry_for=())
def send_notification(self, notification_id: int) -> str:
    """Send one email from the outbox; a failure is retried with backoff."""
    from messaging.notifications import SendFailed, deliver_notification

    try:
        return deliver_notification(notification_id)
    except SendFailed as exc:
        # The row is back to "pending" with its attempt counted; if this retry
        # is lost too, the outbox sweep sends it.
        raise self.retry(countdown=exc.retry_in, max_retries=None) from exc


@shared_task
def sweep_outbox() -> int:
    """Re-send emails stuck unsent (scheduled by beat)."""
    from messaging.notifications import sweep_outbox as sweep

    return sweep()
