"""The letters panel on the liaison's facility dashboard (profiles' page)."""

from __future__ import annotations

from django import template

from messaging.models import Letter, PrintBatch

register = template.Library()


@register.inclusion_tag("messaging/liaison/_dashboard_panel.html")
def liaison_letters_panel(facility) -> dict:
    """Links to the print queue and replies, with what waits: three counts."""
    return {
        "facility": facility,
        "queue_count": Letter.objects.print_queue(facility).count(),
        "undelivered_batch_count": PrintBatch.objects.filter(
            facility=facility, delivered_at__isnull=True
        ).count(),
        "replies_in_review_count": Letter.objects.inbound()
        .filter(
            correspondence__profile__facility=facility,
            status__in=(Letter.Status.SUBMITTED, Letter.Status.IN_REVIEW),
        )
        .count(),
    }
