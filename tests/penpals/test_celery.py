"""Celery: reliability settings, enqueue-after-commit, and a real worker round trip."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import transaction

from penpals.celery import app as celery_app
from penpals.models import WorkerHeartbeat
from penpals.tasks import enqueue_on_commit, record_worker_heartbeat
from tests.utils import closed_port, database_url


def test_it_configures_celery_for_reliability():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_url.startswith("redis://")
    assert record_worker_heartbeat.retry_backoff
    assert ConnectionError in record_worker_heartbeat.autoretry_for


@pytest.mark.django_db
def test_it_enqueues_nothing_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                enqueue_on_commit(record_worker_heartbeat)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert callbacks == []


@pytest.mark.django_db
def test_it_logs_instead_of_failing_when_the_broker_is_down():
    """A committed request never fails because Redis is down; the sweep retries later."""
    from django.db import connection

    script = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from penpals.tasks import enqueue_on_commit, record_worker_heartbeat\n"
        "with transaction.atomic():\n"
        "    enqueue_on_commit(record_worker_heartbeat)\n"
        "print('request finished')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "penpals.settings",
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
        },
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "request finished" in result.stdout
    assert "enqueue failed; the sweep will retry" in result.stdout


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_on_a_real_worker(celery_worker_process):
    assert not WorkerHeartbeat.objects.exists()
    with transaction.atomic():
        enqueue_on_commit(record_worker_heartbeat)
        # Not sent yet: the worker cannot see uncommitted rows, so we wait for commit.
    deadline = time.monotonic() + 30
    while not WorkerHeartbeat.objects.exists():
        assert time.monotonic() < deadline, "the worker did not run the task"
        assert celery_worker_process.poll() is None, "the worker died"
        time.sleep(0.1)
    heartbeat = WorkerHeartbeat.objects.get()
    assert heartbeat.worker


def test_it_runs_tasks_eagerly_when_there_is_no_redis():
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; import django; django.setup(); "
         "print(settings.CELERY_TASK_ALWAYS_EAGER, settings.CACHES['default']['BACKEND'])"],
        env={**os.environ, "REDIS_URL": "", "DJANGO_SETTINGS_MODULE": "penpals.settings"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.core.cache.backends.locmem.LocMemCache"]
