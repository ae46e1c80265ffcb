"""The deployment files agree with what the app reads from its environment.

docker-compose.yml and the Dockerfile cannot be run here (no container engine),
so these tests read them: every app process gets the settings it needs, the
backing services have healthchecks and volumes, and every variable the compose
file gives the app is documented in README.md's configuration table.
No database is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"

APP_SERVICES = ("web", "worker", "beat")
REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "S3_PUBLIC_BUCKET",
    "S3_PRIVATE_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "EMAIL_HOST",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    # safe_load resolves the x-app-env anchor and the `<<:` merge keys.
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment_of(service: dict) -> dict[str, str]:
    """A service's environment as a dict, whichever of compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on_of(service: dict) -> dict[str, str]:
    """Each dependency's condition (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def test_it_defines_every_service(services):
    for name in ("web", "worker", "beat", "postgres", "redis", "minio", "mailpit"):
        assert name in services, f"docker-compose.yml has no {name} service"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_it_gives_each_app_process_the_required_settings(services, name):
    env = environment_of(services[name])
    missing = [var for var in REQUIRED if not env.get(var)]
    assert not missing, f"{name} lacks {missing}"
    assert env["DJANGO_DEBUG"].strip().lower() == "false"
    # The secret key must come from the operator: compose refuses to start without it.
    assert re.fullmatch(r"\$\{DJANGO_SECRET_KEY:\?[^}]*\}", env["DJANGO_SECRET_KEY"]), env[
        "DJANGO_SECRET_KEY"
    ]
    assert env["EMAIL_HOST"] == "mailpit"


def test_it_runs_the_right_command_in_each_app_process(services):
    def command(name: str) -> str:
        cmd = services[name].get("command")
        return " ".join(cmd) if isinstance(cmd, list) else str(cmd)

    assert command("web").startswith("gunicorn penpals.wsgi:application")
    assert "celery -A penpals worker" in command("worker")
    assert "celery -A penpals beat" in command("beat")
    assert "manage.py migrate" in command("migrate")


@pytest.mark.parametrize("name", ("postgres", "redis", "minio", "mailpit", "web"))
def test_it_has_a_healthcheck_for(services, name):
    healthcheck = services[name].get("healthcheck") or {}
    assert healthcheck.get("test"), f"{name} has no healthcheck"
    assert not healthcheck.get("disable")


def test_it_checks_the_web_process_through_healthz(services):
    test = services["web"]["healthcheck"]["test"]
    assert "/healthz" in " ".join(test if isinstance(test, list) else [test])


@pytest.mark.parametrize("name", ("postgres", "redis", "minio"))
def test_it_keeps_data_in_a_named_volume(compose, services, name):
    declared = compose.get("volumes") or {}
    named = [
        mount.split(":", 1)[0]
        for mount in services[name].get("volumes") or []
        if isinstance(mount, str) and ":" in mount
    ]
    assert any(volume in declared for volume in named), f"{name} has no named volume"


def test_it_starts_web_after_its_dependencies_are_ready(services):
    deps = depends_on_of(services["web"])
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"
    assert deps.get("migrate") == "service_completed_successfully"
    assert deps.get("createbuckets") == "service_completed_successfully"


@pytest.mark.parametrize("name", ("worker", "beat"))
def test_it_starts_celery_after_its_dependencies_are_ready(services, name):
    deps = depends_on_of(services[name])
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"
    assert deps.get("createbuckets") == "service_completed_successfully"


def test_it_keeps_the_private_bucket_private(services):
    env = environment_of(services["web"])
    script = " ".join(services["createbuckets"]["command"])
    public, private = env["S3_PUBLIC_BUCKET"], env["S3_PRIVATE_BUCKET"]
    assert public != private
    # The public bucket gets an anonymous read policy; the private one has
    # its anonymous access removed and is never given any.
    assert re.search(rf"mc anonymous set(-json \S+| download) \S*/{re.escape(public)}\b", script)
    assert re.search(rf"mc anonymous set none \S*/{re.escape(private)}\b", script)
    granted = re.findall(rf"mc anonymous (set-json \S+|set \w+) \S*/{re.escape(private)}\b", script)
    assert granted == ["set none"], f"the private bucket is given anonymous access: {granted}"
    # No policy document in the script lets anyone ("*") at the private bucket.
    for document in re.findall(r"<<'?(\w+)'?\n(.*?)\n\s*\1\b", script, re.DOTALL):
        policy = json.loads(document[1])
        for statement in policy.get("Statement", []):
            if "*" in json.dumps(statement.get("Principal", "")):
                assert private not in json.dumps(statement.get("Resource", "")), statement


def test_it_builds_a_python_311_image_from_the_lock_file():
    assert DOCKERFILE.exists()
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11", text, re.MULTILINE)
    assert "uv sync --locked" in text
    assert "collectstatic" in text
    # The running containers are not root and carry no baked-in secret key.
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert not re.search(r"^ENV\b.*DJANGO_SECRET_KEY", text, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000\b", text, re.MULTILINE)


def test_it_documents_every_app_variable_in_the_readme(services):
    """Each variable compose sets for the app has a row in README's configuration table."""
    assert README.exists(), "README.md is missing"
    table_rows = [line for line in README.read_text().splitlines() if line.lstrip().startswith("|")]
    variables = set()
    for name in (*APP_SERVICES, "migrate"):
        variables |= set(environment_of(services[name]))
    undocumented = sorted(
        var
        for var in variables
        if not any(re.search(rf"(?<![A-Z0-9_]){var}(?![A-Z0-9_])", row) for row in table_rows)
    )
    assert not undocumented, f"not in README.md's configuration table: {undocumented}"
