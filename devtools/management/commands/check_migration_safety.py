"""`manage.py check_migration_safety`: run by `make migrations-check` on an empty database."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from devtools.migration_safety import BASELINE_FILE, Finding, check_new_migrations


class Command(BaseCommand):
    help = (
        "Check the migrations not in devtools/migration_baseline.py for locks on big tables "
        'and changes the release still serving cannot live with (README "Safe migrations"). '
        "Needs an empty database, which it migrates step by step: use `make migrations-check`."
    )

    def handle(self, *args, **options) -> None:
        try:
            report = check_new_migrations(connection)
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        for finding in report.findings:
            self.print_finding(finding)
        for finding, reason in report.acknowledged:
            self.stdout.write(f"acknowledged: {finding.migration} {finding.code}: {reason}")
        self.stdout.write(
            f"{len(report.checked)} new migration(s) checked, {len(report.baseline)} in the "
            f"baseline ({BASELINE_FILE}); {len(report.errors)} error(s), "
            f"{len(report.warnings)} warning(s), {len(report.acknowledged)} acknowledged."
        )
        if report.errors:
            raise CommandError(
                'Unsafe migrations (above). Write the safe version (README "Safe migrations"), '
                f"or acknowledge the finding with a reason in {BASELINE_FILE}."
            )

    def print_finding(self, finding: Finding) -> None:
        style = self.style.ERROR if finding.is_error else self.style.WARNING
        label = "error" if finding.is_error else "warning"
        self.stdout.write(style(f"{label}: {finding.migration} {finding.code}: {finding.problem}"))
        self.stdout.write(f"    fix: {finding.fix}")
        if finding.statement:
            self.stdout.write(f"    sql: {finding.statement}")
