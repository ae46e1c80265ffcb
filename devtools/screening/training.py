"""Training and cross-validating the statistical signal (moderation.signal).

Needs scikit-learn, a development dependency: only `manage.py
train_screening_signal`, `make bench` and the tests import this module; the
service scores the shipped numbers without it.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from devtools.screening.corpus import CorpusLetter
from moderation.screening import normalise
from moderation.signal import TOKEN, SignalModel

NGRAM_RANGE = (1, 2)
# At or above this probability a letter is kept for a person. Chosen by
# cross-validation on the tuning letters: the lowest level at which the
# signal alone holds no more than about 1 clean letter in 30.
THRESHOLD = 0.65
FOLDS = 5
SEED = 20261206


def pipeline() -> Pipeline:
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=NGRAM_RANGE,
                    min_df=2,
                    sublinear_tf=True,
                    lowercase=False,  # the normalised text is lower-cased already
                    token_pattern=TOKEN.pattern,
                ),
            ),
            (
                "model",
                LogisticRegression(C=4.0, class_weight="balanced", max_iter=5000),
            ),
        ]
    )


def _texts(letters: list[CorpusLetter]) -> list[str]:
    return [normalise(letter.text).text for letter in letters]


def _labels(letters: list[CorpusLetter]) -> list[bool]:
    return [letter.label == "harmful" for letter in letters]


def train(letters: list[CorpusLetter], threshold: float = THRESHOLD) -> SignalModel:
    fitted = pipeline().fit(_texts(letters), _labels(letters))
    return as_signal_model(fitted, threshold)


def as_signal_model(fitted: Pipeline, threshold: float) -> SignalModel:
    vectorizer: TfidfVectorizer = fitted.named_steps["tfidf"]
    model: LogisticRegression = fitted.named_steps["model"]
    weights = model.coef_[0]
    idf = vectorizer.idf_
    return SignalModel(
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        ngram_range=NGRAM_RANGE,
        vocabulary={
            term: (round(float(idf[index]), 9), round(float(weights[index]), 9))
            for term, index in vectorizer.vocabulary_.items()
        },
    )


def cross_validated_scores(letters: list[CorpusLetter], folds: int = FOLDS) -> dict[str, float]:
    """Each letter's signal from a model trained on the other folds."""
    texts, labels = _texts(letters), _labels(letters)
    scores: dict[str, float] = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train_rows, test_rows in splitter.split(texts, labels):
        fitted = pipeline().fit([texts[i] for i in train_rows], [labels[i] for i in train_rows])
        probabilities = fitted.predict_proba([texts[i] for i in test_rows])[:, 1]
        for row, probability in zip(test_rows, probabilities, strict=True):
            scores[letters[row].id] = float(probability)
    return scores
