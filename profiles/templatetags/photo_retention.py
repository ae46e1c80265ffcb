"""`{% rejected_photo_retention_days %}`: the period after which a rejected
photo's original is deleted (profiles.retention)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def rejected_photo_retention_days() -> int:
    return settings.REJECTED_PHOTO_RETENTION_DAYS
