"""Screen text files (or standard input) against the screening rules.

    python manage.py screen [--rules default|db] [--scope outbound|inbound|profile]
                            [--json] PATH... | -

`--rules default` uses the shipped rule file and never opens the database;
`--rules db` (the default) uses the active rules in the database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from moderation.active_rules import database_ruleset
from moderation.alerts import alert_text
from moderation.screening import TEXT_SCOPES, RuleSet, default_ruleset


class Command(BaseCommand):
    help = "Screen text files (or - for standard input) and print their hits and risk."
    # System checks may touch the database; `--rules default` must work without one.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="text files, or - for stdin")
        parser.add_argument("--rules", choices=["default", "db"], default="db")
        parser.add_argument("--scope", choices=TEXT_SCOPES, default="outbound")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, **options) -> None:
        ruleset: RuleSet = (
            default_ruleset() if options["rules"] == "default" else database_ruleset()
        )
        for source in options["paths"]:
            text = self._read(source)
            result = ruleset.screen(text, scope=options["scope"])
            if options["json"]:
                line = {
                    "source": source,
                    "risk": result.risk,
                    "categories": result.categories,
                    "hits": [hit.as_dict() for hit in result.hits],
                    "disguises": list(result.disguises),
                    "language": result.language.code,
                    "language_confidence": result.language.confidence,
                    "machine_screened": result.machine_screened,
                    "signal": round(result.signal, 3),
                    "needs_a_person": result.needs_a_person,
                }
                self.stdout.write(json.dumps(line, ensure_ascii=False))
                continue
            categories = ", ".join(result.categories) or "clean"
            self.stdout.write(f"{source}: risk {result.risk} ({categories})")
            if result.machine_screened:
                language = result.language
                self.stdout.write(f"  language   {language.name} ({language.confidence:.2f})")
            else:
                self.stdout.write(
                    f"  language   {alert_text(result.not_screened_alert) if result.not_screened_alert else ''}"
                )
            if result.signal_threshold < 1:
                level = "held for a person" if result.signal_high else "low"
                self.stdout.write(f"  signal     {result.signal:.2f} ({level})")
            for hit in result.hits:
                read_as = f"  read as {hit.read_as!r}" if hit.read_as else ""
                self.stdout.write(
                    f"  {hit.category:<10} {hit.start}-{hit.end} {hit.match!r}  [{hit.rule}]{read_as}"
                )
            for disguise in result.disguises:
                self.stdout.write(f"  disguised  {alert_text(disguise)}")

    def _read(self, source: str) -> str:
        if source == "-":
            return sys.stdin.read()
        try:
            return Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{source}: {exc}") from exc
