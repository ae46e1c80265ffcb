"""Processes the fault tests start, break and restart: their own Redis, Celery
worker, PostgreSQL cluster and gunicorn, never the suite's shared ones.

Tests using them carry `@pytest.mark.xdist_group("faults")` and, when a
worker reads their data, `django_db(transaction=True)`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from django.db import connection

from penpals.celery import app as celery_app
from tests.utils import closed_port, database_url

ROOT = Path(__file__).resolve().parent.parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> object:
    """Poll `condition` until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


# --- People and places -------------------------------------------------------------------


@pytest.fixture
def facility(liaison):
    """The liaison's facility; the liaison has MFA set up (the portal requires it)."""
    from tests.factories import activate_totp

    activate_totp(liaison)
    return liaison.facility_memberships.get().facility


@pytest.fixture
def profile(facility):
    """A published profile in that facility, accepting letters."""
    from tests.factories import InmateProfileFactory

    return InmateProfileFactory.published(facility=facility, display_name="Marcus")


# --- Redis ---------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of this test's own on a fixed loopback port: kill it, start it again."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.directory), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, "redis-server to answer", timeout=20)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save, like a crashed or unplugged server."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def queued(self, queue: str = "celery") -> int:
        """Tasks waiting in `queue` plus those delivered but not yet acknowledged."""
        return self.waiting(queue) + self.unacked()

    def waiting(self, queue: str = "celery") -> int:
        return redis.Redis.from_url(self.url).llen(queue)

    def unacked(self, task: str | None = None) -> int:
        """Tasks a worker took and has not acknowledged (kombu's Redis transport keeps
        them until the visibility timeout, then gives them back to the queue); only
        those named `task` when given, as a worker also holds tasks it was sent with
        a countdown (the search-words refresh a profile change queues)."""
        held = redis.Redis.from_url(self.url).hvals("unacked")
        if task is None:
            return len(held)
        # Each value is kombu's [message, exchange, routing key]; Celery's protocol 2
        # names the task in the message headers.
        return sum(1 for raw in held if json.loads(raw)[0]["headers"].get("task") == task)


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis of this test's own as the cache and the broker of this test process."""
    server = RedisServer(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": server.url,
            # Short timeouts, as in production settings: a dead Redis must not stall a page.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    previous = celery_app.conf.broker_url
    use_broker(server.url)
    try:
        yield server
    finally:
        server.kill()
        use_broker(previous)


def use_broker(url: str) -> None:
    """Point this process's Celery app at `url`, dropping pooled connections to the old one."""
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


# --- A Celery worker -----------------------------------------------------------------------


class Worker:
    """A real `celery worker` on a broker of the test's own and the test database."""

    def __init__(self, log_path: Path, broker_url: str, pool: str = "solo", **env: str):
        self.log_path = log_path
        self.pool = pool
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # The tests read the log as it is written.
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        pool = ["--pool=solo"] if self.pool == "solo" else ["--pool=prefork", "--concurrency=1"]
        with open(self.log_path, "a") as log:
            log.write(f"\n--- start {self.starts} ---\n")
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "penpals", "worker", *pool,
                 "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(lambda: self.log().count(" ready.") >= self.starts or self.died(), "worker start")
        if self.died():
            pytest.fail(f"the worker did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def results(self, task: str) -> list[str]:
        """What each finished run of `task` returned (repr), in order, from the JSON log."""
        results = []
        for line in self.log().splitlines():
            if line.startswith("{") and '"return_value"' in line:
                record = json.loads(line)["data"]
                if record["name"] == task:
                    results.append(record["return_value"])
        return results

    def died(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def pool_child(self) -> int:
        """The pid of the prefork pool's one child process (the one running tasks)."""
        assert self.process is not None

        def child() -> int | None:
            path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = path.read_text().split()
            return int(pids[0]) if pids else None

        return int(wait_for(child, "the pool's child process"))

    def kill(self) -> None:
        """SIGKILL the whole worker (solo pool: one process, so nothing is left
        behind): it cannot finish, acknowledge or clean anything up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture
def start_worker(tmp_path):
    """start_worker(broker_url, pool="solo", **env) -> a started Worker, stopped at teardown."""
    workers: list[Worker] = []

    def start(broker_url: str, pool: str = "solo", **env: str) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", broker_url, pool, **env)
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def stored_copies(field_file) -> int:
    """Files in local storage named like `field_file` or like a copy of it
    (storages add "_<random>" when a name is taken)."""
    path = Path(field_file.storage.path(field_file.name))
    return len(list(path.parent.glob(f"{path.stem}*{path.suffix}")))


# --- Holding a lock from another connection ------------------------------------------------


class LockHolder:
    """Runs SQL that takes a lock in a transaction of its own thread (its own
    connection) and holds it until released."""

    def __init__(self, sql: str):
        self.sql = sql
        self.locked = threading.Event()
        self.released = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        from django.db import connection as own_connection
        from django.db import transaction

        try:
            with transaction.atomic(), own_connection.cursor() as cursor:
                cursor.execute(self.sql)
                self.locked.set()
                self.released.wait(timeout=120)
        finally:
            own_connection.close()

    def __enter__(self) -> LockHolder:
        self.thread.start()
        assert self.locked.wait(timeout=20), "the lock was not taken"
        return self

    def release(self) -> None:
        self.released.set()
        self.thread.join(timeout=30)

    def __exit__(self, *exc_info) -> None:
        self.release()


def backends_waiting_on_a_lock(query_start: str) -> int:
    """Database sessions (other processes included) blocked on a lock in a query starting so."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND query LIKE %s",
            [query_start + "%"],
        )
        return cursor.fetchone()[0]


# --- PostgreSQL and gunicorn ---------------------------------------------------------------


class PostgresCluster:
    """A cluster of the test's own, made and started by scripts/lib.sh start_postgres."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.url = ""
        self.port = 0

    def _lib(self, script: str) -> str:
        completed = subprocess.run(
            ["bash", "-c", f"source scripts/lib.sh; {script}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def create(self) -> None:
        directory = shlex.quote(str(self.directory))
        self.url = self._lib(
            f'start_postgres {directory} throwaway; echo "$DATABASE_URL"'
        ).splitlines()[-1]
        self.port = int(re.search(r":(\d+)/", self.url).group(1))

    def pg_ctl(self, *args: str) -> None:
        """pg_ctl as the postgres user (lib.sh run_as_postgres), with the options lib.sh starts with."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        command = " ".join(shlex.quote(arg) for arg in args)
        data = shlex.quote(str(self.directory / "data"))
        log = shlex.quote(str(self.directory / "server.log"))
        self._lib(
            f'run_as_postgres "$PG_BIN/pg_ctl" -D {data} -l {log} -o {shlex.quote(options)} '
            f"-w -t 60 {command} >/dev/null"
        )

    def destroy(self) -> None:
        if (self.directory / "data" / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "immediate")


class Gunicorn:
    """gunicorn serving the app (test settings) from `database_url`, on a free loopback port."""

    def __init__(self, database_url: str, log_path: Path):
        self.port = closed_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": "",  # no cache or broker: only the database is under test
            "DJANGO_DEBUG": "true",
            "DATABASE_CONNECT_TIMEOUT": "3",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "penpals.wsgi:application",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--timeout", "30"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def answers() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn stopped:\n{self.log_path.read_text()}")
            try:
                urllib.request.urlopen(self.base_url + "/healthz", timeout=5)  # noqa: S310
            except urllib.error.HTTPError:
                return True  # it answers, whatever it says
            except OSError:
                return False
            return True

        wait_for(answers, "gunicorn to answer")

    def get(self, path: str, timeout: float = 15) -> tuple[int, float]:
        """(status, seconds taken); a request that takes longer than `timeout` fails the test."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        return status, time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture(scope="module")
def postgres_and_gunicorn(django_db_setup, django_db_blocker):
    """A PostgreSQL cluster of the module's own, with the test database's schema, and
    gunicorn serving the app from it. Yields (cluster, gunicorn); tests leave both running."""
    # Not under pytest's tmp_path: the postgres user must reach the folder, and
    # Unix socket paths are limited to about 100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="penpals-faults-pg."))
    directory.chmod(0o755)
    cluster = PostgresCluster(directory / "cluster")
    gunicorn = None
    try:
        cluster.create()
        with django_db_blocker.unblock():
            copy_schema(cluster.url)
        gunicorn = Gunicorn(cluster.url, directory / "gunicorn.log")
        gunicorn.start()
        yield cluster, gunicorn
    finally:
        if gunicorn is not None:
            gunicorn.stop()
        cluster.destroy()
        shutil.rmtree(directory, ignore_errors=True)


def copy_schema(target_url: str) -> None:
    """The migrated test database's schema, into `target_url` (faster than migrating)."""
    source = subprocess.run(
        [PG_BIN / "pg_dump", "--schema-only", "--no-owner", "--no-privileges",
         database_url(connection.settings_dict)],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    subprocess.run(
        [PG_BIN / "psql", "-q", "-v", "ON_ERROR_STOP=1", target_url],
        input=source.stdout, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
