"""The screening engine: run a text against the screening rules.

How a text is screened:

1. **Normalisation, once.** The text is folded: compatibility forms
   (full-width letters, ligatures) become plain letters, accents are dropped,
   everything is lower-cased, every character that shows nothing (Unicode's
   default-ignorables and format characters: zero-width spaces, joiners,
   variation selectors, bidi marks) disappears, and letters that only look
   Latin (Cyrillic "е", Greek "ο", per Unicode's confusables data) read as the
   Latin letter. ASCII stretches, most of most letters, are lower-cased
   whole; only non-ASCII characters are folded one by one (cached). Then
   letter-spaced words are joined: three or more single letters separated by
   spaces or simple separators ("c a s h", "c.a.s.h", "c-a-s-h") become one
   word (one RE2 pass finds the few places that may hold one), and so are
   seven or more single digits ("5 5 5 8 6 7 5 3 0 9", "5-5-5-8-...").
   Separately, `disguises` names what looks made to slip past the rules
   (invisible characters inside a word, a word mixing scripts), which sends
   a letter to a person whatever the rules found. An `Origin`
   map takes every normalised character back to the original character it
   came from, so hits report spans of the ORIGINAL text.
2. **Rules are RE2 regexes.** A keyword rule lists one keyword or phrase per
   line. Each becomes a regular expression that needs a word boundary at both
   ends (so "bail" does not hit "tailbail" or "bailiff"), accepts any run of up
   to three separators between its words ("cash app", "cash-app", "cashapp"),
   an optional plural "s" or "es", and a trailing `*` for "any ending". A
   regular expression rule is used as written, case-insensitively. Either way
   the pattern runs on the normalised text, compiled with RE2 (`google-re2`),
   which matches in time linear in the text: no rule a moderator writes can
   stall screening. These regexes alone decide what a hit is; the two passes
   below only choose which of them to run.
3. **One Aho-Corasick pass for every keyword.** The first words of every
   keyword (up to three, and up to a `*`), joined by zero to three spaces, are
   literals of one Aho-Corasick automaton (`pyahocorasick`). It runs over a
   view of the normalised text in which everything but a-z and 0-9 is a space,
   so "cash-app" and "cash_app" read "cash app" there. A literal found without
   a word boundary before it, or followed by what the keyword cannot end with,
   is dropped on the spot ("cash" in "cashew"); any other makes its rule a
   candidate. A keyword with non-ASCII letters, which the view cannot hold,
   makes its rule a candidate for every text.
4. **One RE2 set pass for every regex rule** (phone numbers, emails, web
   addresses...): one scan says which of them match. If the set is too big
   for one automaton, every regex rule is a candidate (still linear time).
5. **Spans.** Only the candidate rules that apply to the text (its scope, the
   facility's own rules) run their RE2 regex, which gives the exact hits. A
   clean letter costs a normalisation, one Aho-Corasick pass and one RE2 set
   pass, however many rules there are. A keyword rule's regex is compiled the
   first time it is a candidate; most rules never are for most letters.
6. **Risk.** The risk score is the sum of the weights (CATEGORY_WEIGHTS) of the
   distinct categories hit, capped at 100. Hitting one category many times
   does not add up: the moderator reads the letter anyway.

`devtools/benchmarks/screening.py` (`make bench`) measures it against a naive `re`
alternation of the same keywords; tests/moderation/test_screening.py checks it
against a straightforward reference (every rule's regex over the text).

The default rule set is `moderation/rules/default_rules.json`; the data
migration 0004 loads it into the database with `load_default_rule_specs`, the
same function `screen --rules default` uses, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import string
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import ahocorasick
import confusable_homoglyphs
import re2
import regex

from moderation import alerts, languages
from moderation.alerts import Alert, alert
from moderation.signal import SignalModel, shipped_model

logger = logging.getLogger(__name__)

DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "rules" / "default_rules.json"

CATEGORIES = ("money", "contact", "explicit", "threat", "contraband", "escape", "hate", "other")
ACTIONS = ("flag", "hold", "reject")  # weakest first
PATTERN_TYPES = ("keywords", "regex")
SCOPES = ("all", "letters", "outbound", "inbound", "profile")
# The scopes a text can be screened in; "all" and "letters" are rule scopes only.
TEXT_SCOPES = ("outbound", "inbound", "profile")

# How much one category adds to the risk score (capped at 100). Danger to a
# person (threats, escape, hate) weighs most; contact details least, since
# they are often innocent (a pen pal repeating a facility's address).
CATEGORY_WEIGHTS = {
    "threat": 60,
    "escape": 60,
    "hate": 50,
    "contraband": 50,
    "explicit": 40,
    "money": 40,
    "contact": 30,
    "other": 20,
}
MAX_RISK = 100
# Memory RE2 may use for the one automaton over all rules (its default, 8 MiB,
# is too small for the default set); past it, screening scans rule by rule.
SET_MAX_MEM = 64 << 20


class RuleError(ValueError):
    """A rule's pattern cannot be used; the message says why."""


# --- Normalisation ------------------------------------------------------------------

# Characters that show nothing: Unicode's default-ignorables (zero-width
# spaces and joiners, soft hyphens, variation selectors, the combining grapheme
# joiner, bidi marks...) and every other format character. They vanish.
_IGNORABLE = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{Cf}]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# An ignorable character between two characters of a word, an address or a
# number ("ven\u2063mo", "me\u200b@mail.com") is there to hide the word; one
# beside an emoji ("❤\ufe0f", the joiners of a family emoji) is not.
_HIDING_IGNORABLE = regex.compile(
    r"[\p{L}\p{N}@.](?:[\p{Default_Ignorable_Code_Point}\p{Cf}])+(?=[\p{L}\p{N}@.])"
)
# A word mixing Latin letters with letters of a script whose letters look Latin.
_LOOKALIKE_SCRIPTS = r"\p{Cyrillic}\p{Greek}\p{Armenian}\p{Cherokee}"
_LOOKALIKE_LETTER = regex.compile(rf"[{_LOOKALIKE_SCRIPTS}]")
_LATIN_LETTER = regex.compile(r"\p{Latin}")
# Three or more single letters, each pair separated by 1-3 simple separators.
# This is a fixed pattern of ours (not a moderator's), bounded, so stdlib re is fine.
_LETTER_SPACED = re.compile(r"(?<![^\W\d_])[a-z](?:[ \t.\-_*|/+~']{1,3}[a-z]){2,}(?![^\W\d_])")
# The same in RE2, which lacks lookarounds: the run followed by anything but
# a-z. Every _LETTER_SPACED match lies inside one of its matches, so one linear
# RE2 pass finds the few places (often just "i'm a") where the backtracking
# pattern above needs to look.
_LETTER_SPACED_CANDIDATE = re2.compile(r"[a-z](?:[ \t.\-_*|/+~']{1,3}[a-z]){2,}(?:[^a-z]|$)")
_SPACING = frozenset(" \t.-_*|/+~'")
_SPACING_RUN = re.compile(r"[ \t.\-_*|/+~']+")
# Seven or more single digits, each pair separated by 1-3 spaces, dots or dashes:
# a phone or account number written to slip past the number rules. Fixed and
# bounded (no nested repetition can backtrack far), so stdlib re is fine.
_ANY_DIGIT = re.compile(r"\d")
_DIGIT_SPACED = re.compile(r"(?<![\w])\d(?:[ \t.\-]{1,3}\d){6,}(?![\w])")


class Origin:
    """Where each normalised character came from: `origin[i]` is the index in
    the original text of normalised character i.

    Stored as runs rather than one number per character: within a run,
    consecutive normalised characters come from consecutive original ones, so
    a run is its first normalised index and the distance to add. Most letters
    are a handful of runs (one, when nothing was dropped or expanded).
    """

    __slots__ = ("_shifts", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._shifts: list[int] = []

    def add(self, normalised_index: int, original_index: int) -> None:
        """From `normalised_index` on, characters come from `original_index` on.
        Callers add in increasing `normalised_index` order."""
        shift = original_index - normalised_index
        if self._shifts and self._shifts[-1] == shift:
            return
        if self._starts and self._starts[-1] == normalised_index:
            self._shifts[-1] = shift  # the previous run never got a character
        else:
            self._starts.append(normalised_index)
            self._shifts.append(shift)

    def copy_span(self, start: int, end: int, into: Origin, at: int) -> None:
        """Make into[at + k] == self[start + k] for 0 <= k < end - start."""
        if start >= end:
            return
        first = bisect_right(self._starts, start) - 1
        into.add(at, start + self._shifts[first])
        for run in range(first + 1, len(self._starts)):
            if self._starts[run] >= end:
                break
            into.add(at + self._starts[run] - start, self._starts[run] + self._shifts[run])

    def __getitem__(self, index: int) -> int:
        return index + self._shifts[bisect_right(self._starts, index) - 1]


@dataclass(frozen=True)
class NormalisedText:
    text: str
    origin: Origin

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


class _Rewrite:
    """A rewritten copy of a normalised `text`, built piece by piece, with the
    `Origin` that maps it back to the original text."""

    def __init__(self, text: str, origin: Origin) -> None:
        self._text, self._from = text, origin
        self._pieces: list[str] = []
        self._origin = Origin()
        self._length = 0

    def keep(self, start: int, end: int) -> None:
        """Copy text[start:end] as it is."""
        self._from.copy_span(start, end, self._origin, self._length)
        self._pieces.append(self._text[start:end])
        self._length += end - start

    def put(self, character: str, at: int) -> None:
        """Write `character` in place of what starts at text[at]."""
        self._origin.add(self._length, self._from[at])
        self._pieces.append(character)
        self._length += 1

    def result(self) -> tuple[str, Origin]:
        return "".join(self._pieces), self._origin


@lru_cache(maxsize=1)
def _latin_lookalikes() -> dict[str, str]:
    """Each letter or digit that Unicode's confusables data (as shipped by
    confusable_homoglyphs) says looks like one ASCII letter or digit, mapped to
    it: Cyrillic "е" to "e", Greek "ο" to "o", "ɡ" to "g"."""
    data_file = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    lookalikes = {}
    for character, homoglyphs in json.loads(data_file.read_text(encoding="utf-8")).items():
        if len(character) != 1 or character.isascii():
            continue
        for homoglyph in homoglyphs:
            latin = homoglyph["c"]
            if len(latin) == 1 and latin.isascii() and latin.isalnum():
                lookalikes[character] = latin.lower()
                break
    return lookalikes


@lru_cache(maxsize=65_536)
def _fold_character(character: str) -> str:
    if _IGNORABLE.match(character):
        return ""
    decomposed = unicodedata.normalize("NFKD", character)
    return "".join(_fold_letter(c) for c in decomposed if not unicodedata.combining(c))


def _fold_letter(letter: str) -> str:
    """A letter that only looks Latin reads as the Latin letter (its skeleton),
    whichever case it is in ("Ε" and "е" alike); any other is case-folded."""
    lookalikes = _latin_lookalikes()
    folded = letter.casefold()
    latin = lookalikes.get(letter) or lookalikes.get(folded)
    if latin is not None:
        return latin
    return "".join(lookalikes.get(c, c) for c in folded)


def _fold(text: str) -> tuple[str, Origin]:
    """Fold every character of `text` with _fold_character.

    ASCII folds to itself lower-cased, so ASCII stretches are lower-cased
    whole (most letters are entirely ASCII) and only the non-ASCII runs go
    character by character.
    """
    origin = Origin()
    origin.add(0, 0)
    if text.isascii():
        return text.lower(), origin
    pieces: list[str] = []
    position = length = 0  # in the original and in the folded text
    for run in _NON_ASCII_RUN.finditer(text):
        start, end = run.span()
        if start > position:
            origin.add(length, position)
            pieces.append(text[position:start].lower())
            length += start - position
        folds = [_fold_character(character) for character in run.group()]
        if all(len(folded) == 1 for folded in folds):
            origin.add(length, start)
            length += len(folds)
        else:  # something vanished or expanded ("ﬁ" -> "fi"): map each one
            for index, folded in enumerate(folds, start):
                for _ in folded:
                    origin.add(length, index)
                    length += 1
        pieces.extend(folds)
        position = end
    if position < len(text):
        origin.add(length, position)
        pieces.append(text[position:].lower())
    return "".join(pieces), origin


def _join_letter_spaced(text: str, origin: Origin) -> tuple[str, Origin]:
    """Drop the separators inside letter-spaced words ("c a s h" -> "cash")
    and digit-spaced numbers ("5 5 5 8 6 7 5 3 0 9" -> "5558675309")."""
    runs = [
        run.span()
        for candidate in _LETTER_SPACED_CANDIDATE.finditer(text)
        for run in _LETTER_SPACED.finditer(text, candidate.start(), candidate.end())
    ]
    if _ANY_DIGIT.search(text):
        runs.extend(run.span() for run in _DIGIT_SPACED.finditer(text))
        runs.sort()
    if not runs:
        return text, origin
    joined = _Rewrite(text, origin)
    position = 0
    for run_start, run_end in runs:
        joined.keep(position, run_start)
        # "w a t c h  y o u r  b a c k": a gap wider than the narrowest in
        # the run separates words, and stays as one space.
        gaps = [gap.span() for gap in _SPACING_RUN.finditer(text, run_start, run_end)]
        narrowest = min(end - start for start, end in gaps)
        word_breaks = {start for start, end in gaps if end - start > narrowest}
        for index in range(run_start, run_end):
            if text[index] not in _SPACING:
                joined.keep(index, index + 1)
            elif index in word_breaks:
                joined.put(" ", index)
        position = run_end
    joined.keep(position, len(text))
    return joined.result()


def normalise(text: str) -> NormalisedText:
    """Fold `text` for matching, keeping a map back to original positions."""
    folded, origin = _fold(text)
    joined, origin = _join_letter_spaced(folded, origin)
    return NormalisedText(joined, origin)


# Leetspeak and symbol swaps, read in second views of the normalised text
# ("c4$h" -> "cash", "k1ll" -> "kill" and "ki11" -> "kill"). "1" reads as "i"
# in one view and "l" in the other.
_LEET_VIEWS = (
    str.maketrans({"@": "a", "$": "s", "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}),
    str.maketrans({"@": "a", "$": "s", "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t"}),
)
_LEET_CHARACTER = re.compile(r"[@$0-9]")
_LEET_SWAPS = frozenset("@$0134 57".replace(" ", ""))
# Letters and digits only: what a reading is compared on (spacing and
# separators are not disguises worth a note).
_WORD_CHARACTERS_ONLY = re.compile(r"[\W_]+")
_LEET_RUN_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "@$")


def _run_around(text: str, index: int, belongs) -> tuple[int, int]:
    """The span of the run of characters for which `belongs` holds that
    reaches `index` from either side."""
    start = end = index
    while start > 0 and belongs(text[start - 1]):
        start -= 1
    while end < len(text) and belongs(text[end]):
        end += 1
    return start, end


def _is_leet_run_character(character: str) -> bool:
    return character in _LEET_RUN_CHARACTERS


# Numbers with a unit or an ending are what they say ("4th", "10am", "1990s", "5kg").
_NUMBER_WITH_ENDING = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|s|k|m|h|x|hr|hrs|min|mins|yr|yrs|lb|lbs|kg|g|cm|mm|km|ft|mph|mg|ml|oz)"
)
# How much text around a swapped word its view holds: enough for the phrases
# of the rules (a few words either side), little enough that a letter full of
# dates and prices costs a few short scans, not whole ones.
_LEET_CONTEXT = 60


def _is_leet_word(word: str) -> bool:
    """A word holding both a letter and a swapped symbol or digit. Words
    without letters (numbers, years, "$5") and numbers with an ending ("4th")
    are left alone: the number rules read them as written."""
    return (
        _LEET_CHARACTER.search(word) is not None
        and any(c.isalpha() for c in word)
        and _NUMBER_WITH_ENDING.fullmatch(word) is None
    )


def leet_views(text: str) -> list[tuple[int, str]]:
    """Views of stretches of the normalised `text` around words with swapped
    symbols or digits, in which those read as the letters they stand for: a
    list of (where the stretch starts in `text`, the view), character for
    character. Empty when there is no such word (most letters)."""
    # Each word holding a swapped character, read once (linear in the text,
    # and only the few words with a digit, "$" or "@" are read at all).
    words = []
    read_until = 0
    for character in _LEET_CHARACTER.finditer(text):
        if character.start() < read_until:
            continue
        start, end = _run_around(text, character.start(), _is_leet_run_character)
        read_until = end
        if _is_leet_word(text[start:end]):
            words.append((start, end))
    stretches: list[list[int]] = []
    for start, end in words:
        start = max(0, start - _LEET_CONTEXT)
        end = min(len(text), end + _LEET_CONTEXT)
        # Whole words at the edges.
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        if stretches and start <= stretches[-1][1]:
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
    views = []
    for start, end in stretches:
        inside = [(max(s, start), min(e, end)) for s, e in words if s < end and e > start]
        for table in _LEET_VIEWS:
            pieces, position = [], start
            for word_start, word_end in inside:
                pieces.append(text[position:word_start])
                pieces.append(text[word_start:word_end].translate(table))
                position = word_end
            pieces.append(text[position:end])
            view = (start, "".join(pieces))
            if view not in views:
                views.append(view)
    return views


# Digits written as words, in English and Spanish.
_NUMBER_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
    "seis": "6", "siete": "7", "ocho": "8", "nueve": "9",
}  # fmt: skip
_NUMBER_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
# Seven or more digits written as words or digits, separated by spaces, commas,
# dots or dashes: a phone or account number spelled out ("five five five, eight
# six seven..."). Words and separators never overlap, so this cannot backtrack far.
_SPELLED_NUMBER = re2.compile(
    rf"\b(?:(?:{_NUMBER_WORD}|\d)\b[\s,.\-]{{0,3}}){{6,}}(?:{_NUMBER_WORD}|\d)\b"
)
_SPELLED_DIGIT = re.compile(rf"{_NUMBER_WORD}|\d")


def number_view(text: NormalisedText) -> NormalisedText | None:
    """`text` with every run of seven or more spelled-out digits written as
    the number ("five five five eight six seven five three oh nine" ->
    "5558675309"), each digit mapped back to its word; None when there is none."""
    runs = [run.span() for run in _SPELLED_NUMBER.finditer(text.text)]
    runs = [(start, end) for start, end in runs if not text.text[start:end].isdigit()]
    if not runs:
        return None
    numbers = _Rewrite(text.text, text.origin)
    position = 0
    for start, end in runs:
        numbers.keep(position, start)
        for digit in _SPELLED_DIGIT.finditer(text.text, start, end):
            numbers.put(_NUMBER_WORDS.get(digit.group(), digit.group()), digit.start())
        position = end
    numbers.keep(position, len(text.text))
    return NormalisedText(*numbers.result())


# Email addresses with "at" and "dot" spelled out, in English or Spanish
# ("tom at gmail dot com", "tom arroba gmail punto com", "tom [at] gmail (dot) com").
# Only before a known ending, so "look at this dot painting" stays prose.
_SPELLED_AT = r"\s*[\(\[]?\s*(?:at|arroba)\s*[\)\]]?\s*"
_SPELLED_DOT = r"\s*[\(\[]?\s*(?:dot|punto)\s*[\)\]]?\s*"
_ADDRESS_ENDINGS = "com|net|org|edu|gov|io|me|co|us|es|mx|info|biz"
_SPELLED_ADDRESS = re2.compile(
    rf"\b([a-z0-9._%+\-]+){_SPELLED_AT}([a-z0-9\-]+)((?:{_SPELLED_DOT}[a-z0-9\-]+)*"
    rf"{_SPELLED_DOT}(?:{_ADDRESS_ENDINGS}))\b"
)
_SPELLED_DOT_PART = re2.compile(rf"{_SPELLED_DOT}([a-z0-9\-]+)")


def address_view(text: NormalisedText) -> NormalisedText | None:
    """`text` with every email address whose "at" and "dot" are spelled out
    written as an address ("tom arroba gmail punto com" -> "tom@gmail.com"),
    each "@" and "." mapped back to the word it stands for; None when there is none."""
    if "at" not in text.text and "arroba" not in text.text:
        return None
    matches = list(_SPELLED_ADDRESS.finditer(text.text))
    if not matches:
        return None
    addresses = _Rewrite(text.text, text.origin)
    position = 0
    for match in matches:
        addresses.keep(position, match.end(1))
        addresses.put("@", match.end(1))
        addresses.keep(match.start(2), match.end(2))
        for part in _SPELLED_DOT_PART.finditer(text.text, match.start(3), match.end(3)):
            addresses.put(".", part.start())
            addresses.keep(part.start(1), part.end(1))
        position = match.end()
    addresses.keep(position, len(text.text))
    return NormalisedText(*addresses.result())


# "Please don't send me money", "no me mandes dinero": a money request the
# writer turns down is not one. Only money hits are read this way; a negated
# threat ("I won't hurt you... unless") still goes to a person.
_NEGATION_BEFORE = re.compile(
    r"(?:\bdon\W?t|\bdo\s+not|\bnever|\bno\s+need\s+to|\bno\s+(?:me|le|les|nos|te)"
    r"|\bno\s+(?:tienes|tiene|hace\s+falta)\s+que|\bni\s+se\s+te\s+ocurra)"
    r"(?:\W+\w+){0,2}\W*$"
)
_NEGATION_REACH = 40


def _negated_request(hit: Hit, original: str) -> bool:
    if hit.category != "money":
        return False
    before = _plainly_folded(original[max(0, hit.start - _NEGATION_REACH) : hit.start])
    return _NEGATION_BEFORE.search(before) is not None


def _to_word_end(hit: Hit, original: str) -> Hit:
    """`hit` reaching to the end of the word it ends in: a digit of the number
    view maps to the first letter of its word ("nine")."""
    end = hit.end
    while end < len(original) and original[end].isalpha():
        end += 1
    return dataclasses.replace(hit, end=end, match=original[hit.start : end])


def disguises(text: str) -> list[Alert]:
    """What in `text` looks made to slip past screening, whatever the rules
    found: characters that show nothing inside a word or an address, and
    words mixing Latin letters with lookalikes from another script. A text
    with either always goes to a person (messaging.services). Each is an
    alert (moderation.alerts), worded when a moderator reads it."""
    if text.isascii():
        return []
    found = []
    if _HIDING_IGNORABLE.search(text):
        found.append(alert(alerts.INVISIBLE_CHARACTERS))
    mixed = _mixed_script_word(text)
    if mixed:
        # As Python writes it: an invisible character inside shows as \u2063.
        found.append(alert(alerts.MIXED_SCRIPTS, word=repr(mixed)))
    return found


def _is_word_character(character: str) -> bool:
    """A letter, a combining mark, or a character that shows nothing (which
    does not end a word to the eye)."""
    return (
        character.isalpha()
        or unicodedata.combining(character) > 0
        or _IGNORABLE.match(character) is not None
    )


def _mixed_script_word(text: str) -> str | None:
    """The first word of `text` holding both a Latin letter and a letter of a
    lookalike script, or None. Each word with a lookalike letter is read once,
    so a letter written wholly in Cyrillic or Greek costs one pass."""
    read_until = 0
    for lookalike in _LOOKALIKE_LETTER.finditer(text):
        if lookalike.start() < read_until:
            continue  # in a word already read
        start, end = _run_around(text, lookalike.start(), _is_word_character)
        read_until = end
        if _LATIN_LETTER.search(text, start, end):
            return text[start:end]
    return None


# --- Patterns -----------------------------------------------------------------------

# Between the words of a keyword phrase: nothing, or up to three separators.
_WORD_GAP = r"[^\pL\pN]{0,3}"
_KEYWORD_WORD = re.compile(r"[^\W_]+\*?")


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


def keyword_regex(keyword: str) -> str:
    """The regular expression for one keyword or phrase (see the module docstring)."""
    words = _KEYWORD_WORD.findall(normalise(keyword).text)
    if not words:
        raise RuleError(f"The keyword {keyword!r} has no letters or digits.")
    parts = []
    for word in words:
        if word.endswith("*"):
            parts.append(re2.escape(word[:-1]) + r"[\pL\pN]*")
        else:
            parts.append(re2.escape(word))
    phrase = _WORD_GAP.join(parts)
    if not words[-1].endswith("*") and words[-1][-1:].isalpha():
        phrase += "(?:e?s)?"
    return rf"\b{phrase}\b"


def rule_regex(pattern_type: str, pattern: str) -> str:
    """The RE2 source for a rule; keywords are one per line."""
    if pattern_type == "regex":
        return pattern
    if pattern_type != "keywords":
        raise RuleError(f"Unknown pattern type {pattern_type!r}.")
    keywords = rule_keywords(pattern)
    if not keywords:
        raise RuleError("List at least one keyword, one per line.")
    alternatives = sorted({keyword_regex(k) for k in keywords}, key=len, reverse=True)
    return "|".join(f"(?:{alternative})" for alternative in alternatives)


def rule_keywords(pattern: str) -> list[str]:
    return [line.strip() for line in pattern.splitlines() if line.strip()]


def compile_rule(pattern_type: str, pattern: str) -> re2._Regexp:
    """Compile a rule with RE2, or raise RuleError with RE2's reason."""
    source = rule_regex(pattern_type, pattern)
    try:
        compiled = re2.compile(source, _re2_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RuleError(f"RE2 cannot compile this pattern: {reason}") from None
    if compiled.search("") is not None:
        # It would hit every position of every letter.
        raise RuleError("This pattern matches empty text; it must match at least one character.")
    return compiled


def check_rule(spec: RuleSpec) -> None:
    """Raise RuleError if the engine cannot use `spec`. Cheaper than
    compile_rule for keyword rules (no RE2 compile), and the same for regexes."""
    if spec.pattern_type == "regex":
        compile_rule(spec.pattern_type, spec.pattern)
    else:
        rule_regex(spec.pattern_type, spec.pattern)


# --- The keyword pass ---------------------------------------------------------------

# The Aho-Corasick pass reads a view of the normalised text of the same length
# in which every character but a-z and 0-9 is a space: whatever separates the
# words of a phrase ("cash-app", "cash_app", "cash. app") reads as spaces there,
# so each phrase needs only a few literals (its words joined by 0 to 3 spaces).
_VIEW_TABLE = bytes(
    code if chr(code) in string.ascii_lowercase + string.digits else ord(" ") for code in range(256)
)
_ASCII_WORD = frozenset(string.ascii_letters + string.digits + "_")  # RE2's \w, for \b
_GAPS = ("", " ", "  ", "   ")  # _WORD_GAP: up to three separators
# A literal covers at most this many words of a phrase (the rest is left to
# RE2), so a long phrase gives at most 4**2 literals.
_LITERAL_WORDS = 3
# What must follow a literal for its keyword to match there (a cheap check
# that only discards positions RE2 would reject anyway).
_ANY_ENDING, _WORD_END, _WORD_OR_PLURAL_END = 0, 1, 2


def matching_view(text: str) -> str:
    # One byte per character either way: non-ASCII becomes "?", then a space.
    return text.encode("ascii", "replace").translate(_VIEW_TABLE).decode("ascii")


def keyword_literals(keyword: str) -> tuple[list[str], int] | None:
    """The literals (in the matching view) one of which starts every match of
    `keyword`'s regex, and the check for what follows them; None when the
    keyword has non-ASCII letters, which the view cannot hold."""
    words = _KEYWORD_WORD.findall(normalise(keyword).text)
    stems: list[str] = []
    for word in words:
        stems.append(word.rstrip("*"))
        if word.endswith("*") or len(stems) == _LITERAL_WORDS:
            break
    if not stems or not all(stem.isascii() for stem in stems):
        return None
    if len(stems) < len(words) or words[-1].endswith("*"):
        ending = _ANY_ENDING
    elif words[-1][-1].isalpha():
        ending = _WORD_OR_PLURAL_END
    else:
        ending = _WORD_END
    literals = [stems[0]]
    for stem in stems[1:]:
        literals = [literal + gap + stem for literal in literals for gap in _GAPS]
    return literals, ending


# --- Rules and results --------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """A screening rule as the engine needs it (from the file or the database)."""

    name: str
    category: str
    pattern_type: str
    pattern: str
    action: str = "flag"
    scope: str = "all"
    facility_id: int | None = None
    # The language the rule was written for (ISO 639-1), "" for any: letters
    # in a language no rule was written for are not machine-screened.
    language: str = ""

    def applies_to(self, scope: str, facility_id: int | None) -> bool:
        if self.facility_id is not None and self.facility_id != facility_id:
            return False
        if self.scope == "all" or self.scope == scope:
            return True
        return self.scope == "letters" and scope in ("outbound", "inbound")


@dataclass(frozen=True)
class Hit:
    category: str
    rule: str
    action: str
    start: int
    end: int
    match: str
    # What screening read the match as, when a disguise made it differ from
    # the text as written: "venmo, read through CYRILLIC SMALL LETTER IE".
    read_as: str = ""

    def as_dict(self) -> dict:
        found = {
            "category": self.category,
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "match": self.match,
        }
        if self.read_as:
            found["read_as"] = self.read_as
        return found


def _plainly_folded(text: str) -> str:
    """`text` as anyone would fold it: accents dropped, lower case."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def read_as(match: str, reading: str) -> str:
    """How a disguised `match` was read ("" when it reads as written), naming
    the characters that disguised it: lookalike letters and characters that
    show nothing, by their Unicode names."""
    disguising = [
        unicodedata.name(character, f"U+{ord(character):04X}")
        for character in dict.fromkeys(match)
        if _IGNORABLE.match(character)
        or character in _latin_lookalikes()
        or _plainly_folded(character) in _latin_lookalikes()
        or (character in _LEET_SWAPS and character not in reading)
    ]
    words = " ".join(reading.split())
    if disguising:
        return f"{words}, read through {', '.join(disguising)}"
    if _WORD_CHARACTERS_ONLY.sub("", _plainly_folded(match)) == _WORD_CHARACTERS_ONLY.sub(
        "", reading
    ):
        return ""
    return words


@dataclass(frozen=True)
class ScreeningResult:
    hits: tuple[Hit, ...]
    disguises: tuple[Alert, ...] = ()  # see disguises()
    language: languages.Detected = languages.UNDETERMINED
    # Whether rules were written for the text's language. When not, the text
    # was read by no machine and must go to a person (see not_screened_alert).
    machine_screened: bool = False
    # The statistical signal (moderation.signal), 0..1, and the level at which
    # it keeps a text for a person; 0 and 1 when no model is in use.
    signal: float = 0.0
    signal_threshold: float = 1.0

    @property
    def signal_high(self) -> bool:
        return self.signal >= self.signal_threshold

    @property
    def needs_a_person(self) -> bool:
        """Whether a person must read the text before it moves on: anything a
        rule found, a disguise, a language no rule is written for, or a high
        statistical signal. Only a text with none of these may be approved
        without a person."""
        return bool(self.hits or self.disguises or not self.machine_screened or self.signal_high)

    @property
    def not_screened_alert(self) -> Alert | None:
        """Why no machine read the text, for the moderator (None when one did)."""
        if self.machine_screened:
            return None
        return alert(alerts.NOT_SCREENED, language=self.language.code)

    @property
    def categories(self) -> list[str]:
        """Distinct categories hit, in the order of CATEGORIES."""
        hit = {h.category for h in self.hits}
        return [c for c in CATEGORIES if c in hit]

    @property
    def risk(self) -> int:
        return min(MAX_RISK, sum(CATEGORY_WEIGHTS[c] for c in self.categories))

    @property
    def action(self) -> str:
        """The strongest action among the hits ("" when clean)."""
        if not self.hits:
            return ""
        return max((h.action for h in self.hits), key=ACTIONS.index)


class _CompiledRule:
    """A rule and its RE2 regex, which gives the exact spans of its hits.

    A keyword rule's regex is compiled the first time the keyword pass names
    the rule (most rules never match most letters, and the separator class
    between words makes each such regex cost milliseconds to compile); a
    regex rule's is compiled at once, for the RE2 set needs it anyway.
    """

    __slots__ = ("_regex", "spec")

    def __init__(self, spec: RuleSpec):
        self.spec = spec
        self._regex: re2._Regexp | None = None
        if spec.pattern_type == "regex":
            self._regex = compile_rule(spec.pattern_type, spec.pattern)
        else:
            check_rule(spec)

    def hits(self, text: NormalisedText, original: str) -> list[Hit]:
        if self._regex is None:
            try:
                # Two threads may both compile it; either result is the same.
                self._regex = compile_rule(self.spec.pattern_type, self.spec.pattern)
            except RuleError as exc:
                # check_rule passed, so only RE2 itself can refuse (a keyword
                # list too big for it, saved around the admin's validation).
                logger.error("Screening rule %r skipped: %s", self.spec.name, exc)
                return []
        hits = []
        for match in self._regex.finditer(text.text):
            if match.end() == match.start():
                continue
            start, end = text.original_span(match.start(), match.end())
            written = original[start:end]
            hits.append(
                Hit(
                    category=self.spec.category,
                    rule=self.spec.name,
                    action=self.spec.action,
                    start=start,
                    end=end,
                    match=written,
                    read_as=read_as(written, match.group()),
                )
            )
        return hits


class RuleSet:
    """Compiled rules. Build one per rule version and reuse it: compiling is the
    expensive part (see the module docstring for how a letter is screened)."""

    def __init__(self, specs: list[RuleSpec], signal_model: SignalModel | None = None):
        self.specs = list(specs)
        self.signal_model = signal_model
        self._rules = [_CompiledRule(spec) for spec in self.specs]
        # Rules neither pass below can rule out: scanned for every text.
        self._always_scanned: set[int] = set()
        self._keywords = self._build_keyword_automaton()
        self._regex_rules = [
            index for index, rule in enumerate(self._rules) if rule.spec.pattern_type == "regex"
        ]
        self._regex_set = self._build_regex_set()
        self._applicable: dict[tuple[str, int | None], frozenset[int]] = {}
        # The languages rules were written for: a letter in another language
        # is not machine-screened, whatever the language-neutral rules found.
        self.languages = frozenset(spec.language for spec in self.specs if spec.language)

    def _build_keyword_automaton(self) -> ahocorasick.Automaton | None:
        # literal -> (its length, [(rule index, ending check)])
        entries: dict[str, tuple[int, set[tuple[int, int]]]] = {}
        for index, rule in enumerate(self._rules):
            if rule.spec.pattern_type != "keywords":
                continue
            for keyword in rule_keywords(rule.spec.pattern):
                found = keyword_literals(keyword)
                if found is None:
                    self._always_scanned.add(index)
                    break
                literals, ending = found
                for literal in literals:
                    entries.setdefault(literal, (len(literal), set()))[1].add((index, ending))
        if not entries:
            return None
        automaton = ahocorasick.Automaton()
        for literal, (length, rules) in entries.items():
            automaton.add_word(literal, (length, tuple(sorted(rules))))
        automaton.make_automaton()
        return automaton

    def _build_regex_set(self) -> re2.Set | None:
        if not self._regex_rules:
            return None
        options = _re2_options()
        options.max_mem = SET_MAX_MEM
        matcher = re2.Set.SearchSet(options)
        for index in self._regex_rules:
            matcher.Add(self.specs[index].pattern)
        try:
            matcher.Compile()
        except re2.error:
            # Too big for one automaton: scan rule by rule (still linear time).
            self._always_scanned.update(self._regex_rules)
            return None
        return matcher

    def _applicable_rules(self, scope: str, facility_id: int | None) -> frozenset[int]:
        key = (scope, facility_id)
        applicable = self._applicable.get(key)
        if applicable is None:
            # Facility rules add to the global ones; they never replace them.
            applicable = frozenset(
                index
                for index, rule in enumerate(self._rules)
                if rule.spec.applies_to(scope, facility_id)
            )
            self._applicable[key] = applicable
        return applicable

    def _candidate_rules(self, text: str) -> set[int]:
        """Every rule that may match the normalised `text` (a superset of those
        that do): keyword rules from one Aho-Corasick pass, regex rules from
        one RE2 set pass."""
        candidates = set(self._always_scanned)
        if self._keywords is not None:
            size = len(text)
            for last, (length, rules) in self._keywords.iter(matching_view(text)):
                start, after = last - length + 1, last + 1
                if start and text[start - 1] in _ASCII_WORD:
                    continue  # no word boundary before: "cashew" is not "cash"
                following = text[after] if after < size else ""
                ends_word = following not in _ASCII_WORD
                for index, ending in rules:
                    if (
                        ending == _ANY_ENDING
                        or ends_word
                        or (
                            ending == _WORD_OR_PLURAL_END
                            and (following == "s" or text.startswith("es", after))
                        )
                    ):
                        candidates.add(index)
        if self._regex_set is not None:
            try:
                matched = self._regex_set.Match(text) or []
            except re2.error:
                matched = range(len(self._regex_rules))  # out of memory: scan them all
            candidates.update(self._regex_rules[number] for number in matched)
        return candidates

    def _hits_in(
        self, view: NormalisedText, applicable: frozenset[int], original: str
    ) -> list[Hit]:
        """The hits of the applicable rules in one normalised view of `original`:
        the passes choose the candidate rules, RE2 gives their exact spans."""
        hits: list[Hit] = []
        for index in sorted(self._candidate_rules(view.text) & applicable):
            hits.extend(self._rules[index].hits(view, original))
        return hits

    def screen(
        self, text: str, *, scope: str = "outbound", facility_id: int | None = None
    ) -> ScreeningResult:
        if scope not in TEXT_SCOPES:
            raise ValueError(f"scope must be one of {TEXT_SCOPES}, not {scope!r}")
        applicable = self._applicable_rules(scope, facility_id)
        hits: list[Hit] = []
        normalised = normalise(text) if applicable else None
        if normalised is not None and normalised.text:
            hits = self._hits_in(normalised, applicable, text)
            # Leetspeak views: a hit there counts only where the same rule did
            # not already hit the text as written (a number rule re-reading a
            # phone number, say).
            plain = [(hit.rule, hit.start, hit.end) for hit in hits]
            for offset, view in leet_views(normalised.text):
                origin = Origin()
                normalised.origin.copy_span(offset, offset + len(view), origin, 0)
                hits.extend(
                    hit
                    for hit in self._hits_in(NormalisedText(view, origin), applicable, text)
                    if not any(
                        rule == hit.rule and start < hit.end and hit.start < end
                        for rule, start, end in plain
                    )
                )
            # Addresses with "at" and "dot", and numbers, spelled out in words:
            # every rule reads the view in which they are written as such; hits
            # outside them are the same hits again.
            for spelled in (address_view(normalised), number_view(normalised)):
                if spelled is not None:
                    hits.extend(
                        _to_word_end(hit, text) for hit in self._hits_in(spelled, applicable, text)
                    )
            # One hit per rule and span: the first found, from the text as
            # written before any view.
            hits = list({(hit.rule, hit.start, hit.end): hit for hit in reversed(hits)}.values())
            hits = [hit for hit in hits if not _negated_request(hit, text)]
        hits.sort(key=lambda h: (h.start, h.end, h.category, h.rule))
        language = languages.detect(text, self.languages)
        model = self.signal_model
        return ScreeningResult(
            tuple(hits),
            tuple(disguises(text)),
            language=language,
            machine_screened=language.code in self.languages,
            signal=model.score(normalised.text) if model and normalised else 0.0,
            signal_threshold=model.threshold if model else 1.0,
        )


# --- Where rules come from ----------------------------------------------------------


def load_default_rule_specs(path: Path = DEFAULT_RULES_PATH) -> list[RuleSpec]:
    """The shipped rule set. Used by `screen --rules default` and by the data
    migration that puts it in the database; never touches the database."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    specs = []
    for entry in entries["rules"]:
        pattern = entry["pattern"]
        if isinstance(pattern, list):  # keywords, one per list item in the file
            pattern = "\n".join(pattern)
        spec = RuleSpec(
            name=entry["name"],
            category=entry["category"],
            pattern_type=entry["pattern_type"],
            pattern=pattern,
            action=entry.get("action", "flag"),
            scope=entry.get("scope", "all"),
            language=entry.get("language", ""),
        )
        if spec.language and spec.language not in languages.LANGUAGE_NAMES:
            raise RuleError(f"Rule {spec.name!r}: unknown language {spec.language!r}.")
        if spec.category not in CATEGORIES or spec.action not in ACTIONS:
            raise RuleError(f"Rule {spec.name!r}: bad category or action.")
        if spec.scope not in SCOPES:
            raise RuleError(f"Rule {spec.name!r}: bad scope {spec.scope!r}.")
        specs.append(spec)
    return specs


@lru_cache(maxsize=1)
def default_ruleset() -> RuleSet:
    return RuleSet(load_default_rule_specs(), shipped_model())


# --- Showing hits -------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A piece of a screened text: plain (no hits) or covered by `hits`.
    `ending` are the hits that end with this piece (where to label them)."""

    text: str
    hits: tuple[Hit, ...] = ()
    ending: tuple[Hit, ...] = ()


def highlight_segments(text: str, hits: tuple[Hit, ...] | list[Hit]) -> list[Segment]:
    """Split `text` at every hit's start and end, for a template to highlight
    (and escape) piece by piece; overlapping hits cover the same pieces."""
    boundaries = sorted({0, len(text), *(h.start for h in hits), *(h.end for h in hits)})
    by_start = sorted(hits, key=lambda h: (h.start, h.end))
    segments: list[Segment] = []
    active: list[Hit] = []
    next_hit = 0
    for start, end in pairwise(boundaries):
        active = [h for h in active if h.end > start]
        while next_hit < len(by_start) and by_start[next_hit].start <= start:
            active.append(by_start[next_hit])
            next_hit += 1
        ending = tuple(h for h in active if h.end == end)
        segments.append(Segment(text[start:end], tuple(active), ending))
    return segments
