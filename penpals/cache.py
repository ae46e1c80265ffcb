"""A Redis cache that degrades to "no cache" while Redis is unreachable.

Pages must keep working when Redis is down: a read is a miss, a write is
skipped, and the outage is logged once per pause instead of failing the
request. After a failure Redis is left alone for a few seconds, so a page
does not wait for a timeout on every cache call.

What that means for the rules that use the cache (documented in the README):
allauth's rate limits fail open (requests are allowed while their counters
cannot be kept), and the TOTP "code already used" check fails open too (the
code itself is still verified).
"""

from __future__ import annotations

import logging
import time
from functools import wraps

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
PAUSE_SECONDS = 5.0


def _degrades_to(fallback):
    """Run the cache call; while Redis is unreachable return `fallback(*args)` instead."""

    def decorator(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            if time.monotonic() < self._paused_until:
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                self._paused_until = time.monotonic() + PAUSE_SECONDS
                logger.warning(
                    "cache unavailable; continuing without it",
                    extra={"operation": method.__name__, "error": str(exc)},
                )
                return fallback(*args, **kwargs)

        return wrapper

    return decorator


def _miss(key, default=None, *args, **kwargs):
    return default


class _ReusedClients(RedisCacheClient):
    """One `redis.Redis` per connection pool, made once. Django makes a new one
    for every cache call, and its constructor (a table of ~170 response
    callbacks) cost more than the call itself: about 0.2 ms each, two calls
    per cached page (the load run of `make bench`)."""

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusedClients
        self._paused_until = 0.0

    get = _degrades_to(_miss)(RedisCache.get)
    get_many = _degrades_to(lambda *a, **k: {})(RedisCache.get_many)
    has_key = _degrades_to(lambda *a, **k: False)(RedisCache.has_key)
    # add() answers "stored" so callers that wait for a lock or mark a one-time
    # code do not spin or refuse: failing open, as documented above.
    add = _degrades_to(lambda *a, **k: True)(RedisCache.add)
    set = _degrades_to(lambda *a, **k: None)(RedisCache.set)
    set_many = _degrades_to(lambda *a, **k: [])(RedisCache.set_many)
    touch = _degrades_to(lambda *a, **k: False)(RedisCache.touch)
    delete = _degrades_to(lambda *a, **k: False)(RedisCache.delete)
    delete_many = _degrades_to(lambda *a, **k: None)(RedisCache.delete_many)
    incr = _degrades_to(lambda key, delta=1, *a, **k: delta)(RedisCache.incr)
    clear = _degrades_to(lambda *a, **k: False)(RedisCache.clear)
