"""The screening benchmark (`make bench`) runs and reports its figures; the
timings themselves are not tested, only that the benchmark measures what it says."""

from __future__ import annotations

from devtools.benchmarks.screening import (
    baseline_regex,
    bench_screening,
    extra_keywords,
    extra_rule_specs,
    make_letters,
)
from moderation.screening import RuleSet, load_default_rule_specs


def test_it_reports_every_figure_on_a_tiny_input():
    figures = {
        name: (value, unit)
        for name, value, unit in bench_screening(
            letter_count=6, long_letter_count=3, extra_keyword_count=30, rounds=1
        )
    }
    for name in [
        "screening.letters_per_s",
        "screening.re_baseline_letters_per_s",
        "screening.speedup_vs_re",
        "screening.p50_ms",
        "screening.p95_ms",
        "screening.compile_ms",
    ]:
        value, _unit = figures[name]
        assert value > 0, name
    assert figures["screening.letters_per_s"][1] == "letters/s"
    assert figures["screening.p95_ms"][1] == "ms"
    assert figures["screening.rules"][0] == len(load_default_rule_specs()) + 30
    assert figures["screening.letters"][0] == 6
    speedup = (
        figures["screening.letters_per_s"][0] / figures["screening.re_baseline_letters_per_s"][0]
    )
    assert abs(figures["screening.speedup_vs_re"][0] - speedup) < 1e-9


def test_it_generates_distinct_keywords_and_the_same_letters_every_time():
    keywords = extra_keywords(500)
    assert len(keywords) == len(set(keywords)) == 500
    assert extra_keywords(500) == keywords
    letters = make_letters(40, (300, 13_000), keywords)
    assert letters == make_letters(40, (300, 13_000), keywords)
    assert {len(letter) for letter in letters} <= set(range(1, 13_001))
    assert max(len(letter) for letter in letters) == 13_000


def test_its_letters_hit_the_extra_rules_and_the_default_ones():
    keywords = extra_keywords(500)
    rules = RuleSet(load_default_rule_specs() + extra_rule_specs(keywords))
    hit_rules = {
        hit.rule
        for letter in make_letters(100, (2_000,), keywords)
        for hit in rules.screen(letter).hits
    }
    assert any(rule.startswith("Extra keyword") for rule in hit_rules)
    assert any(not rule.startswith("Extra keyword") for rule in hit_rules)


def test_the_baseline_is_one_alternation_of_every_keyword():
    keywords = extra_keywords(20)
    specs = load_default_rule_specs() + extra_rule_specs(keywords)
    baseline = baseline_regex(specs)
    assert baseline.pattern.count("|") + 1 == len(
        {
            line.strip().lower()
            for spec in specs
            if spec.pattern_type == "keywords"
            for line in spec.pattern.splitlines()
        }
    )
    text = f"Venmo me, or try {keywords[0].upper()}; the bailiff and orgasms"
    assert [match.group() for match in baseline.finditer(text)] == [
        "Venmo",
        keywords[0].upper(),
        "orgasms",
    ]
