"""Returned mail on the pen pal's pages: what a pen pal can do about a return."""

from __future__ import annotations

from django import template

from messaging import returns

register = template.Library()


@register.simple_tag
def return_advice(reason: str) -> str:
    """`{% return_advice letter.return_reason as advice %}`, in the active language."""
    return returns.return_advice(reason)
