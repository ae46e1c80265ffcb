"""Shared fixtures: people (alice, bob, charlie, staff), a real Celery worker,
and a Chromium browser driven by Playwright.

`make test` starts a throwaway Postgres and Redis and exports DATABASE_URL and
REDIS_URL; pytest-xdist runs several test processes against them.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from penpals.celery import app as celery_app
from tests.utils import database_url

ROOT = Path(__file__).resolve().parent.parent


def _isolate_redis_per_test_process() -> None:
    """Give each xdist process its own Redis databases (cache, broker).

    The processes share one Redis server; without this, one process's cache
    clear or queued task would reach another's.
    """
    if not settings.REDIS_URL:
        return
    worker_number = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    cache_url = f"{base}/{2 * worker_number + 1}"
    broker_url = f"{base}/{2 * worker_number + 2}"
    settings.CACHES["default"]["LOCATION"] = cache_url
    settings.REDIS_URL = broker_url
    settings.CELERY_BROKER_URL = broker_url
    celery_app.conf.update(broker_url=broker_url)


_isolate_redis_per_test_process()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached pages never leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language: a request in Spanish
    leaves Spanish active in the thread that served it, as a web worker's
    next request would find it (LocaleMiddleware sets it again there)."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


# --- People ----------------------------------------------------------------------

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def alice(db):
    """A pen pal with a verified email: the owner in most tests."""
    from tests.factories import PenPalFactory

    return PenPalFactory(email="alice@example.org", display_name="Alice")


@pytest.fixture
def bob(db):
    """Another pen pal."""
    from tests.factories import PenPalFactory

    return PenPalFactory(email="bob@example.org", display_name="Bob")


@pytest.fixture
def charlie(db):
    """An outsider: a pen pal with no relation to anyone's objects."""
    from tests.factories import PenPalFactory

    return PenPalFactory(email="charlie@example.org", display_name="Charlie")


@pytest.fixture
def moderator(db):
    """Staff in the Moderators group, without MFA set up."""
    from tests.factories import ModeratorFactory

    return ModeratorFactory(email="moderator@example.org")


@pytest.fixture
def moderator_with_mfa(moderator):
    from tests.factories import activate_totp

    moderator.totp_secret = activate_totp(moderator)
    return moderator


@pytest.fixture
def liaison(db):
    """A liaison of one facility, without MFA set up."""
    from tests.factories import LiaisonFactory

    return LiaisonFactory(user__email="liaison@example.org").user


# --- A real Celery worker ------------------------------------------------------------


class _Worker:
    """A `celery worker` process on this test process's broker and test database."""

    def __init__(self, log_path: Path, env: dict[str, str]):
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        ready_before = self.log_path.read_text().count(" ready.") if self.log_path.exists() else 0
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "penpals", "worker", "--pool=solo",
                 "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(re.findall(r"\bready\.", self.log_path.read_text())) <= ready_before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"Celery worker did not start:\n{self.log_path.read_text()}")
            time.sleep(0.2)
        return self.process

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None


@pytest.fixture(scope="session")
def _celery_worker_env(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    if not settings.REDIS_URL:
        pytest.fail("The worker tests need Redis: run them through `make test`.")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    return tmp_path_factory.mktemp("celery") / "worker.log", env


@pytest.fixture
def celery_worker_process(_celery_worker_env, transactional_db):
    """A real `celery worker` process on this test process's broker and test database.

    One per test, started on an empty queue and stopped before the test's
    database flush. A worker kept for the session would go on taking the tasks
    other tests queue (and lock tables under their flush), and would keep
    content type ids that the flush re-creates under new ones. Tests using it
    get committed data (`transactional_db`) and carry
    `@pytest.mark.xdist_group("worker")`.
    """
    import redis

    # Drop tasks queued by earlier tests that had no worker.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    worker = _Worker(*_celery_worker_env)
    try:
        yield worker.start()
    finally:
        worker.stop()


# --- A real browser ---------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in the test thread; Django's ORM
    # refuses to run beside one unless told it is safe (it is: one thread per test).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) per test; page.base_url is the live server."""
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    browser_page = context.new_page()
    yield browser_page
    context.close()


@pytest.fixture
def default_screening_rules(db):
    """The default rules in the database, as migrations 0004 and 0012 load them.

    Transactional tests empty every table afterwards, the migrated rules
    included, and --reuse-db keeps the emptied database for the next run; so
    tests that need the rules put them back with the migration's own function.
    """
    from django.apps import apps

    migration = importlib.import_module(
        "moderation.migrations.0012_default_rules_spanish_and_paraphrase"
    )
    migration.apply_default_rules(apps, None)
