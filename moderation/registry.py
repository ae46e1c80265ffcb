"""What approving or rejecting each kind of item does to the object under review,
and which version of it a moderator saw.

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
    # (item, *, for_update: bool) -> str: a digest of exactly what the item
    # page shows of the object under review, so a decision made on what the
    # moderator read can be told from one on a newer version. With
    # for_update=True it runs inside the decision's transaction and locks the
    # object (and whatever the domain's writers lock before it) before the
    # item row is locked: the same order as the writers, who lock the object
    # and then refresh its item. None for kinds whose content cannot change
    # once under review (a letter's text and scans are written once).
    version_of: Callable | None = None


_handlers: dict[str, ReviewHandlers] = {}


def register(
    kind: str, *, on_approve: Callable, on_reject: Callable, version_of: Callable | None = None
) -> None:
    _handlers[kind] = ReviewHandlers(
        on_approve=on_approve, on_reject=on_reject, version_of=version_of
    )


def handlers_for(kind: str) -> ReviewHandlers:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"No review handlers registered for {kind!r}") from None
