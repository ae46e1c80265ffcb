"""What approving or rejecting each kind of item does to the object under review.

Apps register their handlers in AppConfig.ready(); moderation.services calls
them inside the decision's transaction, with the object locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewHandlers:
    on_approve: Callable  # (item, moderator) -> None
    on_reject: Callable  # (item, moderator) -> None


_handlers: dict[str, ReviewHandlers] = {}


def register(kind: str, *, on_approve: Callable, on_reject: Callable) -> None:
    _handlers[kind] = ReviewHandlers(on_approve=on_approve, on_reject=on_reject)


def handlers_for(kind: str) -> ReviewHandlers:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"No review handlers registered for {kind!r}") from None
