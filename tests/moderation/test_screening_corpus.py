"""Precision and recall of the default rules on a labelled set of letters.

tests/moderation/corpus/letters.json holds example letters, clean ones and
ones for every category, each labelled with the categories a moderator would
want flagged. It includes hard cases on purpose: innocent words that contain
keywords, innocent mentions of risky words ("my bail hearing"), and requests
written without any keyword ("a little something for stamps"). Some of those
are misses or false alarms today, and that is measured, not hidden.

Threshold: each category needs precision and recall of at least 0.8. The
screen is a highlighter in front of a human (by default a person reads every
letter), so a paraphrase it misses is still read; but a rule change that loses
a whole family of patterns (say, every payment app) drops a category below 0.8
and fails here. With 6-12 examples per category one more miss or false alarm
than today fails some categories, so this also pins today's quality.

Run with `pytest -s` to see the table.
"""

from __future__ import annotations

import json
from pathlib import Path

from moderation.screening import CATEGORIES, default_ruleset

CORPUS = Path(__file__).parent / "corpus" / "letters.json"
THRESHOLD = 0.8


def measure() -> tuple[dict[str, tuple[float, float, int, int, int]], int]:
    """Per category: (precision, recall, true positives, false positives, false negatives)."""
    letters = json.loads(CORPUS.read_text(encoding="utf-8"))["letters"]
    counts = {category: [0, 0, 0] for category in CATEGORIES}
    rules = default_ruleset()
    for letter in letters:
        expected = set(letter["labels"])
        found = set(rules.screen(letter["text"], scope="outbound").categories)
        for category in CATEGORIES:
            if category in found and category in expected:
                counts[category][0] += 1
            elif category in found:
                counts[category][1] += 1
            elif category in expected:
                counts[category][2] += 1
    table = {}
    for category, (tp, fp, fn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        table[category] = (precision, recall, tp, fp, fn)
    return table, len(letters)


def format_table(table) -> str:
    lines = [f"{'category':<11} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}"]
    for category, (precision, recall, tp, fp, fn) in table.items():
        lines.append(f"{category:<11} {precision:>9.2f} {recall:>7.2f} {tp:>4} {fp:>4} {fn:>4}")
    return "\n".join(lines)


def test_it_has_a_big_enough_labelled_corpus():
    letters = json.loads(CORPUS.read_text(encoding="utf-8"))["letters"]
    assert len(letters) >= 60
    assert sum(1 for letter in letters if not letter["labels"]) >= 15
    for category in CATEGORIES:
        assert any(category in letter["labels"] for letter in letters), category
        assert {*letters[0]} == {"labels", "text"}


def test_it_meets_precision_and_recall_per_category():
    table, size = measure()
    report = f"Screening corpus ({size} letters, default rules):\n{format_table(table)}"
    print("\n" + report)
    below = [
        category
        for category, (precision, recall, *_) in table.items()
        if precision < THRESHOLD or recall < THRESHOLD
    ]
    assert not below, f"below {THRESHOLD}: {below}\n{report}"
