"""Run every benchmark and print one line per figure: `metric.name value unit`.

A benchmark is a function named `bench_*` in one of BENCHMARK_MODULES; it
yields (metric name, value, unit) tuples.
"""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand

# In the order they run: the load run seeds the 100,000 profiles that the
# directory benchmark then reuses.
BENCHMARK_MODULES = (
    "devtools.benchmarks.load",
    "devtools.benchmarks.pages",
    "devtools.benchmarks.directory",
    "devtools.benchmarks.backup",
    "devtools.benchmarks.moderation_queue",
    "devtools.benchmarks.screening",
    "devtools.benchmarks.printing",
    "devtools.benchmarks.intake",
)


class Command(BaseCommand):
    help = "Run the project's benchmarks (make bench)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "-k", dest="keyword", default="", help="Only benchmarks whose name contains this."
        )

    def handle(self, *args, keyword: str, **options) -> None:
        for module_name in BENCHMARK_MODULES:
            module = importlib.import_module(module_name)
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
