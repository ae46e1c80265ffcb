"""How well screening does on the labelled corpus in corpus/screening/.

Each file there holds letters written by the team for this purpose (each
file's "about" says how), labelled harmful or clean, with their categories,
language, direction and style (plain, paraphrase, disguised). `evaluate`
screens every letter as the service would and counts, per language, style
and category:

- caught: a harmful letter screening sends to a person (a hit, a disguise,
  or a language no rule is written for), so it cannot be approved unread in
  a "flagged letters only" facility;
- held: a clean letter sent to a person all the same (a false alarm);
- per category, precision and recall of the hits of that category against
  the letters labelled with it.

The rules are evaluated plainly; the statistical signal (moderation.signal),
which is learned from the tuning letters, by 5-fold cross-validation on them.
The rules' paraphrase patterns were written after reading the "tuning" files,
so figures on them flatter the rules; the "held_out" file was written by
someone who never saw the rules and is never read by whoever writes them or
trains the signal, and its figures are the honest ones. `make bench` prints
them all (devtools.benchmarks.screening).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from moderation.screening import CATEGORIES, RuleSet, ScreeningResult

CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus" / "screening"
LABELS = ("harmful", "clean")
STYLES = ("plain", "paraphrase", "disguised")
SCOPES = {"to_prison": "outbound", "from_prison": "inbound"}


@dataclass(frozen=True)
class CorpusLetter:
    split: str  # "tuning" (read while writing the rules) or "held_out" (never read)
    id: str
    language: str
    direction: str
    label: str
    categories: tuple[str, ...]
    style: str
    text: str


def load_corpus(directory: Path = CORPUS_DIR) -> list[CorpusLetter]:
    letters = []
    for path in sorted(directory.glob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        for entry in content["letters"]:
            letter = CorpusLetter(
                split=content.get("split", "tuning"),
                id=entry["id"],
                language=entry["language"],
                direction=entry["direction"],
                label=entry["label"],
                categories=tuple(entry["categories"]),
                style=entry["style"],
                text=entry["text"],
            )
            if (
                letter.label not in LABELS
                or letter.style not in STYLES
                or letter.direction not in SCOPES
                or not set(letter.categories) <= set(CATEGORIES)
                or (letter.label == "harmful") != bool(letter.categories)
            ):
                raise ValueError(f"{path.name}: letter {letter.id} is mislabelled")
            letters.append(letter)
    return letters


@dataclass
class Tally:
    letters: int = 0
    sent_to_a_person: int = 0

    @property
    def share(self) -> float:
        return self.sent_to_a_person / self.letters if self.letters else 0.0


@dataclass
class CategoryCount:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 1.0


@dataclass
class Evaluation:
    # (language, "harmful" | "clean" | a style of harmful letter) -> Tally
    tallies: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    # (language, category) -> CategoryCount
    categories: dict[tuple[str, str], CategoryCount] = field(
        default_factory=lambda: defaultdict(CategoryCount)
    )
    missed: list[tuple[CorpusLetter, ScreeningResult]] = field(default_factory=list)
    false_alarms: list[tuple[CorpusLetter, ScreeningResult]] = field(default_factory=list)
    # Why clean letters went to a person: "hit", "disguise", "language".
    false_alarm_reasons: Counter = field(default_factory=Counter)

    @property
    def languages(self) -> list[str]:
        return sorted({language for language, _ in self.tallies})

    def figures(self, prefix: str = "screening.corpus") -> Iterator[tuple[str, float, str]]:
        for language in self.languages:
            harmful = self.tallies[language, "harmful"]
            clean = self.tallies[language, "clean"]
            at = f"{prefix}.{language}"
            yield f"{at}.harmful_letters", harmful.letters, "letters"
            yield f"{at}.harmful_caught", harmful.share, "ratio"
            for style in STYLES:
                tally = self.tallies.get((language, style))
                if tally and tally.letters:
                    yield f"{at}.{style}.harmful_caught", tally.share, "ratio"
            yield f"{at}.harmful_approved_unread", harmful.letters - harmful.sent_to_a_person, "letters"  # fmt: skip
            yield f"{at}.clean_letters", clean.letters, "letters"
            yield f"{at}.clean_held", clean.sent_to_a_person, "letters"
            yield f"{at}.clean_held_share", clean.share, "ratio"
            for category in CATEGORIES:
                count = self.categories.get((language, category))
                if count is None:
                    continue
                yield f"{at}.{category}.precision", count.precision, "ratio"
                yield f"{at}.{category}.recall", count.recall, "ratio"
        for reason, number in sorted(self.false_alarm_reasons.items()):
            yield f"{prefix}.clean_held_by.{reason}", number, "letters"


def evaluate(
    rules: RuleSet,
    letters: list[CorpusLetter],
    *,
    signal_scores: dict[str, float] | None = None,
    threshold: float = 1.0,
) -> Evaluation:
    """Screen every letter with `rules` (and their signal model, if any). With
    `signal_scores` (a letter's id -> a signal from elsewhere, such as a model
    that did not train on it), a score at or above `threshold` also sends a
    letter to a person."""
    evaluation = Evaluation()
    for letter in letters:
        result = rules.screen(letter.text, scope=SCOPES[letter.direction])
        if signal_scores is not None:
            result = dataclasses.replace(
                result, signal=signal_scores[letter.id], signal_threshold=threshold
            )
        to_a_person = result.needs_a_person
        for key in (letter.label, letter.style) if letter.label == "harmful" else (letter.label,):
            tally = evaluation.tallies[letter.language, key]
            tally.letters += 1
            tally.sent_to_a_person += to_a_person
        found = set(result.categories)
        for category in CATEGORIES:
            labelled = category in letter.categories
            if not (labelled or category in found):
                continue
            count = evaluation.categories[letter.language, category]
            if labelled and category in found:
                count.true_positives += 1
            elif labelled:
                count.false_negatives += 1
            else:
                count.false_positives += 1
        if letter.label == "harmful" and not to_a_person:
            evaluation.missed.append((letter, result))
        elif letter.label == "clean" and to_a_person:
            evaluation.false_alarms.append((letter, result))
            evaluation.false_alarm_reasons.update(_reasons(result))
    return evaluation


def _reasons(result: ScreeningResult) -> list[str]:
    reasons = []
    if result.hits:
        reasons.append("hit")
    if result.disguises:
        reasons.append("disguise")
    if not result.machine_screened:
        reasons.append("language")
    if result.signal_high:
        reasons.append("signal")
    return reasons
