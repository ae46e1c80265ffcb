"""Letters' gauges and the worker's timings on /metrics (registered in
MessagingConfig.ready; the timings wrap the tasks in messaging.tasks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from messaging.models import Letter, Notification
from penpals.metrics import Timing

# Seconds. Screening one letter is rules over its text: well under a second.
SCREENING = Timing(
    "penpals_letter_screening_seconds",
    "Time the worker took to screen one letter (messaging.tasks.screen_letter).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# A run is up to SCAN_RUN_MAX_PAGES pages at 0.05-0.4 s each: up to minutes.
SCAN_RUN = Timing(
    "penpals_scan_run_processing_seconds",
    "Time the worker took to read and split one scanning run into replies "
    "(messaging.tasks.process_scan_run).",
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800),
)
# OCR takes seconds a page, a reply up to SCAN_MAX_PAGES pages.
REPLY_READING = Timing(
    "penpals_reply_reading_seconds",
    "Time the worker took to OCR and screen one reply's scanned pages "
    "(messaging.tasks.read_reply).",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900),
)

# Emails given up on this recently count as "recent failures".
RECENT_FAILURE_WINDOW = timedelta(hours=24)


def _print_queues() -> Iterator[Metric]:
    """Approved letters not yet printed, per facility: the rule of
    LetterQuerySet.print_queue for every facility at once (a test holds the
    two together). The partial index messaging_letter_print_queue finds them."""
    queues = (
        Letter.objects.filter(
            direction=Letter.Direction.OUTBOUND,
            status=Letter.Status.APPROVED,
            correspondence__closed_at__isnull=True,
            correspondence__blocked_by_pen_pal_at__isnull=True,
            correspondence__blocked_by_inmate_at__isnull=True,
        )
        .values_list("correspondence__profile__facility__slug")
        .annotate(letters=Count("id"), oldest=Min("approved_at"))
        .order_by()
    )
    now = timezone.now()
    letters = GaugeMetricFamily(
        "penpals_letters_to_print",
        "Approved letters waiting to be printed, by facility (slug); "
        "facilities with none are absent.",
        labels=["facility"],
    )
    oldest_age = GaugeMetricFamily(
        "penpals_letters_to_print_oldest_age_seconds",
        "How long the longest-waiting approved letter has waited to be printed, by facility.",
        labels=["facility"],
    )
    for facility, count, oldest in queues:
        letters.add_metric([facility], count)
        if oldest is not None:
            oldest_age.add_metric([facility], max((now - oldest).total_seconds(), 0.0))
    yield letters
    yield oldest_age


def _outbox() -> Iterator[Metric]:
    now = timezone.now()
    # The partial index messaging_outbox_unsent: only rows still to send.
    unsent = Notification.objects.filter(
        state__in=(Notification.State.PENDING, Notification.State.SENDING)
    ).aggregate(
        backlog=Count("id"),
        retrying=Count("id", filter=Q(attempts__gt=0)),
        oldest=Min("created_at"),
    )
    # The partial index messaging_outbox_failed: failures are few, sent rows are not.
    failed = Notification.objects.filter(state=Notification.State.FAILED).aggregate(
        total=Count("id"),
        recent=Count("id", filter=Q(attempted_at__gte=now - RECENT_FAILURE_WINDOW)),
    )
    yield GaugeMetricFamily(
        "penpals_outbox_backlog",
        "Emails in the outbox not sent yet (waiting, being sent or between retries).",
        value=unsent["backlog"],
    )
    yield GaugeMetricFamily(
        "penpals_outbox_retrying",
        "Emails in the outbox whose earlier attempts failed and that will be tried again.",
        value=unsent["retrying"],
    )
    oldest = unsent["oldest"]
    yield GaugeMetricFamily(
        "penpals_outbox_oldest_age_seconds",
        "Age of the oldest email not sent yet (0 when the outbox is empty).",
        value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
    )
    yield GaugeMetricFamily(
        "penpals_outbox_failed",
        "Emails the outbox gave up on (NOTIFICATION_MAX_ATTEMPTS spent, or refused for good).",
        value=failed["total"],
    )
    yield GaugeMetricFamily(
        "penpals_outbox_failed_last_day",
        "Emails the outbox gave up on whose last attempt began in the past 24 hours.",
        value=failed["recent"],
    )


def collect() -> Iterator[Metric]:
    """Three queries, each on a partial index, whatever the tables' size."""
    yield from _print_queues()
    yield from _outbox()
