"""The moderation dashboard on the admin index (templates/admin/index.html)."""

from __future__ import annotations

from django import template

from moderation.dashboard import queue_dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def moderation_dashboard(context) -> dict | None:
    """The dashboard's figures, or None for staff who may not see the queue."""
    user = context["request"].user
    if not user.has_perm("moderation.view_moderationitem"):
        return None
    return queue_dashboard()
