"""The moderation queue's gauges on /metrics (registered in ModerationConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from moderation.models import ModerationItem


def collect() -> Iterator[Metric]:
    """Pending items per kind and the oldest one's age: one query, an
    index-only scan of the partial index moderation_pending_kind."""
    pending = {
        kind: (items, oldest)
        for kind, items, oldest in ModerationItem.objects.pending()
        .values_list("kind")
        .annotate(items=Count("id"), oldest=Min("created_at"))
        .order_by()
    }
    now = timezone.now()
    items = GaugeMetricFamily(
        "penpals_moderation_pending_items",
        "Moderation items waiting for a decision, by kind.",
        labels=["kind"],
    )
    oldest_age = GaugeMetricFamily(
        "penpals_moderation_oldest_pending_age_seconds",
        "Age of the oldest moderation item waiting for a decision, by kind "
        "(absent for a kind with none waiting).",
        labels=["kind"],
    )
    # Every kind, 0 included: a series that vanishes cannot be alerted on.
    for kind in ModerationItem.Kind.values:
        count, oldest = pending.get(kind, (0, None))
        items.add_metric([kind], count)
        if oldest is not None:
            oldest_age.add_metric([kind], max((now - oldest).total_seconds(), 0.0))
    yield items
    yield oldest_age
