"""What leaves the service when something breaks, and what never does.

Unhandled request errors and tasks that fail for good are emailed to ADMINS
(Django's AdminEmailHandler, LOGGING in settings) and, when SENTRY_DSN is set,
sent to Sentry (init_sentry). Both reports go through the rules here: the
names of private fields (PRIVATE_FIELDS, from the models: legal names, dates
of birth, inmate numbers, emails, addresses, letter text, transcriptions),
secrets (passwords, tokens, cookies, sessions), request bodies, query
strings and local variables never leave; email addresses are masked in any
text (an exception message may quote one, as a database's "Key (email)=..."
does). A legal name or letter text quoted in an exception's own message cannot
be recognised: code must not put them there.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from penpals import request_ids
from penpals.celery import TASK_FAILURE_LOGGER

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

FILTERED = "[Filtered]"

# Fields of our models (and forms) whose values are private, by name.
PRIVATE_FIELDS = frozenset(
    {
        # profiles.InmateProfile and the protection requests
        "legal_name",
        "date_of_birth",
        "dob",
        "inmate_number",
        "release_date",
        "consent_form",
        "requester_name",
        "requester_email",
        "protected_name",
        "protected_email",
        "name_normalized",
        "bio",
        # messaging.Letter and its scans
        "body",
        "text",
        "letter",
        "machine_transcription",
        "transcription",
        "ocr",
        "redactions",
        "rejection_note",
        "return_note",
        "note",
        "details",
        "screening",
        "alerts",
        # penpals.User and sign-up
        "email",
        "email_normalized",
        "password",
        "password1",
        "password2",
        "oldpassword",
    }
)
# Any key containing one of these is private too (sessionid, csrftoken,
# mailing_address, HTTP_COOKIE, http.query...).
PRIVATE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "cookie",
    "session",
    "csrf",
    "authorization",
    "email",
    "legal_name",
    "birth",
    "inmate_number",
    "address",
    "transcription",
    "query",
)
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
EMAIL_MASK = "[email]"


def is_private_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    normalized = key.lower().replace("-", "_")
    return normalized in PRIVATE_FIELDS or any(part in normalized for part in PRIVATE_KEY_PARTS)


def mask_email_addresses(text: str) -> str:
    return EMAIL_ADDRESS.sub(EMAIL_MASK, text)


def scrub(value: Any) -> Any:
    """`value` with private keys' values filtered and email addresses masked,
    at any depth (a copy; the original is left alone)."""
    if isinstance(value, dict):
        return {
            key: FILTERED if is_private_key(key) else scrub(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return mask_email_addresses(value)
    return value


# --- Sentry ----------------------------------------------------------------------------

# Request headers worth sending: none carries a person's data.
SENTRY_REQUEST_HEADERS = frozenset(
    {"host", "user-agent", "accept", "accept-language", "content-type", "content-length"}
    | {request_ids.HEADER.lower()}
)


def scrub_sentry_event(event: Event, hint: Hint) -> Event:
    """before_send: the event as it may leave (see the module docstring), tagged
    with the request id of the request or task it happened in."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("data", "cookies", "query_string", "env"):
            request.pop(part, None)
        url = request.get("url")
        if isinstance(url, str):
            request["url"] = url.split("?", 1)[0]
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if name.lower() in SENTRY_REQUEST_HEADERS
            }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    request_id = request_ids.current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return scrub(event)


def scrub_sentry_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    """before_breadcrumb: SQL parameters never kept, the rest scrubbed."""
    if crumb.get("category") == "query":
        crumb.pop("data", None)
    return scrub(crumb)


def init_sentry(dsn: str, *, environment: str, release: str | None) -> None:
    """Report errors to Sentry (called by settings when SENTRY_DSN is set)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn as exc:
        raise ImproperlyConfigured(f"SENTRY_DSN is not a Sentry DSN: {exc}") from None
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # sentry-sdk 2.76's successor of send_default_pii=False, stricter:
        # no user identity, cookies, bodies, query strings, SQL or task
        # arguments, no local variables; only harmless request headers.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {
                "request": {"mode": "allowlist", "terms": sorted(SENTRY_REQUEST_HEADERS)}
            },
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "graphql": {"document": False, "variables": False},
            "gen_ai": {"inputs": False, "outputs": False},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_sentry_event,
        before_breadcrumb=scrub_sentry_breadcrumb,
    )
    # Sentry's Celery integration reports a task's failure itself: the
    # failure's log line (penpals.celery) is not a second event.
    ignore_logger(TASK_FAILURE_LOGGER)


# --- Emails to ADMINS (Django's error reports) -------------------------------------------


class PrivateExceptionReporterFilter(SafeExceptionReporterFilter):
    """DEFAULT_EXCEPTION_REPORTER_FILTER: hides every POST value and local
    variable, private keys and cookies, and secret-looking settings. Active
    when DEBUG is off, as Django's own filter: the debug page of a developer's
    machine shows everything."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DSN|URL|LOCATION|DATABASE",
        flags=re.IGNORECASE,
    )
    # The request environment worth reading in a report; the rest (cookies, the
    # query string, the process's environment under some servers) is hidden.
    shown_request_meta = frozenset(
        {
            "REQUEST_METHOD",
            "PATH_INFO",
            "SCRIPT_NAME",
            "SERVER_NAME",
            "SERVER_PORT",
            "SERVER_PROTOCOL",
            "CONTENT_TYPE",
            "CONTENT_LENGTH",
            "HTTP_HOST",
            "HTTP_USER_AGENT",
            "HTTP_ACCEPT",
            "HTTP_ACCEPT_LANGUAGE",
            "HTTP_X_REQUEST_ID",
            "wsgi.url_scheme",
        }
    )

    def cleanse_setting(self, key, value):
        if is_private_key(key):
            return self.cleansed_substitute
        return super().cleanse_setting(key, value)

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        if not self.is_active(request):
            return meta
        return {
            key: value if key in self.shown_request_meta else self.cleansed_substitute
            for key, value in meta.items()
        }

    def get_safe_cookies(self, request):
        cookies = super().get_safe_cookies(request)
        if not self.is_active(request):
            return cookies
        return dict.fromkeys(cookies, self.cleansed_substitute)

    def get_post_parameters(self, request):
        if request is None or not self.is_active(request):
            return super().get_post_parameters(request)
        cleansed = request.POST.copy()
        for key in cleansed:
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        if not self.is_active(request):
            return super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]


class PrivateExceptionReporter(ExceptionReporter):
    """The report AdminEmailHandler mails (its reporter_class in LOGGING): the
    filter's rules, plus no query string, no user's name or email, and email
    addresses masked in the exception's message."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        hidden = self.filter.cleansed_substitute
        if self.request is not None:
            data["request_GET_items"] = [(key, hidden) for key in self.request.GET]
            data["request_FILES_items"] = [(key, hidden) for key in self.request.FILES]
            data["request_insecure_uri"] = data["request_insecure_uri"].split("?", 1)[0]
            user = getattr(self.request, "user", None)
            user_id = getattr(user, "pk", None)
            data["user_str"] = f"user #{user_id}" if user_id else "anonymous"
        if "exception_value" in data:
            data["exception_value"] = mask_email_addresses(data["exception_value"])
        for frame in data.get("frames", []):
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = mask_email_addresses(str(frame["exc_cause"]))
        return data
