"""PostgreSQL restarted, and stopped for a while, under a running gunicorn."""

from __future__ import annotations

import pytest

# django_db: pytest-django sets up the test database only for sessions with
# a test that asks for it, and the module fixture copies its schema.
pytestmark = [pytest.mark.xdist_group("faults"), pytest.mark.django_db]

# Pages that query the database on every request (the directory reads profiles).
PAGES = ["/healthz", "/inmates/"]


def test_the_next_requests_succeed_after_a_restart(postgres_and_gunicorn):
    cluster, gunicorn = postgres_and_gunicorn
    for path in PAGES:
        # The worker now keeps a connection (CONN_MAX_AGE) that the restart kills.
        assert gunicorn.get(path)[0] == 200

    cluster.pg_ctl("restart", "-m", "fast")

    # The very first request after the restart: the dead connection fails its
    # health check and is replaced, instead of failing the request.
    for path in PAGES + PAGES:
        status, seconds = gunicorn.get(path)
        assert status == 200, f"{path} answered {status} after the restart"
        assert seconds < 5


# A directory page no visitor has asked for yet: not in the page cache.
UNCACHED_PAGE = "/inmates/?sort=name"


def test_no_request_hangs_while_the_database_is_down(postgres_and_gunicorn):
    cluster, gunicorn = postgres_and_gunicorn
    assert gunicorn.get("/inmates/")[0] == 200

    cluster.pg_ctl("stop", "-m", "fast")
    try:
        # The directory a visitor just saw comes from the page cache
        # (profiles/public_cache.py), which needs no database.
        status, seconds = gunicorn.get("/inmates/", timeout=15)
        assert status == 200 and seconds < 5
        for path in ["/healthz", UNCACHED_PAGE]:
            # An answer, quickly: the connection is refused, not waited for.
            status, seconds = gunicorn.get(path, timeout=15)
            # /healthz says 503 itself. Pages get the "back in a moment" 503
            # with DEBUG off (tests/penpals/test_error_pages.py); this gunicorn
            # runs the test settings, where DEBUG's error page answers 500.
            assert status in (500, 503), f"{path} answered {status} without a database"
            assert seconds < 5
    finally:
        cluster.pg_ctl("start")

    for path in [*PAGES, UNCACHED_PAGE]:
        assert gunicorn.get(path)[0] == 200
