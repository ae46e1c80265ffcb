"""Screening's codes in words: what a moderator reads where screening stored
a code (an item's flags, a hit's category, a rule's action), in the reader's
language. A code no choice has any more (a category since removed) is shown
as stored rather than hidden."""

from __future__ import annotations

from collections.abc import Iterable

from moderation.models import FlagCategory, ScreeningRule


def category_label(code: str) -> str:
    return str(FlagCategory(code).label) if code in FlagCategory.values else code


def category_labels(codes: Iterable[str] | None) -> list[str]:
    return [category_label(code) for code in codes or []]


def rule_action_label(code: str) -> str:
    Action = ScreeningRule.Action
    return str(Action(code).label) if code in Action.values else code
