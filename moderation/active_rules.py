"""Screening with the rules in the database: the active rules, compiled once
per version of the rules, and the screen_text / screen_fields every letter
and profile goes through. (The engine itself, which knows no model, is
moderation.screening.)"""

from __future__ import annotations

import json
import logging

from django.db.models import Count, Max

from moderation import languages
from moderation.alerts import Alert
from moderation.models import ScreeningRule
from moderation.screening import (
    Hit,
    RuleError,
    RuleSet,
    ScreeningResult,
    check_rule,
    normalise,
)
from moderation.signal import shipped_model

logger = logging.getLogger(__name__)

# (version of the rules, their compiled RuleSet), swapped as one reference so a
# concurrent reader never pairs a version with another version's rules.
_database_cache: tuple[tuple, RuleSet] | None = None


def database_ruleset() -> RuleSet:
    """The active rules in the database, compiled once per version of the rules.

    The version is (count, newest updated_at, highest id) of all rules, read with
    one cheap query per call: any save, delete or (de)activation through the ORM
    changes it, in every process, without relying on a shared cache. A bulk
    `QuerySet.update()` of rules must set `updated_at` too.
    """
    global _database_cache
    version = tuple(
        ScreeningRule.objects.aggregate(
            count=Count("pk"), updated=Max("updated_at"), top=Max("pk")
        ).values()
    )
    cached = _database_cache
    if cached is not None and cached[0] == version:
        return cached[1]
    specs = []
    for rule in ScreeningRule.objects.filter(is_active=True):
        spec = rule.as_spec()
        try:
            check_rule(spec)
        except RuleError as exc:
            # The admin refuses such patterns; one written around it (a shell,
            # a bulk import) must not stop every letter from being screened.
            logger.error("Screening rule %s (%s) skipped: %s", rule.pk, rule.name, exc)
            continue
        specs.append(spec)
    ruleset = RuleSet(specs, shipped_model())
    _database_cache = (version, ruleset)
    return ruleset


def screen_text(
    text: str, *, scope: str = "outbound", facility_id: int | None = None
) -> ScreeningResult:
    """Screen `text` against the active database rules for `scope` (and the
    facility's own rules, when `facility_id` is given)."""
    return database_ruleset().screen(text, scope=scope, facility_id=facility_id)


def screen_fields(
    texts, *, scope: str = "profile", facility_id: int | None = None
) -> ScreeningResult:
    """Screen several texts (a profile's fields) each on its own, so that no
    hit spans two of them, as one result: every hit and disguise, and the
    language of them all together."""
    ruleset = database_ruleset()
    texts = [text for text in texts if text]
    hits: list[Hit] = []
    found: dict[str, Alert] = {}
    for text in texts:
        result = ruleset.screen(text, scope=scope, facility_id=facility_id)
        hits.extend(result.hits)
        # The same disguise in two fields is one alert.
        found.update((json.dumps(each, sort_keys=True), each) for each in result.disguises)
    together = "\n".join(texts)
    language = languages.detect(together, ruleset.languages)
    model = ruleset.signal_model
    return ScreeningResult(
        tuple(hits),
        tuple(found.values()),
        language=language,
        machine_screened=language.code in ruleset.languages,
        signal=model.score(normalise(together).text) if model and together else 0.0,
        signal_threshold=model.threshold if model else 1.0,
    )
