r"""Screening benchmarks: letters screened per second, beside a naive `re` baseline.

The engine screens with the default rules plus EXTRA_KEYWORDS extra keyword
rules (one keyword or phrase each, generated from a fixed seed), so the figures
reflect a rule set that has grown in use, not the small shipped one.

- `screening.letters_per_s`: letters screened per second on one core
  (`RuleSet.screen`: normalisation, every rule, categories, spans in the
  original text). The letters are realistic and of varied lengths: the labelled
  corpus (corpus/screening, English and Spanish) mixed with generated everyday paragraphs,
  some with typographic quotes and accents; about a third carry a flagged
  example or one of the extra keywords (`screening.flagged_letters`).
- `screening.re_baseline_letters_per_s`: the naive approach on the same
  letters: Python's `re` with ONE precompiled alternation of every keyword
  (the default rules' keyword lines plus the extra ones, escaped; a trailing
  `*` becomes `\w*`), `\b(?:k1|k2|...)\b`, case-insensitive, collecting every
  match. It does less (no regex rules, no separators or letter-spacing, no
  categories, no spans in the original) and must still not be faster.
- `screening.speedup_vs_re`: the ratio of the two (the aim is 5 or more).
- `screening.p50_ms`, `screening.p95_ms`: median and 95th-percentile time to
  screen one letter of LONG_LETTER_CHARS characters (the longest letter the
  site accepts), over LONG_LETTERS different letters.
- `screening.compile_ms`: building the RuleSet (once per version of the rules).

Throughput is the best of a few rounds and each long letter's time the best of
a few runs, after a warm-up pass: the figures are the engine's steady-state
cost, not the machine's other work. No database is needed: the rules come
from the shipped file.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Iterator

from devtools.benchmarks.pages import percentile
from devtools.screening.corpus import evaluate, load_corpus
from moderation.screening import RuleSet, RuleSpec, default_ruleset, load_default_rule_specs

Figure = tuple[str, float | int, str]

SEED = 20240605
EXTRA_KEYWORDS = 500
LETTERS = 300
LONG_LETTER_CHARS = 13_000
LONG_LETTERS = 200

# Letter lengths drawn uniformly from these: most letters are a page or two,
# some run to the site's maximum.
LETTER_LENGTHS = (300, 600, 1_000, 1_500, 2_500, 4_000, 6_000, 9_000, 13_000)

# Everyday sentences pen pals write; filler between the corpus letters.
_SENTENCES = (
    "I hope this letter finds you well and in good spirits.",
    "The weather here has been cold, and the leaves are almost all gone from the maple trees.",
    "My sister came over on Sunday and we cooked a big pot of chili for the whole family.",
    "I finished the book you recommended; the ending surprised me more than I expected.",
    "Work has been busy, but I try to take a walk every evening after dinner.",
    "Do you get much time outside? I remember you said the yard was open in the mornings.",
    "I started learning to play the guitar, and my fingers are sore from practising chords.",
    "Our church is collecting coats for the winter drive, so I spent Saturday sorting boxes.",
    "Tell me more about the classes you are taking. Is the teacher as strict as you said?",
    "My dog, Biscuit, chewed through another pair of shoes. I can't stay mad at him for long.",
    "I wrote down a few questions about your drawings, because I'd love to hear how you start one.",
    "The garden gave us more tomatoes than we could eat, so the neighbours got bags of them.",
    "I watched the game last night and thought of you; our team lost again in the last minute.",
    "Thank you for the poem. I read it twice and then read it out loud to my mother.",
    "My grandson turned seven this week, and he wants to be an astronaut or a chef.",
    "It's been raining for three days straight, and the basement smells like wet cardboard.",
    "I'm proud of you for sticking with the program, even on the hard days.",
    "We went to the lake last weekend. The water was too cold for swimming, but we fished a bit.",
    "I've been thinking about what you wrote about second chances, and I agree with you.",
    "There's a new bakery on the corner that makes cinnamon rolls as big as your hand.",
    "Please tell me if there's a book you'd like; I can ask the library about the rules.",
    "My job at the hospital keeps me on my feet, but I like the people I work with.",
    "I looked up the recipe you described and tried it; it was close, but not quite right.",
    "Write back when you can. There's no hurry, I know the mail takes its time.",
)
# Typographic versions some letters use (phones and word processors write these).
_TYPOGRAPHIC = str.maketrans({"'": "\u2019", '"': "\u201d"})
_ACCENTED = (
    "We had café au lait at the crêperie near the station.",
    "My niece José is in Señora Núñez's class this year.",
    "Mum says “hello” and sends her love — she’s doing better.",
)

# Building blocks of the extra keywords: two-word phrases that read like rule
# entries (slang, brand names), plus coined single words.
_FIRST = (
    "silver", "quick", "midnight", "golden", "shadow", "velvet", "rapid", "hidden", "lucky",
    "crystal", "thunder", "frozen", "purple", "iron", "paper", "cloud", "rocket", "copper",
    "secret", "night", "blue", "easy", "fast", "sweet", "wild", "prime", "royal", "smoke",
    "street", "ghost", "black", "money", "happy", "snow", "candy", "magic", "tiger", "diamond",
)  # fmt: skip
_SECOND = (
    "transfer", "wallet", "drop", "package", "runner", "pay", "link", "card", "deal", "stash",
    "plug", "supply", "code", "token", "line", "bundle", "pickup", "route", "courier", "hookup",
    "ticket", "pass", "bank", "fund", "gift", "chip", "key", "ride", "tab", "coin",
)  # fmt: skip
_SYLLABLES = ("zor", "bex", "kal", "vin", "tro", "mex", "qui", "dax", "lum", "rho", "fen", "zig")


def extra_keywords(count: int = EXTRA_KEYWORDS, seed: int = SEED) -> list[str]:
    """`count` distinct keywords, about two thirds phrases, the rest coined words."""
    rng = random.Random(seed)  # noqa: S311 - made-up keywords
    phrases = [f"{first} {second}" for first in _FIRST for second in _SECOND]
    rng.shuffle(phrases)
    keywords: list[str] = phrases[: count * 2 // 3]
    coined: set[str] = set()
    while len(keywords) + len(coined) < count:
        coined.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))))
    return keywords + sorted(coined)


def extra_rule_specs(keywords: list[str]) -> list[RuleSpec]:
    categories = ("money", "contraband", "contact", "other")
    return [
        RuleSpec(f"Extra keyword {number}", categories[number % 4], "keywords", keyword)
        for number, keyword in enumerate(keywords)
    ]


def make_letter(
    rng: random.Random, length: int, corpus: dict[bool, list[str]], keywords: list[str]
) -> str:
    """A letter of about `length` characters (never more). About a third of the
    letters are risky: they carry a flagged example from the corpus or one of
    the extra keywords somewhere in them."""
    parts: list[str] = []
    size = 0
    while size < length:
        roll = rng.random()
        if roll < 0.2:
            part = rng.choice(corpus[False])
        elif roll < 0.23:
            part = rng.choice(_ACCENTED)
        else:
            part = " ".join(rng.sample(_SENTENCES, rng.randint(2, 5)))
        parts.append(part)
        size += len(part) + 2
    if rng.random() < 0.35:
        risky = (
            rng.choice(corpus[True])
            if rng.random() < 0.6
            else f"Have you heard of {rng.choice(keywords)}? Someone mentioned it."
        )
        parts.insert(rng.randrange(len(parts) + 1), risky)
    letter = "\n\n".join(parts)
    if rng.random() < 0.3:
        letter = letter.translate(_TYPOGRAPHIC)
    return letter[:length]


def make_letters(count: int, lengths: tuple[int, ...], keywords: list[str], seed: int = SEED):
    rng = random.Random(seed)  # noqa: S311 - made-up letters
    corpus: dict[bool, list[str]] = {False: [], True: []}
    for letter in load_corpus():
        corpus[letter.label == "harmful"].append(letter.text)
    return [make_letter(rng, rng.choice(lengths), corpus, keywords) for _ in range(count)]


def baseline_regex(specs: list[RuleSpec]) -> re.Pattern:
    """The naive screen: one `re` alternation of every keyword line."""
    keywords = sorted(
        {
            line.strip().lower()
            for spec in specs
            if spec.pattern_type == "keywords"
            for line in spec.pattern.splitlines()
            if line.strip()
        },
        key=len,
        reverse=True,
    )
    # A trailing * means "any ending" in the rules; give the baseline the same.
    alternatives = [
        re.escape(k[:-1]) + r"\w*" if k.endswith("*") else re.escape(k) for k in keywords
    ]
    return re.compile(rf"\b(?:{'|'.join(alternatives)})\b", re.IGNORECASE)


def _letters_per_second(screen, letters: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):  # best of a few rounds: the least disturbed by the machine
        started = time.perf_counter()
        for letter in letters:
            screen(letter)
        best = min(best, time.perf_counter() - started)
    return len(letters) / best


def _best_time_ms(screen, letter: str, rounds: int) -> float:
    """The best of `rounds` timings: the letter's own cost, not the machine's
    other work (the percentiles then spread over letters, not over noise)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        screen(letter)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def bench_screening(
    letter_count: int = LETTERS,
    long_letter_count: int = LONG_LETTERS,
    extra_keyword_count: int = EXTRA_KEYWORDS,
    rounds: int = 3,
) -> Iterator[Figure]:
    keywords = extra_keywords(extra_keyword_count)
    specs = load_default_rule_specs() + extra_rule_specs(keywords)
    started = time.perf_counter()
    rules = RuleSet(specs)
    rules.screen("warm up")  # builds the plan for the outbound scope
    yield "screening.compile_ms", (time.perf_counter() - started) * 1000, "ms"
    yield "screening.rules", len(specs), "rules"

    letters = make_letters(letter_count, LETTER_LENGTHS, keywords)
    yield "screening.letters", len(letters), "letters"
    yield "screening.mean_chars", statistics.mean(len(letter) for letter in letters), "chars"
    flagged = sum(1 for letter in letters if rules.screen(letter).hits)
    yield "screening.flagged_letters", flagged, "letters"

    def screen(letter: str) -> None:
        rules.screen(letter)

    baseline = baseline_regex(specs)

    def scan_with_re(letter: str) -> None:
        [(match.start(), match.end()) for match in baseline.finditer(letter)]

    engine_rate = _letters_per_second(screen, letters, rounds)
    baseline_rate = _letters_per_second(scan_with_re, letters, rounds)
    yield "screening.letters_per_s", engine_rate, "letters/s"
    yield "screening.re_baseline_letters_per_s", baseline_rate, "letters/s"
    yield "screening.speedup_vs_re", engine_rate / baseline_rate, "x"

    long_letters = make_letters(long_letter_count, (LONG_LETTER_CHARS,), keywords, SEED + 1)
    for letter in long_letters:  # steady state: keyword rules compile on first use
        rules.screen(letter)
    timings = [_best_time_ms(rules.screen, letter, rounds) for letter in long_letters]
    yield "screening.p50_ms", statistics.median(timings), "ms"
    yield "screening.p95_ms", percentile(timings, 0.95), "ms"


def bench_screening_corpus() -> Iterator[Figure]:
    """Catch rate, false alarms and per-category precision and recall on the
    labelled corpus (devtools.screening.corpus), per language:

    - `screening.corpus.rules.<split>`: the default rules alone, plainly;
    - `screening.corpus.cv.tuning`: the rules with the statistical signal,
      the signal by 5-fold cross-validation (each letter scored by a model
      that did not train on it);
    - `screening.corpus.shipped.held_out`: the rules with the shipped signal
      on the held-out letters, which neither ever saw.
    """
    # scikit-learn loads only for this benchmark: the others run without it.
    from devtools.screening.training import THRESHOLD, cross_validated_scores

    letters = load_corpus()
    tuning = [letter for letter in letters if letter.split == "tuning"]
    held_out = [letter for letter in letters if letter.split == "held_out"]
    rules_alone = RuleSet(load_default_rule_specs())
    yield "screening.corpus.tuning_letters", len(tuning), "letters"
    yield "screening.corpus.held_out_letters", len(held_out), "letters"
    yield from evaluate(rules_alone, tuning).figures("screening.corpus.rules.tuning")
    yield from evaluate(rules_alone, held_out).figures("screening.corpus.rules.held_out")
    scores = cross_validated_scores(tuning)
    yield from evaluate(rules_alone, tuning, signal_scores=scores, threshold=THRESHOLD).figures(
        "screening.corpus.cv.tuning"
    )
    yield from evaluate(default_ruleset(), held_out).figures("screening.corpus.shipped.held_out")
