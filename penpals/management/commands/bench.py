"""Run every benchmark and print one line per figure: `metric.name value unit`.

A benchmark is a function named `bench_*` in an installed app's
`benchmarks.py`; it yields (metric name, value, unit) tuples.
"""

from __future__ import annotations

import importlib

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the project's benchmarks (make bench)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "-k", dest="keyword", default="", help="Only benchmarks whose name contains this."
        )

    def handle(self, *args, keyword: str, **options) -> None:
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{config.name}.benchmarks")
            except ModuleNotFoundError as exc:
                if exc.name == f"{config.name}.benchmarks":
                    continue
                raise
            for name in sorted(dir(module)):
                if not name.startswith("bench_") or keyword not in name:
                    continue
                for metric, value, unit in getattr(module, name)():
                    self.stdout.write(
                        f"{metric} {value:.3f} {unit}"
                        if isinstance(value, float)
                        else f"{metric} {value} {unit}"
                    )
                    self.stdout.flush()
