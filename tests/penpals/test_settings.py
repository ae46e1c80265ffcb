"""The settings refuse unsafe production configurations and pass check --deploy."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_environ() -> dict[str, str]:
    """The test process's environment without Django switches set by the suite."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    base = clean_environ()
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "penpals.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "penpals.example.org",
        **overrides,
    }


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = run_python(
        "import django; django.setup()", DJANGO_DEBUG="false", DJANGO_ALLOWED_HOSTS="x.org"
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_it_refuses_the_development_key_in_production():
    result = run_python(
        "import django; django.setup()",
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="x.org",
        DJANGO_SECRET_KEY="django-insecure-" + "a" * 50,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_it_refuses_to_start_without_allowed_hosts_when_debug_is_off():
    env = production_env()
    del env["DJANGO_ALLOWED_HOSTS"]
    result = run_python("import django; django.setup()", **env)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must be set" in result.stderr


def test_it_rejects_a_malformed_boolean():
    result = run_python("import django; django.setup()", DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be true or false" in result.stderr


def test_it_reads_secrets_from_files(tmp_path):
    secret_file = tmp_path / "secret"
    key = secrets.token_urlsafe(60)
    secret_file.write_text(key + "\n")
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run_python(
        "from django.conf import settings; print(settings.SECRET_KEY)",
        DJANGO_SECRET_KEY_FILE=str(secret_file),
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key


def test_it_passes_check_deploy_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean_environ(), **production_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "setting, expected",
    [
        ("SECURE_SSL_REDIRECT", True),
        ("SESSION_COOKIE_SECURE", True),
        ("CSRF_COOKIE_SECURE", True),
        ("SECURE_HSTS_SECONDS", 31536000),
        ("X_FRAME_OPTIONS", "DENY"),
        ("SECURE_REFERRER_POLICY", "same-origin"),
    ],
)
def test_it_is_secure_by_default_in_production(setting, expected):
    result = run_python(
        f"import json; from django.conf import settings; print(json.dumps(settings.{setting}))",
        **production_env(),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_it_trusts_the_proxy_header_only_when_told():
    code = "from django.conf import settings; print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
    assert run_python(code, **production_env()).stdout.strip() == "None"
    behind = run_python(code, **production_env(DJANGO_BEHIND_PROXY="true"))
    assert "HTTP_X_FORWARDED_PROTO" in behind.stdout


def test_it_logs_json_lines_to_stdout():
    result = run_python(
        "import django, logging; django.setup(); logging.getLogger('penpals.test').warning('hello', extra={'letter_id': 7})",
        DJANGO_DEBUG="true",
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["level"] == "WARNING"
    assert line["logger"] == "penpals.test"
    assert line["letter_id"] == 7


def test_it_requires_postgres():
    result = run_python(
        "import django; django.setup()", DJANGO_DEBUG="true", DATABASE_URL="sqlite:///x.db"
    )
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_it_documents_every_environment_variable_in_the_readme():
    settings_source = (ROOT / "penpals" / "settings.py").read_text()
    names = set(re.findall(r"env_\w+\(\s*\"([A-Z0-9_]+)\"", settings_source))
    assert {"DJANGO_DEBUG", "DATABASE_URL", "REDIS_URL", "S3_PRIVATE_BUCKET"} <= names
    # Rows of the configuration table: the README's "## Configuration" section
    # (other tables, e.g. the migrations check's, name other things).
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, re.MULTILINE))
    assert names - documented == set()
