"""Returned mail on the pen pal's pages: a facility's most common return
reasons (beside its mail rules) and what a pen pal can do about a return."""

from __future__ import annotations

from django import template

from messaging import returns, selectors

register = template.Library()


@register.simple_tag
def common_return_reasons(facility) -> list[selectors.ReturnReasonCount]:
    """`{% common_return_reasons facility as reasons %}`: empty below the threshold."""
    return selectors.common_return_reasons(facility)


@register.simple_tag
def return_advice(reason: str) -> str:
    """`{% return_advice letter.return_reason as advice %}`, in the active language."""
    return returns.return_advice(reason)
