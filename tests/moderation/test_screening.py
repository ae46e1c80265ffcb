"""The screening engine: normalisation, evasions, word boundaries, RE2, risk,
scopes, facility rules, the rule model, its admin and the compiled-rule cache;
and its fast paths (ASCII folding, the Aho-Corasick keyword pass, the RE2 set
of regex rules) against a straightforward reference on generated texts."""

from __future__ import annotations

import random
import re
import time
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from moderation import screening
from moderation.active_rules import database_ruleset, screen_text
from moderation.models import ScreeningRule
from moderation.screening import (
    RuleError,
    RuleSet,
    RuleSpec,
    compile_rule,
    default_ruleset,
    load_default_rule_specs,
    normalise,
)
from tests.factories import FacilityFactory, UserFactory, activate_totp


def keyword_rules(*keywords: str, category: str = "money", **kwargs) -> RuleSet:
    return RuleSet(
        [RuleSpec("test", category, "keywords", "\n".join(keywords), **kwargs)],
    )


def matches(ruleset: RuleSet, text: str, **kwargs) -> list[str]:
    return [hit.match for hit in ruleset.screen(text, **kwargs).hits]


# --- Normalisation and original spans ------------------------------------------------


def test_it_folds_case_accents_and_full_width_letters():
    assert normalise("ÇÁSH ＡＰＰ").text == "cash app"


def test_it_reports_spans_of_the_original_text():
    text = "Ｈｅｙ — my C\u200bA\u00adSH-APP is ready"
    [hit] = keyword_rules("cash app").screen(text).hits
    assert text[hit.start : hit.end] == hit.match == "C\u200bA\u00adSH-APP"


def test_it_joins_letter_spaced_words_and_maps_them_back():
    text = "pay me on c a s h a p p or c.a.s.h app"
    hits = keyword_rules("cash app").screen(text).hits
    assert [text[h.start : h.end] for h in hits] == ["c a s h a p p", "c.a.s.h app"]


# --- Evasions and word boundaries ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["CashApp", "cash app", "cash-app", "CASH  APP", "cash_app", "c a s h a p p", "c-a-s-h-a-p-p"],
)
def test_it_is_not_fooled_by_case_spaces_or_separators(text):
    assert matches(keyword_rules("cash app"), f"send it to my {text} today") == [text]


def test_it_catches_cashtags_with_the_default_rules():
    result = default_ruleset().screen("my tag is $JaneDoe99, thanks")
    assert [(h.category, h.match) for h in result.hits] == [("money", "$JaneDoe99")]
    assert default_ruleset().screen("it costs $100 at the store").hits == ()


@pytest.mark.parametrize(
    "text", ["the bailiff", "scatter the seeds", "a cashew", "Sussex", "Gunther", "bondage"]
)
def test_it_does_not_flag_words_that_merely_contain_a_keyword(text):
    rules = keyword_rules("bail", "cat", "cash", "sex", "gun", "bond")
    assert rules.screen(text).hits == ()


def test_it_accepts_plurals_and_trailing_wildcards():
    rules = keyword_rules("gift card", "smuggl*")
    assert matches(rules, "two gift cards, smuggling, smuggled") == [
        "gift cards",
        "smuggling",
        "smuggled",
    ]


def test_it_returns_every_hit_with_category_rule_and_span():
    text = "Venmo me or call 614-555-0199"
    result = default_ruleset().screen(text)
    assert [(h.category, h.rule, h.start, h.end, h.match) for h in result.hits] == [
        ("money", "Payment apps and money transfer services", 0, 5, "Venmo"),
        ("contact", "Phone numbers", 17, 29, "614-555-0199"),
    ]


# --- RE2 --------------------------------------------------------------------------------


def test_it_refuses_patterns_re2_cannot_compile_with_the_reason():
    with pytest.raises(RuleError, match="missing \\)"):
        compile_rule("regex", "(unclosed")
    with pytest.raises(RuleError, match="invalid perl operator"):
        compile_rule("regex", "(?<=cash)app")


def test_it_refuses_patterns_that_match_empty_text():
    with pytest.raises(RuleError, match="empty text"):
        compile_rule("regex", "a*")


def test_it_screens_catastrophic_patterns_in_linear_time():
    # (a+)+$ backtracks exponentially in Python's re on this input; RE2 does not.
    rules = RuleSet([RuleSpec("evil", "other", "regex", "(a+)+$")])
    started = time.monotonic()
    result = rules.screen("a" * 100_000 + "!")
    assert time.monotonic() - started < 2
    assert result.hits == ()


def test_it_matches_regexes_case_insensitively_on_normalised_text():
    rules = RuleSet([RuleSpec("r", "other", "regex", r"hello\s+world")])
    assert matches(rules, "HÉLLO   World") == ["HÉLLO   World"]


# --- Risk, scopes, facilities --------------------------------------------------------------


def test_it_scores_risk_as_the_capped_sum_of_category_weights():
    rules = default_ruleset()
    assert rules.screen("Lovely weather today.").risk == 0
    assert rules.screen("venmo venmo venmo").risk == screening.CATEGORY_WEIGHTS["money"]
    both = rules.screen("venmo or call 614-555-0199")
    assert both.risk == screening.CATEGORY_WEIGHTS["money"] + screening.CATEGORY_WEIGHTS["contact"]
    assert both.categories == ["money", "contact"]
    assert rules.screen("I will kill you, venmo me, gun, escape plan").risk == 100


def test_it_reports_the_strongest_action():
    rules = RuleSet(
        [
            RuleSpec("a", "other", "keywords", "hello", action="flag"),
            RuleSpec("b", "threat", "keywords", "world", action="reject"),
        ]
    )
    assert rules.screen("hello world").action == "reject"
    assert rules.screen("hello").action == "flag"
    assert rules.screen("nothing").action == ""


def test_it_applies_rules_only_in_their_scope():
    rules = RuleSet(
        [
            RuleSpec("in", "other", "keywords", "inword", scope="inbound"),
            RuleSpec("letters", "other", "keywords", "letterword", scope="letters"),
            RuleSpec("profile", "other", "keywords", "profileword", scope="profile"),
        ]
    )
    text = "inword letterword profileword"
    assert matches(rules, text, scope="outbound") == ["letterword"]
    assert matches(rules, text, scope="inbound") == ["inword", "letterword"]
    assert matches(rules, text, scope="profile") == ["profileword"]
    with pytest.raises(ValueError):
        rules.screen(text, scope="letters")


def test_it_adds_facility_rules_to_the_global_ones():
    rules = RuleSet(
        [
            RuleSpec("global", "money", "keywords", "venmo"),
            RuleSpec("local", "contraband", "keywords", "crayons", facility_id=7),
        ]
    )
    text = "venmo and crayons"
    assert matches(rules, text, facility_id=7) == ["venmo", "crayons"]
    assert matches(rules, text, facility_id=8) == ["venmo"]
    assert matches(rules, text) == ["venmo"]


def test_it_screens_rule_by_rule_when_one_automaton_would_be_too_big(monkeypatch):
    monkeypatch.setattr(screening, "SET_MAX_MEM", 1024)
    rules = RuleSet(load_default_rule_specs())
    assert rules.screen("venmo me").categories == ["money"]
    # The regex rules, which the RE2 set would have chosen, still run.
    assert rules.screen("call 614-555-0199 or see www.example.org").categories == ["contact"]


# --- The fast paths ---------------------------------------------------------------------


def test_it_folds_expanding_and_vanishing_characters_with_exact_spans():
    text = "a ﬁsh, an ST\u200bRAẞE and ｃ-a-s-h\u00ad a p p"
    assert normalise(text).text == "a fish, an strasse and cashapp"
    hits = keyword_rules("fish", "strasse", "cash app").screen(text).hits
    assert [text[h.start : h.end] for h in hits] == ["ﬁsh", "ST\u200bRAẞE", "ｃ-a-s-h\u00ad a p p"]


def test_it_finds_keywords_with_letters_outside_ascii():
    # The keyword pass cannot hold them, so their rule is scanned for every text.
    rules = keyword_rules("smørrebrød", "brød")
    assert matches(rules, "SMØRREBRØD, a brød and a smørrebrødet") == ["SMØRREBRØD", "brød"]


def test_it_finds_phrases_longer_than_the_keyword_literals():
    rules = keyword_rules("go back to your country", "foo* bar baz")
    text = "GO-BACK to  your_country, foolish bar baz"
    assert matches(rules, text) == ["GO-BACK to  your_country", "foolish bar baz"]
    assert matches(rules, "go back to your countryside") == []


def test_it_checks_word_endings_after_the_keyword_literals():
    rules = keyword_rules("gun", "k2", "1488", "smuggl*")
    # One word per text: another hit would make the rule a candidate anyway.
    for word in ["gun", "guns", "gunes", "k2", "1488", "smuggler", "smuggl"]:
        assert matches(rules, f"a {word}.") == [word]
    for word in ["gunshot", "gunesx", "k2s", "14888", "k2_"]:
        assert matches(rules, f"a {word}.") == []


def test_it_skips_a_keyword_rule_too_big_for_re2_and_says_so(caplog):
    # The admin refuses such a rule (compile_rule); one saved around it must not
    # stop screening, and its regex is only compiled when a letter needs it.
    huge = "\n".join(f"word{number} other{number}" for number in range(300))
    with pytest.raises(RuleError, match="too large"):
        compile_rule("keywords", huge)
    rules = RuleSet(
        [
            RuleSpec("Huge", "other", "keywords", huge),
            RuleSpec("Venmo", "money", "keywords", "venmo"),
        ]
    )
    assert rules.screen("word7 other7 and venmo").categories == ["money"]
    assert "Huge" in caplog.text and "too large" in caplog.text


def reference_normalise(text: str) -> tuple[str, list[int]]:
    """normalise() done the obvious way: every character folded on its own
    (ignorables dropped, lookalikes read as Latin), the letter- and
    digit-spacing patterns run over the whole text, one origin per character."""
    characters, origin = [], []
    lookalikes = screening._latin_lookalikes()
    for index, character in enumerate(text):
        if unicodedata.category(character) == "Cf" or screening._IGNORABLE.match(character):
            continue
        decomposed = unicodedata.normalize("NFKD", character)
        for letter in (c for c in decomposed if not unicodedata.combining(c)):
            latin = lookalikes.get(letter) or lookalikes.get(letter.casefold())
            for folded in latin or "".join(lookalikes.get(c, c) for c in letter.casefold()):
                characters.append(folded)
                origin.append(index)
    folded_text = "".join(characters)
    spaced_runs = [
        *screening._LETTER_SPACED.finditer(folded_text),
        *screening._DIGIT_SPACED.finditer(folded_text),
    ]
    # Inside a run the separators go, except that a gap wider than the run's
    # narrowest one is a word break and reads as one space.
    dropped, spaces = set(), set()
    for run in spaced_runs:
        gaps = list(re.finditer(r"[ \t.\-_*|/+~']+", folded_text[run.start() : run.end()]))
        narrowest = min(len(gap.group()) for gap in gaps)
        for gap in gaps:
            start, end = run.start() + gap.start(), run.start() + gap.end()
            dropped.update(range(start, end))
            if end - start > narrowest:
                spaces.add(start)
    characters_out, origin_out = [], []
    for index in range(len(folded_text)):
        if index in spaces:
            characters_out.append(" ")
            origin_out.append(origin[index])
        elif index not in dropped:
            characters_out.append(folded_text[index])
            origin_out.append(origin[index])
    return "".join(characters_out), origin_out


def reference_screen(compiled, text: str, scope: str, facility_id: int | None) -> list[tuple]:
    """Every applicable rule's own RE2 regex over the whole normalised text,
    then over its leetspeak views where the same rule did not already hit."""
    normalised, origin = reference_normalise(text)

    def hits_in(view: str, offset: int = 0) -> list[tuple]:
        found = []
        for spec, regex in compiled:
            if not spec.applies_to(scope, facility_id):
                continue
            for match in regex.finditer(view):
                if match.end() > match.start():
                    start = origin[offset + match.start()]
                    end = origin[offset + match.end() - 1] + 1
                    found.append((start, end, spec.category, spec.name, text[start:end]))
        return found

    hits = hits_in(normalised)
    plain = list(hits)
    for offset, view in screening.leet_views(normalised):
        hits.extend(
            hit
            for hit in hits_in(view, offset)
            if not any(p[3] == hit[3] and p[0] < hit[1] and hit[0] < p[1] for p in plain)
        )
    written = screening.normalise(text)
    for view in (screening.address_view(written), screening.number_view(written)):
        if view is None:
            continue
        for spec, regex in compiled:
            if not spec.applies_to(scope, facility_id):
                continue
            for match in regex.finditer(view.text):
                if match.end() > match.start():
                    start, end = view.original_span(match.start(), match.end())
                    while end < len(text) and text[end].isalpha():
                        end += 1
                    hits.append((start, end, spec.category, spec.name, text[start:end]))
    return sorted(set(hits))


GENERATED_PIECES = [
    "cash", "app", "bail", "bailiff", "Sussex", "begun", "guns", "i'm a", "c a s h a p p",
    "c.a.s.h", "$JaneDoe", "614-555-0199", "me@example.org", "www.x.com", "12 Elm Street",
    "@jane", "kill you", "ß", "ẞ", "ﬁ", "\u200b", "\u00ad", "é", "É", "’", "“", "—", "ø", "ж", "①",
    "²", "Ｃａｓｈ", "K", "ſ", "İ", "_", "-", ".", " ", "   ", "    ", "s", "es", "1", "a b",
    "\t", "\n", "'", "*", "|", "/", "~", "hello world", "crayons", "dело",
    "\u2063", "\u200e", "\ufe0f", "\u034f", "vеnmo", "ο", "5 5 5 8 6 7 5 3 0 9", "1-2-3-4-5-6-7",
    "c4$h", "k1ll", "ki11", "v3nm0", "m0n3y", "$", "@", "0", "1", "3", "4", "5", "7",
    "five five five eight six seven five three oh nine", "cinco, ", "nueve ", "one ", "7, ",
    "tom arroba gmail punto com", "ana [at] mail (dot) org", " at ", " dot com", "punto",
    "VΕNMO", "Ο", "Ѕ",
]  # fmt: skip


def generated_text(rng: random.Random, keywords: list[str]) -> str:
    """Keywords (disguised with case, separators and letter-spacing), evasions,
    near misses and odd characters, run together."""
    parts = []
    for _ in range(rng.randint(1, 20)):
        roll = rng.random()
        if roll < 0.35:
            keyword = rng.choice(keywords).replace("*", rng.choice(["", "ing", "ed"]))
            if rng.random() < 0.3:
                keyword = rng.choice(["-", "_", ".", "  ", "’", "—", ""]).join(keyword.split(" "))
            if rng.random() < 0.2:
                keyword = " ".join(keyword)
            if rng.random() < 0.3:
                keyword = keyword.upper()
            parts.append(keyword)
        elif roll < 0.85:
            parts.append(rng.choice(GENERATED_PIECES))
        else:
            parts.append("".join(rng.choices("abcdeklmnsxyz  .-'é’ß2", k=rng.randint(1, 8))))
    return "".join(rng.choice(["", " ", " ", "-"]) + part for part in parts)


def test_it_screens_generated_texts_exactly_like_the_reference():
    specs = [
        *load_default_rule_specs(),
        RuleSpec("Wildcards", "other", "keywords", "smuggl* it in\nfoo* bar baz qux\nfish*"),
        RuleSpec("Digits", "other", "keywords", "1488\nk2\n3 way call\nab12"),
        RuleSpec("Foreign", "hate", "keywords", "дело\nstraße\nﬁsh"),
        RuleSpec("Local", "contraband", "keywords", "crayons", facility_id=3),
        RuleSpec("Profile", "other", "regex", r"hello\s+world", scope="profile"),
    ]
    compiled = [(spec, compile_rule(spec.pattern_type, spec.pattern)) for spec in specs]
    keywords = [
        line.strip()
        for spec in specs
        if spec.pattern_type == "keywords"
        for line in spec.pattern.splitlines()
    ]
    rules = RuleSet(specs)
    rng = random.Random(5)
    texts = [generated_text(rng, keywords) for _ in range(300)]
    texts += ["", "plain ascii, nothing to see", "Ünïcödé only — “quotes”"]
    hit_count = 0
    for text in texts:
        expected_text, expected_origin = reference_normalise(text)
        normalised = normalise(text)
        assert normalised.text == expected_text, text
        assert [normalised.origin[i] for i in range(len(expected_text))] == expected_origin, text
        for scope, facility_id in [("outbound", None), ("inbound", 3), ("profile", None)]:
            expected = reference_screen(compiled, text, scope, facility_id)
            result = rules.screen(text, scope=scope, facility_id=facility_id)
            found = [(h.start, h.end, h.category, h.rule, h.match) for h in result.hits]
            assert found == expected, (text, scope)
            hit_count += len(found)
    assert hit_count > 1000  # the texts do exercise the rules


# --- The shipped rule file ---------------------------------------------------------------


def test_it_ships_rules_for_every_required_topic():
    rules = default_ruleset()
    for text, category in [
        ("Cash App", "money"), ("Venmo", "money"), ("PayPal", "money"), ("Zelle", "money"),
        ("JPay", "money"), ("Western Union", "money"), ("MoneyGram", "money"),
        ("Green Dot", "money"), ("gift cards", "money"), ("send me money", "money"),
        ("put $40 on my books", "money"), ("post my bail", "money"), ("bond money", "money"),
        ("(614) 555-0199", "contact"), ("+1 614 555 0199", "contact"),
        ("me@example.org", "contact"), ("https://example.org/x", "contact"),
        ("12 Elm Street", "contact"), ("add me on snapchat", "contact"), ("@jane_doe", "contact"),
        ("nudes", "explicit"), ("I will kill you", "threat"), ("send me some heroin", "contraband"),
        ("get me a gun", "contraband"), ("bring a cell phone in here", "contraband"),
        ("escape plan", "escape"), ("white power", "hate"),
        ("Mándame una lana a mi cuenta", "money"), ("pásame tu número de cel", "contact"),
        ("mándame fotos sin ropa", "explicit"), ("ya sé dónde vive tu mamá", "threat"),
        ("rocía la carta con K2", "contraband"), ("plan de fuga", "escape"),
        ("supremacía blanca", "hate"),
    ]:  # fmt: skip
        assert category in rules.screen(text).categories, text


def test_it_ships_rules_that_all_compile_and_have_unique_names():
    specs = load_default_rule_specs()
    assert len({spec.name for spec in specs}) == len(specs)
    for spec in specs:
        compile_rule(spec.pattern_type, spec.pattern)


# --- Rules in the database -------------------------------------------------------------------


@pytest.mark.django_db
def test_it_loads_the_rule_file_into_the_database_by_migration():
    # Run the data migration for real (backwards, then forwards) inside the
    # test's transaction, so the check does not depend on what earlier
    # transactional tests left in the reused test database.
    executor = MigrationExecutor(connection)
    executor.migrate([("moderation", "0003_screeningrule")])
    ScreeningRule.objects.all().delete()
    with connection.cursor() as cursor:
        # Later migrations alter the table: run the delete's deferred checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor.loader.build_graph()
    [latest] = executor.loader.graph.leaf_nodes("moderation")
    executor.migrate([latest])

    in_database = {
        rule.as_spec() for rule in ScreeningRule.objects.filter(facility=None, is_active=True)
    }
    assert in_database == set(load_default_rule_specs())
    assert ScreeningRule.objects.count() == len(load_default_rule_specs())


@pytest.mark.django_db
def test_it_refuses_a_bad_regex_in_model_validation():
    rule = ScreeningRule(name="bad", category="other", pattern_type="regex", pattern="(a|b")
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert "RE2 cannot compile this pattern: missing )" in str(caught.value.message_dict["pattern"])


@pytest.mark.django_db
def test_it_recompiles_only_when_a_rule_changes(django_assert_num_queries):
    database_ruleset()
    with django_assert_num_queries(1):  # the version check only
        first = database_ruleset()
    assert database_ruleset() is first

    rule = ScreeningRule.objects.create(
        name="Crayons", category="contraband", pattern_type="keywords", pattern="crayons"
    )
    second = database_ruleset()
    assert second is not first
    assert screen_text("send crayons").categories == ["contraband"]

    rule.is_active = False
    rule.save(update_fields=["is_active", "updated_at"])
    assert screen_text("send crayons").categories == []

    rule.is_active = True
    rule.save()
    assert screen_text("send crayons").categories == ["contraband"]
    rule.delete()
    assert screen_text("send crayons").categories == []


def test_it_screens_with_a_facilitys_rules_from_the_database(default_screening_rules):
    facility, other = FacilityFactory(), FacilityFactory()
    ScreeningRule.objects.create(
        name="No crayons", category="contraband", pattern="crayons", facility=facility
    )
    text = "venmo and crayons"
    assert screen_text(text, facility_id=facility.pk).categories == ["money", "contraband"]
    assert screen_text(text, facility_id=other.pk).categories == ["money"]


@pytest.mark.django_db
def test_it_skips_a_stored_rule_that_does_not_compile(caplog):
    # Written around the admin's validation (a shell, a bulk import).
    ScreeningRule.objects.create(name="Broken", category="other", pattern_type="regex", pattern="(")
    ScreeningRule.objects.create(name="Crayons", category="contraband", pattern="crayons")
    assert screen_text("send crayons").categories == ["contraband"]
    assert "Broken" in caplog.text


# --- The admin --------------------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    user = UserFactory(is_staff=True, is_superuser=True, email="root@example.org")
    activate_totp(user)
    return user


def test_it_lets_admins_add_rules_and_refuses_bad_regexes(client, superuser):
    client.force_login(superuser)
    url = reverse("admin:moderation_screeningrule_add")
    assert client.get(url).status_code == 200
    form = {
        "name": "Lookbehind",
        "category": "other",
        "pattern_type": "regex",
        "pattern": "(?<=a)b",
        "action": "flag",
        "scope": "all",
        "is_active": "on",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "RE2 cannot compile this pattern: invalid perl operator" in response.content.decode()
    assert not ScreeningRule.objects.filter(name="Lookbehind").exists()

    response = client.post(url, {**form, "pattern": r"crayon\w*"})
    assert response.status_code == 302
    assert ScreeningRule.objects.filter(name="Lookbehind", pattern=r"crayon\w*").exists()
    changelist = reverse("admin:moderation_screeningrule_changelist")
    assert client.get(changelist, {"q": "crayon", "category": "other"}).status_code == 200


def test_it_keeps_moderators_out_of_the_rules(client, moderator_with_mfa):
    client.force_login(moderator_with_mfa)
    rule = ScreeningRule.objects.create(name="Crayons", category="other", pattern="crayons")
    assert client.get(reverse("admin:moderation_screeningrule_changelist")).status_code == 403
    assert client.get(reverse("admin:moderation_screeningrule_add")).status_code == 403
    change = reverse("admin:moderation_screeningrule_change", args=[rule.pk])
    assert client.post(change, {"name": "x"}).status_code == 403


def test_it_keeps_anonymous_visitors_out_of_the_rules(client, db):
    response = client.get(reverse("admin:moderation_screeningrule_changelist"))
    assert response.status_code == 302
