"""Request ids: one id per request, followed into everything the request causes.

The id is returned in the response's X-Request-ID header, written in every log
line (RequestIdLogFilter, wired into LOGGING), tagged on Sentry events
(penpals.error_reports) and carried in a header of every Celery task the
request enqueues; the worker makes it current while the task runs, so the
task's own log lines, and the tasks it enqueues in turn, carry it too. Grep
the web and worker logs for one id to follow a letter from the form to the
print batch (README "Request ids").
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar, Token

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# The Celery message header that carries the id to the worker.
TASK_HEADER = "penpals_request_id"
# The request's own copy (WSGI environ style), for log lines written after the
# middleware returned: Django logs "Not Found" and other 4xx there.
META_KEY = "penpals.request_id"
# What we accept from the proxy: log- and header-safe, long enough to be unique.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_current: ContextVar[str | None] = ContextVar("penpals_request_id", default=None)
# Tokens of the ids made current by task_prerun, by task id, for task_postrun.
_task_tokens: dict[str, Token[str | None]] = {}


def current_request_id() -> str | None:
    """The id of the request or task this code runs for, if any."""
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def is_safe_request_id(value: object) -> bool:
    return isinstance(value, str) and _SAFE_REQUEST_ID.fullmatch(value) is not None


def request_id_for(request: HttpRequest) -> str:
    """The proxy's X-Request-ID when we trust it (REQUEST_ID_TRUST_HEADER: only
    a proxy we run may set it, or anyone could choose the id in our logs) and
    it is safe to write in a log line; otherwise a new one."""
    if settings.REQUEST_ID_TRUST_HEADER:
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        if is_safe_request_id(offered):
            return offered
    return new_request_id()


class RequestIdMiddleware:
    """Give each request its id (see the module docstring). Near the top of
    MIDDLEWARE, so that anything answering or logging early carries it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.META[META_KEY] = request_id
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            # A web worker's thread serves the next request with a new id.
            _current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Add `request_id` to every record (None outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = _current.get()
            if request_id is None:
                # django.request's records carry the request they are about.
                meta = getattr(getattr(record, "request", None), "META", None)
                request_id = meta.get(META_KEY) if isinstance(meta, dict) else None
            record.request_id = request_id
        return True


# --- Celery (connected in penpals.celery) ------------------------------------------


def add_request_id_to_task(headers: dict | None = None, **kwargs) -> None:
    """before_task_publish: the current id goes with the task. Beat (no
    request) gives each task it sends a new id, so one run can be followed."""
    if headers is not None and not is_safe_request_id(headers.get(TASK_HEADER)):
        headers[TASK_HEADER] = _current.get() or new_request_id()


def start_task_request_id(task_id: str | None = None, task=None, **kwargs) -> None:
    """task_prerun: the task's id becomes current. An eager task (run in the
    request, never published) keeps the request's id."""
    offered = getattr(task.request, TASK_HEADER, None) if task is not None else None
    request_id = offered if is_safe_request_id(offered) else (_current.get() or new_request_id())
    if task_id is not None:
        _task_tokens[task_id] = _current.set(request_id)


def end_task_request_id(task_id: str | None = None, **kwargs) -> None:
    """task_postrun: the worker's next task must not inherit this id."""
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is None:
        return
    try:
        _current.reset(token)
    except ValueError:  # set in another context (a thread pool): just clear it
        _current.set(None)
