"""What moderation needs from the apps whose objects it reviews: what approving
or rejecting each kind of item does and which version a moderator saw; what
it may know of each model's objects; what staff may do to them.

Apps register their handlers in AppConfig.ready(); moderation.services calls
them inside the decision's transaction, with the object locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet


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


# --- What moderation knows of the objects it reviews or hears reported -------------------
#
# moderation imports no domain app: each app tells it, per model, how to name
# the person an object is about, which profile, pen pal and correspondence it
# belongs to, what the item page shows of it, how the queue's search finds it
# and what the queue's preview column needs.


def _none(obj: Any) -> Any:
    return None


@dataclass(frozen=True)
class StaffSearch:
    """What staff typed in the queue's search box. Private facts (an inmate
    number, a pen pal's email) match only with `by_private_facts`
    (superusers): for anyone else an exact match would confirm a guess."""

    term: str
    by_private_facts: bool

    def pen_pals(self) -> QuerySet:
        """The accounts whose email is the term, as a values("pk") subquery."""
        emails = {self.term, self.term.lower()} if self.by_private_facts else set()
        return get_user_model().objects.filter(email__in=emails).values("pk")


@dataclass(frozen=True)
class Subject:
    # The display name of the person in prison the object is about (or a
    # user's public name): the name moderators may read. Never an inmate
    # number, legal name or email.
    name_of: Callable[[Any], str]
    # How a reported object is called in the safety admin; None: its model's
    # verbose name and primary key.
    label_of: Callable[[Any], str] | None = None
    profile_of: Callable[[Any], Any] = _none
    # The pen pal behind the object (who would be suspended), if any.
    writer_of: Callable[[Any], Any] = _none
    correspondence_of: Callable[[Any], Any] = _none
    # (obj, item, may_see_private_facts) -> dict: what the item page shows of
    # the object under review.
    review_context: Callable[[Any, Any, bool], dict] | None = None
    # The text shown with a report of the object (a letter's body).
    reported_text: Callable[[Any], str] | None = None
    # (StaffSearch) -> a values("pk") queryset of the objects whose profile,
    # pen pal or correspondence the search names (see moderation.admin).
    matching: Callable[[StaffSearch], QuerySet] | None = None
    # (items) -> None: give a page of queue items of this model what their
    # preview shows, in one query.
    attach_previews: Callable[[list], None] | None = None


_subjects: dict[str, tuple[type[Model], Subject]] = {}


def register_subject(model: type[Model], subject: Subject) -> None:
    _subjects[model._meta.label] = (model, subject)


def subject_of(obj: Any) -> Subject | None:
    """What was registered for `obj`'s model; None for an object (or None)
    of a model nobody registered."""
    if obj is None:
        return None
    entry = _subjects.get(obj._meta.label)
    return entry[1] if entry is not None else None


def subjects() -> list[tuple[type[Model], Subject]]:
    return list(_subjects.values())


# --- What staff do to a domain's objects from moderation's pages --------------------------

# (profile, staff) -> profile: pause a profile on staff's decision.
PAUSE_PROFILE = "pause_profile"
# (correspondence) -> bool: close a correspondence on the team's decision.
CLOSE_CORRESPONDENCE = "close_correspondence"
ACTIONS = (PAUSE_PROFILE, CLOSE_CORRESPONDENCE)

_actions: dict[str, Callable] = {}


def register_action(name: str, function: Callable) -> None:
    if name not in ACTIONS:
        raise ValueError(f"Unknown moderation action {name!r}")
    _actions[name] = function


def action(name: str) -> Callable:
    try:
        return _actions[name]
    except KeyError:
        raise LookupError(f"No app registered the moderation action {name!r}") from None


def missing(kinds) -> list[str]:
    """What should have been registered at start-up and was not (see
    moderation.checks): handlers for each of `kinds`, every action."""
    gaps = [f"review handlers for {str(kind)!r}" for kind in kinds if kind not in _handlers]
    gaps += [f"the action {name!r}" for name in ACTIONS if name not in _actions]
    return gaps
