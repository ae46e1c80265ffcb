"""Screening's codes in words, for the moderators' templates (moderation.labels)."""

from __future__ import annotations

from django import template

from moderation import labels
from moderation.alerts import alert_text

register = template.Library()

register.filter("category_label", labels.category_label)
register.filter("category_labels", labels.category_labels)
register.filter("rule_action_label", labels.rule_action_label)
register.filter("alert_text", alert_text)
