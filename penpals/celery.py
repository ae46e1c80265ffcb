"""The Celery app, configured from Django settings (CELERY_* names).

Enqueue work only after the transaction that created it commits, so a rolled
back request never sends mail or processes a row that does not exist:

    from penpals.tasks import enqueue_on_commit
    enqueue_on_commit("profiles.tasks.process_photo", photo.pk)

Services name the task instead of importing it, so tasks modules import their
services at the top and nothing imports a tasks module back.

Every task must be safe to run twice (acks are late: a task whose worker died
runs again); reload the rows by id and return early when the work is done.
"""

import os

from celery import Celery, Task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

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


class PenpalsTask(Task):
    """Base task: retries transient errors with exponential backoff and jitter."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8


app = Celery("penpals", task_cls=PenpalsTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
