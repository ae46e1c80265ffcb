"""Penpals settings: one file, every value from the environment.

Each variable is documented in the README's configuration table. Development
defaults are safe to run on a laptop; with DJANGO_DEBUG off the process refuses
to start without a real secret key and allowed hosts.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import dj_database_url
from botocore.config import Config as BotocoreConfig
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_days(name: str, default: int) -> int:
    """A period in days: a whole number, at least 1 (0 would delete at once)."""
    value = env_int(name, default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a number of days, at least 1, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc}") from exc
    return os.environ.get(name, default)


DEBUG = env_bool("DJANGO_DEBUG", False)

# --- Secrets and hosts ----------------------------------------------------------

# Development only: refused below whenever DEBUG is off.
_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)

if not DEBUG:
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters "
            "when DJANGO_DEBUG is off."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The service's name and the address people write to with questions, shown on
# the account pages and in every account email (allauth's own default would
# be the request's host name, "127.0.0.1:8000").
SITE_NAME = env_str("SITE_NAME", "Penpals")
CONTACT_EMAIL = env_str("CONTACT_EMAIL", "help@penpals.localhost")

# --- Applications ---------------------------------------------------------------

INSTALLED_APPS = [
    "penpals.apps.PenpalsConfig",
    "profiles.apps.ProfilesConfig",
    "messaging.apps.MessagingConfig",
    "moderation.apps.ModerationConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "storages",
    # Request metrics for /metrics (penpals.metrics); its database and cache
    # wrappers are not used: the cache is penpals.cache's resilient one.
    "django_prometheus",
]
# Demo data, benchmarks and their commands (seed_demo, bench, ...): for
# development, test and bench runs only, which all set DJANGO_DEBUG (scripts/).
# The production image leaves the package out (.dockerignore).
if DEBUG and importlib.util.find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools.apps.DevtoolsConfig")
# django-migration-linter (`manage.py lintmigrations`) is a dev dependency, absent
# from the production image. `make migrations-check` runs its tests through
# devtools/migration_safety.py, which does the index and column-type tests
# itself (it knows which tables are new and which type changes rewrite).
if DEBUG and importlib.util.find_spec("django_migration_linter") is not None:
    INSTALLED_APPS.append("django_migration_linter")
MIGRATION_LINTER_OPTIONS = {
    "sql_analyser": "postgresql",
    "exclude_migration_tests": ["CREATE_INDEX", "CREATE_INDEX_EXCLUSIVE", "ALTER_COLUMN"],
    # Both take an ACCESS EXCLUSIVE lock; the CONCURRENTLY forms do not.
    "warnings_as_errors": ["DROP_INDEX", "REINDEX"],
}

MIDDLEWARE = [
    # First and last: a request's latency includes every other middleware.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Before anything that may answer early (the HTTPS redirect) or log: every
    # response and log line of the request carries its id (penpals.request_ids).
    "penpals.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the session, before CommonMiddleware (which may redirect to a URL
    # it resolves in the active language): the language cookie, then
    # Accept-Language; penpals.middleware.UserLanguageMiddleware puts a
    # signed-in person's saved choice first.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "penpals.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "penpals.middleware.RequireMFAMiddleware",
    "penpals.middleware.RefuseNulInAdminQueryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "penpals.urls"
WSGI_APPLICATION = "penpals.wsgi.application"
AUTH_USER_MODEL = "penpals.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "penpals.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://penpals@127.0.0.1:5432/penpals"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A pooled connection that died (Postgres restarted) is replaced before use.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
    "DATABASE_CONNECT_TIMEOUT", 5
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery broker ----------------------------------------------

# An empty REDIS_URL means "no Redis": a local-memory cache and tasks run in-process.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

if REDIS_URL:
    CACHES = {
        "default": {
            # Pages keep working while Redis is down (penpals/cache.py).
            "BACKEND": "penpals.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "penpals",
            "TIMEOUT": 300,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Tasks record their outcome in the database; no result backend to wait on.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Reliability: a task is acknowledged only after it finished, so a worker that
# dies mid-task leaves it on the queue for another worker. Tasks must therefore
# be idempotent (see penpals/tasks.py).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged task after this long; longer than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "penpals.tasks.record_worker_heartbeat", "schedule": 60.0},
    # The storage write behind /healthz's "storage" state (penpals.health).
    "check-storage": {"task": "penpals.tasks.check_storage", "schedule": 300.0},
    "sweep-unprocessed-photos": {
        "task": "profiles.tasks.sweep_unprocessed_photos",
        "schedule": 300.0,
    },
    "expire-profiles": {"task": "profiles.tasks.expire_profiles", "schedule": 24 * 60 * 60.0},
    # Catches a lost enqueue of the vocabulary refresh (profiles.search_words).
    "refresh-search-words": {"task": "profiles.tasks.refresh_search_words", "schedule": 600.0},
    "sweep-unscreened-letters": {
        "task": "messaging.tasks.sweep_unscreened_letters",
        "schedule": 300.0,
    },
    "sweep-outbox": {"task": "messaging.tasks.sweep_outbox", "schedule": 120.0},
    # Scanning runs whose worker stopped carry on where they were (messaging.intake).
    "sweep-scan-runs": {"task": "messaging.tasks.sweep_scan_runs", "schedule": 120.0},
    "purge-expired-scans": {
        "task": "messaging.tasks.purge_expired_scans",
        "schedule": 24 * 60 * 60.0,
    },
    # Letters' pre-rendered PDFs that no letter needs any more (messaging.printing).
    "sweep-letter-pdfs": {
        "task": "messaging.tasks.sweep_letter_pdfs",
        "schedule": 24 * 60 * 60.0,
    },
    "purge-rejected-photo-originals": {
        "task": "profiles.tasks.purge_rejected_photo_originals",
        "schedule": 24 * 60 * 60.0,
    },
}

# --- Auth and accounts ------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
# After login each person lands on their own place (penpals.adapters).
LOGIN_REDIRECT_URL = "directory:list"
LOGOUT_REDIRECT_URL = "home"

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "penpals.forms.SignupForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# Links in emails use the scheme of the public address.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https://") else "http"
ACCOUNT_ADAPTER = "penpals.adapters.AccountAdapter"
# Sign-up, password reset and email change answer alike whether or not an
# address has an account (allauth's default, stated because it matters); the
# sign-up form also takes the same time for both (penpals.adapters).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_FORMS = {"signup": "penpals.adapters.EqualTimeSignupForm"}
# allauth's default rate limits stay on; they are counted in the shared Redis cache.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("ACCOUNT_RATE_LIMIT_LOGIN_FAILED", "10/m/ip,5/5m/key"),
}
# How long a password just typed counts as proof for sensitive pages (allauth's
# default, stated because the first MFA setup relies on it: penpals.adapters).
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("ACCOUNT_REAUTHENTICATION_TIMEOUT", 300)
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("ALLAUTH_TRUSTED_PROXY_COUNT", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Penpals")

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14)

# --- Security headers -------------------------------------------------------------

BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
if BEHIND_PROXY:
    # Only trust X-Forwarded-Proto when a proxy we run sets it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Django matches this against request.path without its leading "/", which
# under a path prefix (SCRIPT_NAME) is "prefix/healthz": any prefix is allowed.
SECURE_REDIRECT_EXEMPT = [r"^(?:[^/]+/)*healthz$"]
# The token a monitor sends (Authorization: Bearer ...) for /healthz's deep
# check, which writes to both storages. Unset: only beat runs that check.
HEALTHZ_DEEP_TOKEN = env_secret("HEALTHZ_DEEP_TOKEN")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The language switcher's cookie: kept a year (Django's default ends with the
# browser session), read by no script.
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# --- Media storage -----------------------------------------------------------------

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media" / "public")))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
PRIVATE_MEDIA_ROOT = Path(
    env_str("PRIVATE_MEDIA_ROOT", str(BASE_DIR / ".data" / "media" / "private"))
)
S3_PRIVATE_BUCKET = env_str("S3_PRIVATE_BUCKET")
S3_PUBLIC_BUCKET = env_str("S3_PUBLIC_BUCKET")
S3_SIGNED_URL_SECONDS = env_int("S3_SIGNED_URL_SECONDS", 300)


def s3_storage_options(bucket: str, *, is_private: bool) -> dict:
    """django-storages options for one bucket of an S3-compatible store."""
    return {
        "bucket_name": bucket,
        "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
        "region_name": env_str("S3_REGION", "us-east-1"),
        "access_key": env_secret("S3_ACCESS_KEY_ID") or None,
        "secret_key": env_secret("S3_SECRET_ACCESS_KEY") or None,
        "custom_domain": None if is_private else (env_str("S3_PUBLIC_DOMAIN") or None),
        "file_overwrite": False,
        "default_acl": None,
        # Private files are only reachable through short-lived signed URLs.
        "querystring_auth": is_private,
        "querystring_expire": S3_SIGNED_URL_SECONDS,
        "client_config": BotocoreConfig(
            signature_version="s3v4",
            s3={"addressing_style": env_str("S3_ADDRESSING_STYLE", "path")},
            # S3-compatible servers (MinIO, Ceph, older moto) reject the CRC
            # checksums boto3 >= 1.36 adds by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    }


if S3_PRIVATE_BUCKET or S3_PUBLIC_BUCKET:
    if not (S3_PRIVATE_BUCKET and S3_PUBLIC_BUCKET):
        raise ImproperlyConfigured("Set both S3_PUBLIC_BUCKET and S3_PRIVATE_BUCKET, or neither.")
    _public_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3_storage_options(S3_PUBLIC_BUCKET, is_private=False),
    }
    _private_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3_storage_options(S3_PRIVATE_BUCKET, is_private=True),
    }
else:
    _public_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
    # Private files have no URL; views stream them after an access check.
    _private_storage = {
        "BACKEND": "penpals.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)},
    }

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".data" / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": _public_storage,
    "private": _private_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve public media from Django only for local files (development, or a
# single-box install); S3 serves its own.
SERVE_LOCAL_MEDIA = env_bool("SERVE_LOCAL_MEDIA", not S3_PUBLIC_BUCKET)
# Photos: the largest upload accepted, and the most pixels decoded (decompression bombs).
PHOTO_MAX_UPLOAD_BYTES = env_int("PHOTO_MAX_UPLOAD_BYTES", 15_000_000)
PHOTO_MAX_PIXELS = env_int("PHOTO_MAX_PIXELS", 60_000_000)
CONSENT_FORM_MAX_UPLOAD_BYTES = env_int("CONSENT_FORM_MAX_UPLOAD_BYTES", 10_000_000)
# Reply scans: the largest file, and the most pages (files) in one reply.
SCAN_MAX_UPLOAD_BYTES = env_int("SCAN_MAX_UPLOAD_BYTES", 20_000_000)
SCAN_MAX_PAGES = env_int("SCAN_MAX_PAGES", 20)
# A whole scanning run uploaded at once (messaging.intake): its pages, and its
# files' bytes together. Each image of a run is one file, so a request may
# carry as many files as a run has pages (Django's default is 100).
SCAN_RUN_MAX_PAGES = env_int("SCAN_RUN_MAX_PAGES", 500)
SCAN_RUN_MAX_BYTES = env_int("SCAN_RUN_MAX_BYTES", 200_000_000)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", SCAN_RUN_MAX_PAGES)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Small files stay in memory; a file past the largest accepted size is not
# written to disk (penpals/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "penpals.uploads.SizeCappedUploadHandler",
]

# --- Letters ---------------------------------------------------------------------------

# Each limit is refused with a message when a pen pal writes (messaging.services).
LETTER_MAX_LENGTH = env_int("LETTER_MAX_LENGTH", 13_000)
LETTERS_PER_DAY = env_int("LETTERS_PER_DAY", 10)
# New people a pen pal may start writing to per day: slows down mass scammers.
NEW_CORRESPONDENCES_PER_DAY = env_int("NEW_CORRESPONDENCES_PER_DAY", 3)
# How long opening a moderation item keeps it claimed for that moderator.
MODERATION_CLAIM_MINUTES = env_int("MODERATION_CLAIM_MINUTES", 10)
# Outbox: attempts per email before it is marked failed (retries back off).
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 8)

# --- Retention (daily beat jobs; the privacy page states the same numbers) ----------

# Days a reply's scans are kept after it was read, rejected or closed (messaging.retention).
LETTER_SCAN_RETENTION_DAYS = env_days("LETTER_SCAN_RETENTION_DAYS", 180)
# Days a rejected photo's private original is kept after the rejection (profiles.retention).
REJECTED_PHOTO_RETENTION_DAYS = env_days("REJECTED_PHOTO_RETENTION_DAYS", 30)

# --- Content Security Policy (django-csp) ------------------------------------------

_media_origins = [env_str("S3_PUBLIC_DOMAIN")] if env_str("S3_PUBLIC_DOMAIN") else []
if S3_PUBLIC_BUCKET and env_str("S3_ENDPOINT_URL"):
    _media_origins.append(env_str("S3_ENDPOINT_URL"))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the QR code allauth draws when a user sets up TOTP.
        "img-src": [SELF, "data:", *_media_origins],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Email ---------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Penpals <no-reply@penpals.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
else:
    # Development: every email goes to the console and to a folder a person can read.
    EMAIL_BACKEND = "penpals.email.ConsoleAndFileEmailBackend"
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))

# --- Internationalisation -------------------------------------------------------------

# The same URLs in every language (no /es/ prefix): a profile's address is
# one address, whoever shares it, and the page cache keys on the language
# instead (profiles.public_cache). The language is a signed-in person's saved
# choice (User.language), else the language cookie set by the switcher
# (django.views.i18n.set_language), else the browser's Accept-Language, else
# LANGUAGE_CODE. A third language is one line here and a catalogue in locale/.
# Each name is written in its own language: it is how a reader finds theirs.
LANGUAGES = [("en", "English"), ("es", "Español")]
LANGUAGE_CODE = "en"
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates in English read "7 December 2026" (penpals/formats/en/formats.py).
FORMAT_MODULE_PATH = ["penpals.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Logging: structured JSON lines on stdout -------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Every line names the request or task it was written for.
        "request_id": {"()": "penpals.request_ids.RequestIdLogFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "admin_email": {"format": "%(message)s\n\nRequest id: %(request_id)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        },
        # Errors reach a person: request errors and tasks that failed for good,
        # without private data (penpals.error_reports). Off while debugging.
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "request_id"],
            "formatter": "admin_email",
            "include_html": False,
            "reporter_class": "penpals.error_reports.PrivateExceptionReporter",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django's defaults give "django" a console handler and a mail_admins of
        # their own: its lines go to the root's JSON handler, errors to ours.
        "django": {"handlers": []},
        "django.request": {"handlers": ["mail_admins"]},
        "penpals.task_failures": {"handlers": ["mail_admins"]},
        "django.db.backends": {"level": "WARNING"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

# --- Operations: backups (penpals.backup) ------------------------------------------------

# A folder or s3://bucket/prefix (with the S3_* endpoint and credentials of media).
# Development keeps them beside `make run`'s data, for `make manage ARGS=backup`.
BACKUP_TARGET = env_str("BACKUP_TARGET", str(BASE_DIR / ".data" / "backups") if DEBUG else "")
# Base64 of 32 random bytes; snapshots are encrypted when set (README).
BACKUP_ENCRYPTION_KEY = env_secret("BACKUP_ENCRYPTION_KEY")
if BACKUP_ENCRYPTION_KEY:
    import base64 as _base64
    import binascii as _binascii

    try:
        _backup_key_bytes = len(_base64.urlsafe_b64decode(BACKUP_ENCRYPTION_KEY.strip() + "=="))
    except (_binascii.Error, ValueError):
        _backup_key_bytes = 0
    if _backup_key_bytes != 32:
        raise ImproperlyConfigured("BACKUP_ENCRYPTION_KEY must be the base64 of 32 bytes.")
BACKUP_KEEP_DAYS = env_days("BACKUP_KEEP_DAYS", 7)
BACKUP_KEEP_WEEKS = env_int("BACKUP_KEEP_WEEKS", 5)
BACKUP_KEEP_MONTHS = env_int("BACKUP_KEEP_MONTHS", 12)
# Hour (UTC) of the daily backup that beat schedules when BACKUP_TARGET is set.
BACKUP_HOUR = env_int("BACKUP_HOUR", 3)
# Longest a backup may run in the worker; also how long its lock lasts.
BACKUP_LOCK_SECONDS = env_int("BACKUP_TIME_LIMIT", 6 * 60 * 60)
# "AES256" (SSE-S3), "aws:kms", or empty for a store that encrypts by itself.
BACKUP_S3_SERVER_SIDE_ENCRYPTION = env_str("BACKUP_S3_SERVER_SIDE_ENCRYPTION", "AES256")
BACKUP_S3_OPTIONS = s3_storage_options("", is_private=True)
# Folder of pg_dump and pg_restore; empty: found on PATH.
PG_BIN = env_str("PG_BIN")
# Only a target set on purpose gets the daily job, not the development default.
if env_str("BACKUP_TARGET"):
    from celery.schedules import crontab as _crontab

    CELERY_BEAT_SCHEDULE["backup"] = {
        "task": "penpals.tasks.run_daily_backup",
        "schedule": _crontab(hour=BACKUP_HOUR, minute=15),
    }

# --- Operations: error reports and request ids -------------------------------------------


def env_admins(name: str) -> list[tuple[str, str]]:
    """People who get error reports: `Name <address>` or bare addresses, by commas."""
    # Imported here: this section is the error reports' own, the file's top is shared.
    from email.utils import parseaddr

    admins = []
    for entry in env_list(name, []):
        display_name, address = parseaddr(entry)
        if "@" not in address or " " in address:
            raise ImproperlyConfigured(
                f"{name} must list email addresses (Name <a@example.org>), not {entry!r}"
            )
        admins.append((display_name or address, address))
    return admins


# Unhandled request errors and tasks that failed for good are mailed to these
# people (LOGGING's mail_admins), from SERVER_EMAIL, when debug is off.
ADMINS = env_admins("DJANGO_ADMINS")
SERVER_EMAIL = env_str("SERVER_EMAIL", SERVER_EMAIL)
EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# What Django's error reports (the admins' emails) leave out (penpals.error_reports).
DEFAULT_EXCEPTION_REPORTER_FILTER = "penpals.error_reports.PrivateExceptionReporterFilter"
# Errors also go to Sentry when a DSN is set, scrubbed (penpals.error_reports).
SENTRY_DSN = env_secret("SENTRY_DSN")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_RELEASE = env_str("SENTRY_RELEASE")
if SENTRY_DSN:
    from penpals.error_reports import init_sentry

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE)
# Take the request id from the X-Request-ID header of the proxy in front
# (penpals.request_ids); without a proxy anyone could choose the id in our logs.
REQUEST_ID_TRUST_HEADER = env_bool("REQUEST_ID_TRUST_HEADER", BEHIND_PROXY)

# --- Operations: metrics -----------------------------------------------------------------


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated addresses or CIDR networks (10.0.0.0/8, ::1)."""
    # Imported here: this section is the metrics' own, the file's top is shared.
    import ipaddress

    networks = env_list(name, default)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks, not {network!r}"
            ) from None
    return networks


# /metrics (penpals.metrics) answers an address in METRICS_ALLOWED_IPS, or a
# caller sending `Authorization: Bearer <METRICS_TOKEN>`; anyone else gets 403.
METRICS_TOKEN = env_secret("METRICS_TOKEN")
# Behind a proxy that is not counted in ALLAUTH_TRUSTED_PROXY_COUNT, every
# request seems to come from the proxy (often 127.0.0.1): trust no address then.
METRICS_ALLOWED_IPS = env_networks(
    "METRICS_ALLOWED_IPS",
    [] if BEHIND_PROXY and ALLAUTH_TRUSTED_PROXY_COUNT <= 0 else ["127.0.0.1/32", "::1/128"],
)
# Prometheus may scrape a web process over plain HTTP on a private network.
SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^(?:[^/]+/)*metrics$"]
# gunicorn's processes each count their own requests; with this folder set
# (in the environment, before the process starts) prometheus_client keeps the
# counts in files there and /metrics adds them up. README "Metrics".
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR must be an existing folder, not {PROMETHEUS_MULTIPROC_DIR!r}"
    )
