"""What the domain apps register with moderation at start-up, and the check
that refuses to start without it (moderation imports no domain app)."""

from __future__ import annotations

from django.core import checks

from messaging.models import Correspondence, Letter
from moderation import registry
from moderation.models import ModerationItem, Report
from penpals.models import User
from profiles.models import InmateProfile, ProfilePhoto


def test_every_kind_and_action_is_registered_at_start_up() -> None:
    assert registry.missing(ModerationItem.Kind) == []
    registered = {model for model, _ in registry.subjects()}
    assert {InmateProfile, ProfilePhoto, Letter, Correspondence, Report, User} <= registered


def test_start_up_fails_when_a_kind_has_no_handlers(monkeypatch) -> None:
    monkeypatch.delitem(registry._handlers, ModerationItem.Kind.PHOTO)
    monkeypatch.delitem(registry._actions, registry.CLOSE_CORRESPONDENCE)

    errors = [e for e in checks.run_checks() if e.id == "moderation.E001"]

    assert [e.msg for e in errors] == [
        "No app registered review handlers for 'photo'.",
        "No app registered the action 'close_correspondence'.",
    ]
    assert all(e.level == checks.ERROR for e in errors)


def test_an_unknown_action_cannot_be_registered() -> None:
    try:
        registry.register_action("delete_everything", lambda *args: None)
    except ValueError as error:
        assert "delete_everything" in str(error)
    else:
        raise AssertionError("an unknown action was accepted")
    assert "delete_everything" not in registry._actions


def test_an_unregistered_model_has_no_subject() -> None:
    assert registry.subject_of(None) is None
    assert registry.subject_of(ModerationItem(kind=ModerationItem.Kind.PHOTO)) is None
