"""A second, statistical signal beside the rules: how much a letter reads like
the harmful letters of the labelled corpus.

The model is a logistic regression over TF-IDF weighted words and word pairs
of the normalised text (screening.normalise: disguises folded), trained with
scikit-learn on the corpus's tuning letters by `manage.py
train_screening_signal`, which also measures it by 5-fold cross-validation.
It ships as plain numbers in moderation/rules/signal_model.json and is scored
here in pure Python, so serving needs no scikit-learn and loads no pickle.

It only ever raises a letter's risk and keeps it from automatic approval
(ScreeningResult.needs_a_person); it never rejects anything on its own.
Rules catch what was foreseen; the signal catches some paraphrases no rule
was written for, and it learns nothing about letters it has not seen: the
held-out figures in `make bench` say how much that is.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MODEL_PATH = Path(__file__).resolve().parent / "rules" / "signal_model.json"

# scikit-learn's default token pattern: words of two or more characters.
TOKEN = re.compile(r"(?u)\b\w\w+\b")


def terms(normalised_text: str, ngram_range: tuple[int, int] = (1, 2)) -> Counter:
    """Word n-grams of a normalised text, counted, as TfidfVectorizer makes them."""
    words = TOKEN.findall(normalised_text)
    low, high = ngram_range
    counts: Counter = Counter()
    for size in range(low, high + 1):
        if size == 1:
            counts.update(words)
        else:  # the shorter tails end the zip at the last whole n-gram
            tails = (words[start:] for start in range(size))
            counts.update(map(" ".join, zip(*tails, strict=False)))
    return counts


@dataclass(frozen=True)
class SignalModel:
    intercept: float
    threshold: float
    ngram_range: tuple[int, int]
    # term -> (inverse document frequency, weight)
    vocabulary: dict[str, tuple[float, float]]

    def score(self, normalised_text: str) -> float:
        """The probability the model gives that the text is harmful, 0..1."""
        weighted = 0.0
        norm = 0.0
        vocabulary = self.vocabulary
        for term, count in terms(normalised_text, self.ngram_range).items():
            found = vocabulary.get(term)
            if found is None:
                continue
            idf, weight = found
            value = (1.0 + math.log(count)) * idf  # sublinear tf
            weighted += value * weight
            norm += value * value
        z = self.intercept + (weighted / math.sqrt(norm) if norm else 0.0)
        return 1.0 / (1.0 + math.exp(-z))

    def as_json(self) -> dict:
        return {
            "intercept": self.intercept,
            "threshold": self.threshold,
            "ngram_range": list(self.ngram_range),
            "vocabulary": {term: list(pair) for term, pair in sorted(self.vocabulary.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> SignalModel:
        return cls(
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            ngram_range=tuple(data["ngram_range"]),
            vocabulary={term: (pair[0], pair[1]) for term, pair in data["vocabulary"].items()},
        )


@cache
def shipped_model() -> SignalModel | None:
    """The model in MODEL_PATH, or None when there is none (screening then
    runs on rules alone)."""
    if not MODEL_PATH.exists():
        return None
    return SignalModel.from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8"))["model"])
