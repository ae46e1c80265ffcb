"""Dependency checks behind /healthz."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)


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


# Each check returns a state string or raises; a raise means "down".
CHECKS = {"database": check_database, "redis": check_redis, "storage": check_storage}


def run_checks() -> tuple[dict[str, str], list[str]]:
    """Return each dependency's state and the names of those that are down."""
    states: dict[str, str] = {}
    down: list[str] = []
    for name, check in CHECKS.items():
        try:
            states[name] = check()
        except Exception as exc:
            logger.warning("health check failed", extra={"dependency": name, "error": str(exc)})
            states[name] = "down"
            down.append(name)
    return states, down


def worker_state() -> str:
    """Informational only: a stale heartbeat does not make the web unhealthy."""
    from penpals.models import WorkerHeartbeat

    try:
        latest = (
            WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
        )
    except Exception:
        return "unknown"
    if latest is None:
        return "no heartbeat yet"
    return "ok" if timezone.now() - latest < HEARTBEAT_STALE_AFTER else "stale"
