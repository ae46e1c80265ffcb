"""The statistical signal: scored in pure Python exactly as scikit-learn
would, shipped as trained on the current corpus, and only ever a reason for a
person to read a letter."""

from __future__ import annotations

import json

import pytest

from devtools.screening.corpus import load_corpus
from devtools.screening.training import THRESHOLD, as_signal_model, pipeline, train
from messaging.models import Letter
from messaging.services import screen_letter
from moderation.alerts import RESEMBLES_HARMFUL, alert_text
from moderation.models import ModerationItem
from moderation.screening import default_ruleset, normalise
from moderation.signal import MODEL_PATH, shipped_model
from profiles.models import Facility
from tests.factories import InmateProfileFactory, write_letter

# A paraphrase no rule catches: nothing in it names drugs, a phone or a visit rule.
UNFORESEEN = (
    "Hey, the mailroom here is slow. When you come up on the 9th, wrap the little thing "
    "tight and keep it where the lady at the desk won't look. Slip it to me at the end, "
    "nobody checks."
)
ORDINARY = (
    "Dear Ana, the garden is blooming and the kids started school. We miss you and pray "
    "for you every night. Write soon."
)


@pytest.fixture(scope="module")
def tuning():
    return [letter for letter in load_corpus() if letter.split == "tuning"]


def test_the_pure_python_scorer_gives_scikit_learns_probabilities(tuning):
    texts = [normalise(letter.text).text for letter in tuning]
    fitted = pipeline().fit(texts, [letter.label == "harmful" for letter in tuning])
    model = as_signal_model(fitted, THRESHOLD)
    sample = texts[::7] + [normalise(UNFORESEEN).text, normalise(ORDINARY).text, ""]
    expected = fitted.predict_proba(sample)[:, 1]
    for text, probability in zip(sample, expected, strict=True):
        assert model.score(text) == pytest.approx(probability, abs=1e-6)


def test_the_shipped_model_is_the_one_the_current_corpus_trains(tuning):
    # Fails when the corpus changed without `manage.py train_screening_signal`.
    shipped = shipped_model()
    retrained = train(tuning)
    assert shipped.vocabulary.keys() == retrained.vocabulary.keys()
    assert shipped.intercept == pytest.approx(retrained.intercept, abs=1e-6)
    assert shipped.threshold == THRESHOLD
    content = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert content["trained_on"] == len(tuning)
    cross_validated = content["cross_validation"]["rules_and_signal"]
    assert cross_validated[".en.harmful_caught"] >= 0.9
    assert cross_validated[".es.harmful_caught"] >= 0.9


def test_the_signal_reads_an_unforeseen_paraphrase_as_risky_and_a_plain_letter_as_not():
    rules = default_ruleset()
    risky, plain = rules.screen(UNFORESEEN), rules.screen(ORDINARY)
    assert not risky.hits and risky.signal_high and risky.needs_a_person
    assert not plain.hits and not plain.signal_high and not plain.needs_a_person


def test_a_high_signal_keeps_a_letter_for_a_person_and_never_rejects_it(
    alice, default_screening_rules
):
    profile = InmateProfileFactory.published(
        facility__screening_mode=Facility.ScreeningMode.FLAGGED_ONLY
    )
    letter = write_letter(alice, profile, UNFORESEEN)
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    assert letter.screening["hits"] == []
    assert any(alert["message"] == RESEMBLES_HARMFUL for alert in letter.screening["alerts"])
    assert any(alert_text(a).startswith("Reads like") for a in letter.screening["alerts"])
    item = ModerationItem.objects.for_object(letter).get()
    assert item.status == ModerationItem.Status.PENDING
    assert item.risk_score >= 15
