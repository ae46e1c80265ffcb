"""The screening engine: run a text against the screening rules.

How a text is screened:

1. **Normalisation.** The text is folded character by character: compatibility
   forms (full-width letters, ligatures) become plain letters, accents are
   dropped, everything is lower-cased and invisible characters (zero-width
   spaces, soft hyphens) disappear. Then letter-spaced words are joined:
   three or more single letters separated by spaces or simple separators
   ("c a s h", "c.a.s.h", "c-a-s-h") become one word. Every normalised
   character remembers the original character it came from, so hits report
   spans of the ORIGINAL text.
2. **Patterns.** A keyword rule lists one keyword or phrase per line. Each
   becomes a regular expression that needs a word boundary at both ends (so
   "bail" does not hit "tailbail" or "bailiff"), accepts any run of up to three
   separators between its words ("cash app", "cash-app", "cashapp"), an
   optional plural "s", and a trailing `*` for "any ending". A regular
   expression rule is used as written, case-insensitively. Either way the
   pattern runs on the normalised text.
3. **RE2.** Every pattern is compiled with RE2 (`google-re2`), which matches
   in time linear in the text: no rule a moderator writes can stall screening.
   All patterns that apply go into one RE2 set, so a text is scanned once to
   learn which rules match; only those rules then scan it again for their
   spans. A clean letter therefore costs one pass.
4. **Risk.** The risk score is the sum of the weights (CATEGORY_WEIGHTS) of the
   distinct categories hit, capped at 100. Hitting one category many times
   does not add up: the moderator reads the letter anyway.

The default rule set is `moderation/rules/default_rules.json`; the data
migration 0004 loads it into the database with `load_default_rule_specs`, the
same function `screen --rules default` uses, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import re2

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

_INVISIBLE = {"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}
# Three or more single letters, each pair separated by 1-3 simple separators.
# This is a fixed pattern of ours (not a moderator's), bounded, so stdlib re is fine.
_LETTER_SPACED = re.compile(r"(?<![^\W\d_])[a-z](?:[ \t.\-_*|/+~']{1,3}[a-z]){2,}(?![^\W\d_])")
_SPACING = re.compile(r"[ \t.\-_*|/+~']")


@dataclass(frozen=True)
class NormalisedText:
    text: str
    # origin[i] is the index in the original text of normalised character i.
    origin: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def _fold_character(character: str) -> str:
    if character in _INVISIBLE:
        return ""
    decomposed = unicodedata.normalize("NFKD", character)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalise(text: str) -> NormalisedText:
    """Fold `text` for matching, keeping a map back to original positions."""
    characters: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        for folded in _fold_character(character):
            characters.append(folded)
            origin.append(index)
    folded_text = "".join(characters)
    # Join letter-spaced words by dropping the separators inside each run.
    dropped: set[int] = set()
    for run in _LETTER_SPACED.finditer(folded_text):
        for separator in _SPACING.finditer(folded_text, run.start(), run.end()):
            dropped.add(separator.start())
    if dropped:
        kept = [i for i in range(len(folded_text)) if i not in dropped]
        folded_text = "".join(folded_text[i] for i in kept)
        origin = [origin[i] for i in kept]
    return NormalisedText(folded_text, tuple(origin))


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
    keywords = [line.strip() for line in pattern.splitlines() if line.strip()]
    if not keywords:
        raise RuleError("List at least one keyword, one per line.")
    alternatives = sorted({keyword_regex(k) for k in keywords}, key=len, reverse=True)
    return "|".join(f"(?:{alternative})" for alternative in alternatives)


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

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "match": self.match,
        }


@dataclass(frozen=True)
class ScreeningResult:
    hits: tuple[Hit, ...]

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


@dataclass(frozen=True)
class _CompiledRule:
    spec: RuleSpec
    regex: re2._Regexp
    source: str


class _ScanPlan:
    """The rules for one (scope, facility), with one RE2 set over all of them."""

    def __init__(self, rules: list[_CompiledRule]):
        self.rules = rules
        self.matcher = None
        if rules:
            options = _re2_options()
            options.max_mem = SET_MAX_MEM
            matcher = re2.Set.SearchSet(options)
            for rule in rules:
                matcher.Add(rule.source)
            try:
                matcher.Compile()
                self.matcher = matcher
            except re2.error:
                # Too big for one automaton: scan rule by rule (still linear time).
                self.matcher = None

    def _matching_rule_indexes(self, text: str) -> list[int]:
        if self.matcher is not None:
            try:
                return sorted(self.matcher.Match(text) or [])
            except re2.error:
                pass  # the set's DFA ran out of memory on this text; fall back
        return list(range(len(self.rules)))

    def scan(self, text: NormalisedText, original: str) -> list[Hit]:
        if not self.rules or not text.text:
            return []
        hits = []
        for index in self._matching_rule_indexes(text.text):
            rule = self.rules[index]
            for match in rule.regex.finditer(text.text):
                if match.end() == match.start():
                    continue
                start, end = text.original_span(match.start(), match.end())
                hits.append(
                    Hit(
                        category=rule.spec.category,
                        rule=rule.spec.name,
                        action=rule.spec.action,
                        start=start,
                        end=end,
                        match=original[start:end],
                    )
                )
        return hits


class RuleSet:
    """Compiled rules. Build one per rule version and reuse it: compiling is the
    expensive part, screening a letter is one RE2 pass."""

    def __init__(self, specs: list[RuleSpec]):
        self.specs = list(specs)
        self._rules = [
            _CompiledRule(
                spec,
                compile_rule(spec.pattern_type, spec.pattern),
                rule_regex(spec.pattern_type, spec.pattern),
            )
            for spec in self.specs
        ]
        self._plans: dict[tuple[str, int | None], _ScanPlan] = {}

    def _plan(self, scope: str, facility_id: int | None) -> _ScanPlan:
        key = (scope, facility_id)
        if key not in self._plans:
            # Facility rules add to the global ones; they never replace them.
            self._plans[key] = _ScanPlan(
                [r for r in self._rules if r.spec.applies_to(scope, facility_id)]
            )
        return self._plans[key]

    def screen(
        self, text: str, *, scope: str = "outbound", facility_id: int | None = None
    ) -> ScreeningResult:
        if scope not in TEXT_SCOPES:
            raise ValueError(f"scope must be one of {TEXT_SCOPES}, not {scope!r}")
        hits = self._plan(scope, facility_id).scan(normalise(text), text)
        hits.sort(key=lambda h: (h.start, h.end, h.category, h.rule))
        return ScreeningResult(tuple(hits))


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
        )
        if spec.category not in CATEGORIES or spec.action not in ACTIONS:
            raise RuleError(f"Rule {spec.name!r}: bad category or action.")
        if spec.scope not in SCOPES:
            raise RuleError(f"Rule {spec.name!r}: bad scope {spec.scope!r}.")
        specs.append(spec)
    return specs


@lru_cache(maxsize=1)
def default_ruleset() -> RuleSet:
    return RuleSet(load_default_rule_specs())


# (version of the rules, their compiled RuleSet), swapped as one reference so a
# concurrent reader never pairs a version with another version's rules.
_database_cache: tuple[tuple, RuleSet] | None = None


def database_ruleset() -> RuleSet:
    """The active rules in the database, compiled once per version of the rules.

    The version is (count, newest updated_at, highest id) of all rules, read with
    one cheap query per call: any save, delete or (de)activation through the ORM
    changes it, in every process, without relying on a shared cache. A bulk
    `QuerySet.update()` of rules must set `updated_at` too.
    """
    global _database_cache
    from django.db.models import Count, Max

    from moderation.models import ScreeningRule

    version = tuple(
        ScreeningRule.objects.aggregate(
            count=Count("pk"), updated=Max("updated_at"), top=Max("pk")
        ).values()
    )
    cached = _database_cache
    if cached is not None and cached[0] == version:
        return cached[1]
    specs = []
    for rule in ScreeningRule.objects.filter(is_active=True):
        spec = rule.as_spec()
        try:
            compile_rule(spec.pattern_type, spec.pattern)
        except RuleError as exc:
            # The admin refuses such patterns; one written around it (a shell,
            # a bulk import) must not stop every letter from being screened.
            logger.error("Screening rule %s (%s) skipped: %s", rule.pk, rule.name, exc)
            continue
        specs.append(spec)
    ruleset = RuleSet(specs)
    _database_cache = (version, ruleset)
    return ruleset


def screen_text(
    text: str, *, scope: str = "outbound", facility_id: int | None = None
) -> ScreeningResult:
    """Screen `text` against the active database rules for `scope` (and the
    facility's own rules, when `facility_id` is given)."""
    return database_ruleset().screen(text, scope=scope, facility_id=facility_id)


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
    segments, active, next_hit = [], [], 0
    for start, end in pairwise(boundaries):
        active = [h for h in active if h.end > start]
        while next_hit < len(by_start) and by_start[next_hit].start <= start:
            active.append(by_start[next_hit])
            next_hit += 1
        ending = tuple(h for h in active if h.end == end)
        segments.append(Segment(text[start:end], tuple(active), ending))
    return segments
