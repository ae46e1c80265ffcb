"""The rules for text people type, in one place for every form.

NUL characters: PostgreSQL cannot store them in text, so a form must refuse
them before they reach a query. Every `forms.CharField` does already (Django's
ProhibitNullCharactersValidator: "Null characters are not allowed."); a field
that is not a CharField calls `refuse_nul_characters` on each string it keeps.

Names (a pen pal's display name, an inmate's names and interests, the names on
a protection request) are shown inline beside other text, on screen and on
printed mail. They lose every Unicode format character (category Cf:
zero-width spaces and joiners, the byte-order mark, soft hyphens, direction
marks, embeddings, overrides and isolates), and runs of whitespace become one
space. Those characters let two names look alike, or make "Ann<U+202E>gnp.exe"
read as "Annexe.png". Free text (a bio, a letter, a report) keeps them, as
typed: it may mix scripts for real, and it is shown in a block of its own,
which a direction override cannot reach past.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import formats
from django.utils.functional import lazy

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

refuse_nul_characters = ProhibitNullCharactersValidator()


def clean_name(value: str) -> str:
    """`value` without format characters, its whitespace collapsed to single spaces."""
    visible = "".join(c for c in value if unicodedata.category(c) != "Cf")
    return " ".join(visible.split())


class NameField(forms.CharField):
    """A CharField for a name: cleaned by `clean_name` before it is validated,
    so a name of nothing but invisible characters is "required", and length
    limits count what is kept."""

    def to_python(self, value):
        value = super().to_python(value)
        return clean_name(value) if isinstance(value, str) else value


# What already ends a sentence: a name like "Tasha R." needs no second full stop.
SENTENCE_ENDINGS = (".", "!", "?", "…")


def end_sentence(text: str) -> str:
    """`text` followed by a full stop, unless it ends with a sentence's end
    already. For every sentence that ends on a name or other typed words:
    "for Tasha R." rather than "for Tasha R..". Works on escaped HTML too."""
    return text if text.rstrip().endswith(SENTENCE_ENDINGS) else f"{text}."


def grouped(number: int) -> str:
    """`number` with the active language's thousands separator: "10,000" in
    English, "10.000" in Spanish. For counts and limits inside messages."""
    return formats.number_format(number, force_grouping=True)


def _interpolate(message: StrOrPromise, params: dict[str, object]) -> str:
    return str(message) % params


# `message % params`, translated when shown rather than at import: for help
# texts and labels of form classes that name a limit. `message` is a
# gettext_lazy() string with named placeholders.
interpolate_lazy = lazy(_interpolate, str)

# grouped(), worked out when the message is shown: a parameter of interpolate_lazy.
grouped_lazy = lazy(grouped, str)
