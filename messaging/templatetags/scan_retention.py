"""`{% scan_retention_days %}`: the period after which reply scans are deleted
(messaging.retention), for pages that say a scan was removed."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def scan_retention_days() -> int:
    return settings.LETTER_SCAN_RETENTION_DAYS
