"""Dependency checks behind /healthz.

The public check is cheap and writes nothing: anyone may call it, as often as
they like (load balancers every few seconds). It asks the database and Redis,
and reports the storages as the last *deep* check found them, with its age.
The deep check writes and deletes a tiny file in both storages (an S3 PUT and
DELETE in production); it runs on beat's schedule (penpals.tasks.
check_storage) and for a caller who presents HEALTHZ_DEEP_TOKEN.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import SupportsFloat, cast

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from penpals.http import has_bearer_token
from penpals.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
STORAGE_CHECK_KEY = "healthz:storage-check"


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_redis() -> str:
    if not settings.REDIS_URL:
        return "disabled"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_storage() -> str:
    """Write and delete a tiny file in both storages: proves credentials and space."""
    for alias in ("default", "private"):
        storage = storages[alias]
        name = storage.save(f"healthz/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
        storage.delete(name)
    return "ok"


def record_storage_check() -> str:
    """Run the deep storage check and keep its result for the public check.

    Writes to both storages: the caller is beat or an allowed caller
    (see is_deep_check_requested), never an anonymous request."""
    try:
        state = check_storage()
    except Exception as exc:
        logger.warning("health check failed", extra={"dependency": "storage", "error": str(exc)})
        state = "down"
    # Kept past staleness, so the public check can say how old it is.
    cache.set(STORAGE_CHECK_KEY, {"state": state, "at": timezone.now().isoformat()}, 86400)
    return state


def _storage_check_stale_after() -> timedelta:
    # Three of beat's rounds: older means beat (or the worker) stopped, not
    # that storage is down.
    schedule = settings.CELERY_BEAT_SCHEDULE.get("check-storage", {}).get("schedule", 300.0)
    # Seconds, as settings gives every beat schedule; its entries mix them with
    # task names, so mypy reads the value as object.
    return timedelta(seconds=3 * float(cast(SupportsFloat, schedule)))


def last_storage_check() -> tuple[str, int | None]:
    """The storages' state as the last deep check found it, and its age in
    seconds: "ok" or "down", "stale" when too old to speak for now, or
    "not checked yet" (None for the age). Reads the cache, writes nothing."""
    record = cache.get(STORAGE_CHECK_KEY)
    if not isinstance(record, dict):
        return "not checked yet", None
    try:
        checked_at = datetime.fromisoformat(record["at"])
        state = str(record["state"])
    except (KeyError, TypeError, ValueError):
        return "not checked yet", None
    age = timezone.now() - checked_at
    seconds = max(int(age.total_seconds()), 0)
    if age > _storage_check_stale_after():
        return "stale", seconds
    return state, seconds


def is_deep_check_requested(request: HttpRequest) -> bool:
    """Whether this caller asked for the deep check and may have it.

    No token: the public check. The right token (`Authorization: Bearer
    <HEALTHZ_DEEP_TOKEN>`): the deep check. Any other token, or any token
    while HEALTHZ_DEEP_TOKEN is unset: PermissionDenied (403). A header and
    not a query parameter, so the token stays out of access logs. Loopback
    addresses get nothing special: behind a proxy on the same host every
    request comes from 127.0.0.1."""
    return has_bearer_token(request, settings.HEALTHZ_DEEP_TOKEN, "health check")


def _checks(deep: bool) -> dict:
    # Each check returns a state string or raises; a raise means "down".
    # The public check reads the last deep result instead of writing.
    storage = record_storage_check if deep else (lambda: last_storage_check()[0])
    return {"database": check_database, "redis": check_redis, "storage": storage}


def run_checks(*, deep: bool = False) -> tuple[dict[str, str], list[str]]:
    """Return each dependency's state and the names of those that are down.

    `deep=True` writes to both storages: only for beat or an allowed caller."""
    states: dict[str, str] = {}
    down: list[str] = []
    for name, check in _checks(deep).items():
        try:
            states[name] = check()
        except Exception as exc:
            logger.warning("health check failed", extra={"dependency": name, "error": str(exc)})
            states[name] = "down"
        if states[name] == "down":
            down.append(name)
    return states, down


def worker_state() -> str:
    """Informational only: a stale heartbeat does not make the web unhealthy."""
    try:
        latest = (
            WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
        )
    except Exception:
        return "unknown"
    if latest is None:
        return "no heartbeat yet"
    return "ok" if timezone.now() - latest < HEARTBEAT_STALE_AFTER else "stale"
