"""Foundation benchmarks: page latency through the whole Django stack."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

Figure = tuple[str, float | int, str]


def _time_requests(client: Client, path: str, count: int) -> list[float]:
    client.get(path)  # warm caches and connections
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def bench_pages() -> Iterator[Figure]:
    client = Client(SERVER_NAME="localhost")
    for name, path in [("home", "/"), ("safety", "/safety/"), ("healthz", "/healthz")]:
        timings = _time_requests(client, path, 200)
        yield f"page.{name}.p50", statistics.median(timings), "ms"
        yield f"page.{name}.p95", percentile(timings, 0.95), "ms"
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        yield f"page.{name}.queries", len(queries), "queries"
