"""What the machine tells a moderator about an item: a text no rule was
written for, a disguise, a writer who may be evading an order. Alerts are
kept as data, an English message id and its values, and worded when shown,
in the language of the moderator reading them: a Spanish-reading moderator
reads "Posiblemente disimulado…" for an item a worker screened at night.

Stored as {"message": ..., "values": {...}} (ModerationItem.alerts, a
letter's screening["alerts"]). A value that is itself an alert is worded
too; `language` values are ISO 639-1 codes, named in the reader's language.
Alerts stored as plain text (before alerts were data) are shown as they are.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_noop

from penpals.languages import LANGUAGE_NAMES

Alert = dict[str, Any]

NOT_SCREENED = gettext_noop("Not machine-screened: %(language)s")
DISGUISED = gettext_noop("Possibly disguised to slip past screening: %(what)s")
INVISIBLE_CHARACTERS = gettext_noop("invisible characters inside a word")
MIXED_SCRIPTS = gettext_noop("a word mixing scripts: %(word)s")
RESEMBLES_HARMFUL = gettext_noop(
    "Reads like the harmful letters screening learned from (signal %(signal)s)"
)
REPORTED_TIMES = gettext_noop("Reported %(count)s times")
EVASION = gettext_noop("Possible evasion of a no-contact order, suspension or block")
EMAIL_MATCHES_ORDER = gettext_noop("Writer's email matches no-contact order #%(order)s")
NAME_MATCHES_ORDER = gettext_noop(
    "Writer's name matches no-contact order #%(order)s (different email)"
)
EMAIL_MATCHES_SUSPENSION = gettext_noop(
    "Writer's email matches a suspended account (suspension #%(suspension)s)"
)
EMAIL_MATCHES_BLOCKED = gettext_noop(
    "Writer's email matches an account this person blocked (correspondence %(code)s)"
)
# A reply's scanned pages OCR could not read (messaging.reading): nothing
# machine-read their handwriting, so a person reads them on the scans.
OCR_FAILED = gettext_noop("OCR could not read these scanned pages: %(pages)s")


def alert(message: str, **values: Any) -> Alert:
    """An alert to store: `message` is one of the message ids above."""
    return {"message": message, "values": values}


def alert_text(stored: Alert | str) -> str:
    """`stored` worded in the active language."""
    if isinstance(stored, str):
        return stored
    values = {name: _worded(name, value) for name, value in stored.get("values", {}).items()}
    message = gettext(stored["message"])
    return message % values if values else message


def _worded(name: str, value: Any) -> Any:
    if isinstance(value, dict) and "message" in value:
        return alert_text(value)
    if name == "language":
        return str(LANGUAGE_NAMES.get(value, gettext("an unrecognised language")))
    return value
