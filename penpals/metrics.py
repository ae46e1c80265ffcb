"""The Prometheus endpoint (/metrics) and what the apps plug into it.

Three sources make one scrape:

- django-prometheus's request metrics (latency by view and the like), kept in
  this process, or in PROMETHEUS_MULTIPROC_DIR for all of gunicorn's
  processes together;
- the service's own gauges, computed at scrape time by the collectors the
  apps register here (`register_collector`, from their AppConfig.ready), so
  this core module imports no domain app;
- timings measured in the Celery worker (`Timing`), which the web process
  cannot see: the worker adds each one to bucket counters in Redis and the
  scrape reads them back as histograms, with the Celery queue lengths, in one
  Redis round trip.

A source that fails (the database, Redis) leaves its metrics out and sets
`penpals_metrics_source_up{source=...}` to 0; the scrape still answers 200.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import prometheus_client
import redis
from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from redis.backoff import NoBackoff
from redis.retry import Retry

from penpals.http import has_bearer_token

logger = logging.getLogger(__name__)

# Short: a scrape or a finished task must not wait on a Redis that is away.
REDIS_TIMEOUT_SECONDS = 1.0
TIMING_KEY_PREFIX = "penpals:metrics:timing:"

Collect = Callable[[], Iterable[Metric]]
_collectors: dict[str, Collect] = {}
_timings: dict[str, Timing] = {}
_redis_clients: dict[str, redis.Redis] = {}


# --- Who may scrape ----------------------------------------------------------------------


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from, as far as it can be trusted.

    REMOTE_ADDR, unless ALLAUTH_TRUSTED_PROXY_COUNT says N proxies stand in
    front: then the address the outermost of them saw, N entries from the
    right of X-Forwarded-For (entries further left are the client's to
    forge). None when the header has fewer entries than proxies declared,
    which means the request did not come through them.
    """
    proxies = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return request.META.get("REMOTE_ADDR") or None
    forwarded = [
        part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part
    ]
    if len(forwarded) < proxies:
        return None
    return forwarded[-proxies]


def _is_allowed_address(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(
        ip in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_IPS
    )


def check_scrape_access(request: HttpRequest) -> None:
    """Raise PermissionDenied unless this caller may read the metrics.

    With an Authorization header, only the right `Bearer <METRICS_TOKEN>`
    passes (any other token, or any token while METRICS_TOKEN is unset, is
    refused even from an allowed address: a monitor sending the wrong
    secret is misconfigured and should hear so). Without one, the client
    address must be in METRICS_ALLOWED_IPS.
    """
    if has_bearer_token(request, settings.METRICS_TOKEN, "metrics"):
        return
    if not _is_allowed_address(client_address(request)):
        raise PermissionDenied("Metrics are not served to this address.")


# --- What apps register ------------------------------------------------------------------


def register_collector(source: str, collect: Collect) -> None:
    """Add `collect` to every scrape, under the name `source`.

    `collect` runs in the scrape request and returns metric families
    (prometheus_client.core.*MetricFamily). It must make a small, constant
    number of queries, each served by an index, however big the tables grow.
    An exception leaves its metrics out of that scrape (logged, and
    `penpals_metrics_source_up{source=...}` 0). Registering the same source
    again replaces it.
    """
    _collectors[source] = collect


class Timing:
    """A histogram of durations measured in the worker, read back by the web.

    Declare one per thing timed, at import of a module both the worker and
    the web load (an app's metrics.py, imported by its tasks and its
    AppConfig.ready), and wrap the work in `with TIMING.time():`. Each
    observation is three Redis commands in one round trip: the count of its
    bucket, the total count and the sum, in one hash. When Redis is away the
    observation is dropped (logged), never the task.
    """

    def __init__(self, name: str, documentation: str, buckets: Iterable[float]):
        self.name = name
        self.documentation = documentation
        self.buckets = sorted(float(bound) for bound in buckets)
        self.key = TIMING_KEY_PREFIX + name
        _timings[name] = self

    def _bucket_field(self, seconds: float) -> str:
        for bound in self.buckets:
            if seconds <= bound:
                return floatToGoString(bound)
        return "+Inf"

    def observe(self, seconds: float) -> None:
        client = _redis_client()
        if client is None:
            return
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hincrby(self.key, self._bucket_field(seconds), 1)
            pipe.hincrby(self.key, "count", 1)
            pipe.hincrbyfloat(self.key, "sum", seconds)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            logger.warning("timing not recorded", extra={"metric": self.name, "error": str(exc)})

    @contextmanager
    def time(self) -> Iterator[None]:
        """Observe how long the block took, whether it returned or raised."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - started)

    def family(self, recorded: dict[bytes, bytes]) -> HistogramMetricFamily:
        """The histogram from the hash in Redis (empty when nothing was recorded)."""
        counts = {field.decode(): value for field, value in recorded.items()}
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound in [*map(floatToGoString, self.buckets), "+Inf"]:
            cumulative += int(counts.get(bound, 0))
            buckets.append((bound, cumulative))
        return HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=float(counts.get("sum", 0))
        )


def _redis_client() -> redis.Redis | None:
    """A client for REDIS_URL (the broker), made once per URL: its pool keeps
    the connection from one task or scrape to the next."""
    url = settings.REDIS_URL
    if not url:
        return None
    if url not in _redis_clients:
        # No retries: redis-py would otherwise back off and try again for seconds.
        _redis_clients[url] = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
    return _redis_clients[url]


def celery_queue_names() -> list[str]:
    """The queues tasks are sent to: Celery's default, and any configured."""
    conf = current_app.conf
    names = [conf.task_default_queue]
    for queue in conf.task_queues or ():
        if queue.name not in names:
            names.append(queue.name)
    return names


# --- The scrape --------------------------------------------------------------------------


class ServiceCollector:
    """The service's own metrics: the apps' collectors, then Redis's."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "penpals_metrics_source_up",
            "1 if the source answered this scrape; 0 if its metrics are left out.",
            labels=["source"],
        )
        for source, collect in _collectors.items():
            try:
                families = list(collect())
            except Exception as exc:
                logger.warning("metrics source failed", extra={"source": source, "error": str(exc)})
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        try:
            families = list(self._collect_redis())
        except (redis.RedisError, OSError) as exc:
            logger.warning("metrics source failed", extra={"source": "redis", "error": str(exc)})
            up.add_metric(["redis"], 0)
        else:
            up.add_metric(["redis"], 1)
            yield from families
        yield up

    def _collect_redis(self) -> Iterator[Metric]:
        client = _redis_client()
        if client is None:
            raise redis.ConnectionError("REDIS_URL is empty: no Redis to read")
        queues = celery_queue_names()
        timings = list(_timings.values())
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        for timing in timings:
            pipe.hgetall(timing.key)
        replies = pipe.execute()
        lengths = GaugeMetricFamily(
            "penpals_celery_queue_length",
            "Tasks waiting in a Celery queue (not yet taken by a worker).",
            labels=["queue"],
        )
        for queue, length in zip(queues, replies[: len(queues)], strict=True):
            lengths.add_metric([queue], length)
        yield lengths
        for timing, recorded in zip(timings, replies[len(queues) :], strict=True):
            yield timing.family(recorded)


SERVICE_COLLECTOR = ServiceCollector()


class _Scrape:
    """One scrape: the request metrics, then the service's."""

    def __init__(self, *sources):
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def request_metrics() -> prometheus_client.CollectorRegistry:
    """django-prometheus's metrics: this process's, or with
    PROMETHEUS_MULTIPROC_DIR set, every process's files merged (as
    django-prometheus's own export view does)."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def render_metrics() -> bytes:
    return prometheus_client.generate_latest(_Scrape(request_metrics(), SERVICE_COLLECTOR))


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus's text format, for an allowed address or the metrics token."""
    check_scrape_access(request)
    # generate_latest writes the classic 0.0.4 text format: say that one.
    return HttpResponse(render_metrics(), content_type=prometheus_client.CONTENT_TYPE_PLAIN_0_0_4)
