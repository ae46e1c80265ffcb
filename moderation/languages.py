"""Which language a letter or profile text is written in.

Screening rules are written for a language (`ScreeningRule.language`): a letter
in a language no rule was written for was read by no machine, and screening
says so (`ScreeningResult.machine_screened`) so that it always goes to a person.

Detection is lingua's, offline, with the models its wheel ships. It runs in
low-accuracy mode (trigram models only): about 40 MB for the languages below,
instead of about 370 MB, and a few milliseconds for a long letter; lingua's
authors measure it as accurate as high-accuracy mode for texts over about 120
characters, which letters nearly always are. Short texts stay uncertain, and
uncertainty errs to a person (see `detect`).

The candidate languages are those written most in U.S. prison mail (English,
Spanish, then the languages most spoken at home in the U.S.), and their near
relatives, so a Portuguese or Italian letter is told from a Spanish one.
Haitian Creole has no lingua model: it is reported as whichever language it
resembles most, never as English or Spanish, so it still goes to a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.utils.translation import gettext
from lingua import Language, LanguageDetectorBuilder

from penpals.languages import LANGUAGE_NAMES, READABLE_LANGUAGES

CANDIDATES = (
    Language.ENGLISH,
    Language.SPANISH,
    Language.PORTUGUESE,
    Language.ITALIAN,
    Language.FRENCH,
    Language.GERMAN,
    Language.DUTCH,
    Language.POLISH,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.ARABIC,
    Language.PERSIAN,
    Language.URDU,
    Language.HINDI,
    Language.CHINESE,
    Language.JAPANESE,
    Language.KOREAN,
    Language.VIETNAMESE,
    Language.TAGALOG,
    Language.SOMALI,
    Language.SWAHILI,
    Language.YORUBA,
    Language.TURKISH,
    Language.GREEK,
    Language.HEBREW,
    Language.LATIN,
)

# (ISO 639-1 code, name) of CANDIDATES, for the rules' language choices and
# what moderators see: the one list in core (tests check it matches CANDIDATES).
LANGUAGE_CHOICES = READABLE_LANGUAGES

# Below this many letters a text's language is not judged at all.
MIN_LETTERS = 12
# Detection reads up to three windows of a long text, at its start, middle and
# end: the cost stays flat for a 13,000-character letter, and a letter that
# switches language part way still shows it. Every rule reads the whole text.
WINDOW = 300
# A ruled language this close to the most likely one is taken instead.
NEARLY_AS_LIKELY = 0.8

_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Detected:
    code: str  # ISO 639-1, or "" when the text is too short to tell
    confidence: float  # 0..1, lingua's, relative to the other candidates

    @property
    def name(self) -> str:
        return str(LANGUAGE_NAMES.get(self.code, gettext("an unrecognised language")))


UNDETERMINED = Detected("", 0.0)


@cache
def _detector():
    return LanguageDetectorBuilder.from_languages(*CANDIDATES).with_low_accuracy_mode().build()


def detect(text: str, ruled: frozenset[str] = frozenset()) -> Detected:
    """The language `text` is written in.

    `ruled` are the languages screening has rules for. When the most likely
    language has none but one of `ruled` is nearly as likely (a Spanish letter
    full of English words, a short note), the ruled language is taken: every
    rule reads every letter anyway, so what matters is whether the rules were
    written for the way it is written. A long text is judged in windows (see
    WINDOW); if any window is in a language without rules, so is the text. A
    text too short to judge is UNDETERMINED, which no rules cover.
    """
    found = [_detect_one(window, ruled) for window in _windows(text)]
    judged = [language for language in found if language is not None]
    if not judged:
        return UNDETERMINED
    unruled = [language for language in judged if language.code not in ruled]
    return unruled[0] if unruled else judged[0]


def _windows(text: str) -> list[str]:
    if len(text) <= 3 * WINDOW:
        return [text]
    middle = (len(text) - WINDOW) // 2
    return [text[:WINDOW], text[middle : middle + WINDOW], text[-WINDOW:]]


def _detect_one(text: str, ruled: frozenset[str]) -> Detected | None:
    """The language of one window, or None when it has too few letters to tell."""
    if len(_LETTER.findall(text)) < MIN_LETTERS:
        return None
    values = _detector().compute_language_confidence_values(text)
    if not values or values[0].value <= 0:
        return None
    best = values[0]
    found = Detected(best.language.iso_code_639_1.name.lower(), round(best.value, 2))
    if found.code in ruled:
        return found
    for value in values[1:]:
        code = value.language.iso_code_639_1.name.lower()
        if code in ruled and value.value >= best.value * NEARLY_AS_LIKELY:
            return Detected(code, round(value.value, 2))
    return found
