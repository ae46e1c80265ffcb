"""Whole-page cache for what anonymous visitors see of the directory.

The directory list and profile pages are the same for every visitor who is
not signed in, and rendering them is most of their cost (the load run of
`make bench` measured about 24 ms of CPU a request without this). So the HTML
of those pages is kept in the cache for PAGE_SECONDS, under a key that holds
the *generation* of the public data:

- every write to a profile, photo or facility through the ORM (save, delete,
  `QuerySet.update`, bulk create and update) starts a new generation, once
  at once and again when its transaction commits, so no page rendered from
  the data before the commit outlives it under the new key;
- a profile page still asks the database on every request whether the
  profile is published (one indexed query): a paused, released or withdrawn
  profile is a 404 the moment it changes, whatever the cache holds.

What a cached page can miss is bounded by PAGE_SECONDS: a change made while
Redis was unreachable (the new generation could not be stored), and the
date-based parts of a page (ages, "new", release windows).

Signed-in visitors, requests with a message to show, and answers other than
200 are never cached, nor are directory queries that are not in canonical
form (junk parameters, invalid values), nor profile pages asked for with any
query string at all (the page reads none). The key is the path and the
parameters as parsed and sorted, not as spelled, so a stray "&", a
percent-escape or another order is the same key. A visitor cannot fill the
cache with keys of their own making faster than they could with real
searches and real profiles.

Languages: the key holds the language the page is rendered in (chosen by
LocaleMiddleware from the language cookie or Accept-Language), so a visitor
never gets a page in the other language, and every answer says
`Vary: Accept-Language, Cookie` for caches outside Django.

The one thing in these pages that belongs to a visitor is the CSRF token of
the language switcher's form (base.html). It is kept as a placeholder and
each visitor's own token is put in when the page is served, so a cached page
never hands out someone else's token and its form always posts.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation
from django.utils.cache import patch_vary_headers

PAGE_SECONDS = 60
GENERATION_KEY = "public-pages:generation"


def new_generation() -> None:
    # No timeout: the generation lives until the next change (or an eviction,
    # which only means every page is rendered afresh).
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)


def public_data_changed() -> None:
    """Start a new generation now and again when the transaction commits."""
    new_generation()
    transaction.on_commit(new_generation)


def current_generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(GENERATION_KEY)
    return generation or ""


class PublicDataQuerySet(models.QuerySet):
    """A queryset whose bulk writes start a new generation of public pages
    (saves and deletes do so through signals, see connect_signals)."""

    def update(self, **kwargs) -> int:
        updated = super().update(**kwargs)
        if updated:
            public_data_changed()
        return updated

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            public_data_changed()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        updated = super().bulk_update(objs, fields, *args, **kwargs)
        if updated:
            public_data_changed()
        return updated


def _on_write(sender, **kwargs) -> None:
    public_data_changed()


def connect_signals(*models_: type[models.Model]) -> None:
    for model in models_:
        models.signals.post_save.connect(_on_write, sender=model, dispatch_uid=f"pc-save-{model}")
        models.signals.post_delete.connect(
            _on_write, sender=model, dispatch_uid=f"pc-delete-{model}"
        )


def _is_anonymous_visit(request: HttpRequest) -> bool:
    # len() reads the messages without marking them shown.
    return (
        request.method == "GET"
        and not request.user.is_authenticated
        and not len(get_messages(request))
    )


def _page_key(request: HttpRequest, generation: str) -> str:
    # What the page is rendered from, not how the URL spells it: the raw query
    # string would make a new key for every "&" appended to a real search.
    parameters = sorted((name, value) for name, values in request.GET.lists() for value in values)
    canonical = f"{request.path}?{urlencode(parameters)}"
    digest = hashlib.sha256(canonical.encode("utf-8", "backslashreplace")).hexdigest()
    language = translation.get_language() or ""
    return f"public-pages:{generation}:{language}:{digest}"


# The value of every hidden CSRF field, as {% csrf_token %} writes it.
CSRF_FIELD = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
CSRF_PLACEHOLDER = b"%CSRF-TOKEN%"


def _without_csrf_token(content: bytes) -> bytes:
    return CSRF_FIELD.sub(rb"\g<1>" + CSRF_PLACEHOLDER + rb"\g<2>", content)


def _with_csrf_token(request: HttpRequest, content: bytes) -> bytes:
    if CSRF_PLACEHOLDER not in content:
        return content
    # get_token also has CsrfViewMiddleware send the visitor's cookie if needed.
    return content.replace(CSRF_PLACEHOLDER, get_token(request).encode("ascii"))


def _varies_by_language(response: HttpResponse) -> HttpResponse:
    # The language comes from Accept-Language or the language cookie.
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


def cached_for_visitors(
    request: HttpRequest,
    render: Callable[[], tuple[HttpResponse, bool]],
    *,
    before_cached: Callable[[], None] = lambda: None,
) -> HttpResponse:
    """The page for this request, from the cache when an anonymous visitor's
    same request was answered in this generation. `render()` returns the
    response and whether it may be kept (a canonical request).
    `before_cached()` runs before a cached page is returned and may raise
    (Http404) to refuse it; `render()` makes its own checks."""
    if not _is_anonymous_visit(request):
        return render()[0]
    # Read before rendering: a change committed while this page renders has
    # already moved past this key.
    key = _page_key(request, current_generation())
    body = cache.get(key)
    if body is not None:
        before_cached()
        content = _with_csrf_token(request, zlib.decompress(body))
        return _varies_by_language(HttpResponse(content))
    response, may_keep = render()
    if may_keep and response.status_code == 200 and not response.streaming:
        kept = _without_csrf_token(response.content)
        cache.set(key, zlib.compress(kept, 1), PAGE_SECONDS)
    return _varies_by_language(response)
