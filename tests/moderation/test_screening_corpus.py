"""What the default rules catch on the labelled corpus in corpus/screening/.

The corpus (devtools.screening.corpus) holds English and Spanish letters,
harmful and clean, plain, paraphrased and disguised, written by the team. The
rules' paraphrase patterns were written after reading the "tuning" files, so
the floors here pin today's quality on them: a rule change that loses a family
of patterns (every payment app, every Spanish threat) or starts holding
ordinary letters fails. The held-out file was written by someone who never
saw the rules, and nobody who edits the rules or trains the signal reads it.
`make bench` prints every figure. Run with `pytest -s` to see them.
"""

from __future__ import annotations

import pytest

from devtools.screening.corpus import STYLES, evaluate, load_corpus
from moderation.screening import CATEGORIES, RuleSet, default_ruleset, load_default_rule_specs

# (split, what screens) -> language -> (least share of harmful letters caught,
# most share of clean letters held). The rules alone on the tuning letters pin
# the rules; the shipped rules with the statistical signal on the held-out
# letters pin what a facility gets (the signal trained on the tuning letters,
# so on them it would only flatter itself: `make bench` cross-validates it).
FLOORS = {
    ("tuning", "rules"): {"en": (0.86, 0.03), "es": (0.81, 0.03)},
    ("held_out", "shipped"): {"en": (0.93, 0.12), "es": (0.90, 0.10)},
}


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_it_has_a_big_labelled_corpus_in_both_languages(corpus):
    assert len(corpus) >= 600
    assert len({letter.id for letter in corpus}) == len(corpus)
    for language in ("en", "es"):
        letters = [letter for letter in corpus if letter.language == language]
        harmful = [letter for letter in letters if letter.label == "harmful"]
        assert 0.35 <= len(harmful) / len(letters) <= 0.65, language
        for category in CATEGORIES:
            assert sum(category in letter.categories for letter in harmful) >= 8, category
        for style in STYLES:
            assert sum(letter.style == style for letter in harmful) >= 30, style
        assert {letter.direction for letter in letters} == {"to_prison", "from_prison"}
    assert any(letter.split == "held_out" for letter in corpus)


@pytest.mark.parametrize(("split", "screening"), sorted(FLOORS))
def test_it_catches_harmful_letters_and_holds_few_clean_ones(corpus, split, screening):
    rules = RuleSet(load_default_rule_specs()) if screening == "rules" else default_ruleset()
    evaluation = evaluate(rules, [letter for letter in corpus if letter.split == split])
    report = "\n".join(f"{name} {value:.3f}" for name, value, _ in evaluation.figures(split))
    print(f"\n{screening}:\n{report}")
    for language, (least_caught, most_held) in FLOORS[split, screening].items():
        harmful = evaluation.tallies[language, "harmful"]
        clean = evaluation.tallies[language, "clean"]
        assert harmful.share >= least_caught, f"{language}: caught {harmful.share:.3f}\n{report}"
        assert clean.share <= most_held, f"{language}: held {clean.share:.3f}\n{report}"


def test_every_clean_letter_in_the_corpus_reads_as_its_own_language(corpus):
    # A clean letter marked "not machine-screened" would be a false alarm
    # from language detection alone.
    rules = default_ruleset()
    unread = [
        letter.id
        for letter in corpus
        if letter.label == "clean" and not rules.screen(letter.text).machine_screened
    ]
    assert unread == []
