"""The moderation dashboard on the admin index (templates/admin/index.html)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from moderation.admin import ModerationItemAdmin
from moderation.dashboard import QueueDashboard, queue_dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def moderation_dashboard(context) -> QueueDashboard | None:
    """The dashboard's figures, or None for staff who may not see the queue."""
    user = context["request"].user
    if not user.has_perm("moderation.view_moderationitem"):
        return None
    return queue_dashboard()


@register.simple_tag
def queue_url(*, sort: str = "", **filters) -> str:
    """The moderation queue with `filters` (the list's own query parameters,
    e.g. kind__exact="letter_out"), sorted ascending by the column `sort`
    names (a list_display entry), as a click on its header would."""
    params = dict(filters)
    if sort:
        # The list's columns start with the action checkbox (index 0).
        params["o"] = ModerationItemAdmin.list_display.index(sort) + 1
    url = reverse("admin:moderation_moderationitem_changelist")
    return f"{url}?{urlencode(params)}" if params else url
