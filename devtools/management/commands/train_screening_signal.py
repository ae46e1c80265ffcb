"""Train the statistical screening signal on the corpus and ship it.

Writes moderation/rules/signal_model.json: the model's numbers, and its
5-fold cross-validated figures on the tuning letters beside the rules'.
Needs scikit-learn (a development dependency). Run it after changing the
corpus or the rules, and commit the file.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from devtools.screening.corpus import evaluate, load_corpus
from devtools.screening.training import THRESHOLD, cross_validated_scores, train
from moderation.screening import RuleSet, load_default_rule_specs
from moderation.signal import MODEL_PATH

ABOUT = (
    "The statistical screening signal (moderation.signal): a logistic regression over TF-IDF "
    "weighted words and word pairs of the normalised letter text, trained by "
    "`manage.py train_screening_signal` on the tuning letters of corpus/screening. Each term "
    "maps to [inverse document frequency, weight]. At or above the threshold a letter is kept "
    "for a person; the signal never rejects. Cross-validated figures are below."
)


class Command(BaseCommand):
    help = "Train the statistical screening signal on the labelled corpus and write it."

    def handle(self, *args, **options) -> None:
        tuning = [letter for letter in load_corpus() if letter.split == "tuning"]
        rules = RuleSet(load_default_rule_specs())
        scores = cross_validated_scores(tuning)
        figures = {}
        for name, evaluation in (
            ("rules", evaluate(rules, tuning)),
            (
                "rules_and_signal",
                evaluate(rules, tuning, signal_scores=scores, threshold=THRESHOLD),
            ),
        ):
            figures[name] = {
                metric: round(value, 3)
                for metric, value, _ in evaluation.figures("")
                if ".harmful_caught" in metric or ".clean_held_share" in metric
            }
        model = train(tuning)
        content = {
            "about": ABOUT,
            "trained_on": len(tuning),
            "cross_validation": figures,
            "model": model.as_json(),
        }
        MODEL_PATH.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", "utf-8")
        self.stdout.write(f"Wrote {MODEL_PATH} ({len(model.vocabulary)} terms).")
        self.stdout.write(json.dumps(figures, indent=2))
