"""Account tasks and the one way this project enqueues work."""

from __future__ import annotations

import logging
import socket

from celery import Task, current_app, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from penpals import backup, health
from penpals.models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def task_named(name: str) -> Task:
    """The registered task called `name` ("messaging.tasks.screen_letter").

    Services name the tasks they enqueue instead of importing them, so an
    app's tasks module imports its services at the top and nothing imports a
    tasks module back (each AppConfig.ready imports its own, to register it).
    """
    return current_app.tasks[name]


def enqueue_on_commit(task: Task | str, *args, **kwargs) -> None:
    """Send `task` (a task or its registered name) to the broker once the
    current transaction commits.

    If the broker is unreachable the error is logged, not raised: the row that
    needs the work is already committed, and each feature's sweep task (beat)
    picks up rows whose task never ran. A user therefore never sees an error
    page because Redis is down.
    """
    name = task if isinstance(task, str) else task.name

    def send() -> None:
        try:
            (task_named(task) if isinstance(task, str) else task).delay(*args, **kwargs)
        except Exception:
            logger.exception("enqueue failed; the sweep will retry", extra={"task": name})

    transaction.on_commit(send)


@shared_task
def record_worker_heartbeat() -> str:
    """Record that a worker is alive (scheduled by beat every minute)."""
    worker = socket.gethostname()
    WorkerHeartbeat.objects.update_or_create(worker=worker, defaults={"seen_at": timezone.now()})
    return worker


@shared_task
def check_storage() -> str:
    """Write and delete a tiny file in both storages and record the result,
    which the public /healthz reports with its age (scheduled by beat)."""
    return health.record_storage_check()


@shared_task(
    # Not acknowledged late: Redis would hand a backup running past its
    # visibility timeout to a second worker. A lost run is caught next day.
    acks_late=False,
    soft_time_limit=settings.BACKUP_LOCK_SECONDS,
    time_limit=settings.BACKUP_LOCK_SECONDS + 60,
)
def run_daily_backup() -> str:
    """Take today's snapshot and prune old ones (beat, daily, when BACKUP_TARGET
    is set). Failures raise, so they are reported like any failed task."""
    return backup.run_scheduled_backup()
