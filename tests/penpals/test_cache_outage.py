"""With Redis unreachable, pages still render and logins still work."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from tests.factories import PASSWORD
from tests.utils import closed_port


@pytest.fixture
def redis_down():
    dead = {
        "default": {
            "BACKEND": "penpals.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with override_settings(CACHES=dead):
        yield


def test_it_treats_every_cache_call_as_a_miss(redis_down, caplog):
    assert cache.get("anything", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("lock", True) is True  # fails open: see penpals/cache.py
    cache.set("key", "value")
    assert cache.get("key") is None
    assert "cache unavailable" in caplog.text


def test_it_stops_asking_redis_for_a_moment_after_a_failure(redis_down):
    cache.get("first")  # fails and pauses
    start = time.monotonic()
    for _ in range(100):
        cache.get("again")
    assert time.monotonic() - start < 0.5


@pytest.mark.django_db
def test_it_serves_pages_and_logins_while_redis_is_down(client, alice, redis_down):
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("directory:list")).status_code == 200
    assert client.get(reverse("account_login")).status_code == 200
    wrong = client.post(reverse("account_login"), {"login": alice.email, "password": "nope"})
    assert wrong.status_code == 200  # the form again, with its error
    right = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    assert right.status_code == 302
    assert client.get(reverse("account_settings")).status_code == 200
