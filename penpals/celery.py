"""The Celery app, configured from Django settings (CELERY_* names).

Enqueue work only after the transaction that created it commits, so a rolled
back request never sends mail or processes a row that does not exist:

    from penpals.tasks import enqueue_on_commit
    enqueue_on_commit("profiles.tasks.process_photo", photo.pk)

Services name the task instead of importing it, so tasks modules import their
services at the top and nothing imports a tasks module back.

Every task must be safe to run twice (acks are late: a task whose worker died
runs again); reload the rows by id and return early when the work is done.

A task carries the request id of whatever enqueued it (penpals.request_ids),
and a task that fails for good is reported to a person (penpals.error_reports).
"""

import logging
import os

from celery import Celery, Task, signals
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from penpals.request_ids import (
    add_request_id_to_task,
    end_task_request_id,
    start_task_request_id,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penpals.settings")

# Failures that go away by themselves: a database or broker restart, a network blip.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    ConnectionError,
    TimeoutError,
)
# Tasks that failed for good log here; LOGGING mails its errors to ADMINS.
TASK_FAILURE_LOGGER = "penpals.task_failures"


class PenpalsTask(Task):
    """Base task: retries transient errors with exponential backoff and jitter."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """The task failed for good (a retry goes to on_retry instead): an
        error log line, which LOGGING mails to ADMINS. Sentry's Celery
        integration reports the exception itself."""
        logging.getLogger(TASK_FAILURE_LOGGER).error(
            "Task %s[%s] failed after %s retries",
            self.name,
            task_id,
            self.request.retries,
            exc_info=(type(exc), exc, exc.__traceback__),
        )


app = Celery("penpals", task_cls=PenpalsTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# weak=False: the receivers are module functions, kept for the process's life.
signals.before_task_publish.connect(add_request_id_to_task, weak=False)
signals.task_prerun.connect(start_task_request_id, weak=False)
signals.task_postrun.connect(end_task_request_id, weak=False)
