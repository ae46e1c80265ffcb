"""`manage.py bench` (make bench) runs every benchmark in devtools.benchmarks once."""

from __future__ import annotations

import importlib
import pkgutil

import devtools.benchmarks
from devtools.management.commands.bench import BENCHMARK_MODULES


def test_it_runs_every_benchmark_once():
    run = [
        f"{module_name}.{name}"
        for module_name in BENCHMARK_MODULES
        for name, value in vars(importlib.import_module(module_name)).items()
        if name.startswith("bench_") and callable(value)
    ]
    defined = [
        f"{value.__module__}.{name}"
        for module in pkgutil.iter_modules(devtools.benchmarks.__path__, "devtools.benchmarks.")
        for name, value in vars(importlib.import_module(module.name)).items()
        if name.startswith("bench_") and callable(value)
    ]
    assert sorted(run) == sorted(set(defined))
    assert len(run) == len(set(run))
