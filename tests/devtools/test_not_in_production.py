"""Development tools (devtools/) stay out of production (issue 16).

The production image is built without the package (.dockerignore), settings
install the app only in development, test and bench runs, and no product app
imports it, so the product starts the same whether devtools is there or not.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("penpals", "profiles", "messaging", "moderation")

INSTALLED = (
    "import django; django.setup(); from django.apps import apps; "
    "import json; print(json.dumps(sorted(c.name for c in apps.get_app_configs())))"
)


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_dockerignored(path: str) -> bool:
    """Whether the build context leaves out `path` (a top-level pattern excludes all below it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.rstrip("/"))
        for pattern in dockerignore_patterns()
        for prefix in prefixes
    )


def production_env() -> dict[str, str]:
    """The test process's environment with production settings instead of the suite's."""
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DJANGO_") and name != "PYTHONPATH"
    }
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "penpals.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "penpals.example.org",
    }


def run_python(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**production_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def installed_apps(cwd: Path, **env: str) -> list[str]:
    result = run_python(["-c", INSTALLED], cwd, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def image_context(tmp_path_factory) -> Path:
    """The repository as the Dockerfile's `COPY . .` sees it: what .dockerignore leaves in."""
    context = tmp_path_factory.mktemp("image")
    for entry in ROOT.iterdir():
        if not is_dockerignored(entry.name):
            (context / entry.name).symlink_to(entry)
    return context


def test_it_leaves_devtools_and_the_corpus_out_of_the_image():
    assert is_dockerignored("devtools")
    assert is_dockerignored("devtools/management/commands/seed_demo.py")
    assert is_dockerignored("corpus/screening/en_clean.json")
    assert not is_dockerignored("penpals/settings.py")
    assert not is_dockerignored("moderation/rules/signal_model.json")


def test_it_installs_devtools_only_in_development():
    assert "devtools" in installed_apps(ROOT, DJANGO_DEBUG="true")
    assert "devtools" not in installed_apps(ROOT)


def test_it_has_no_demo_or_bench_commands_in_production():
    result = run_python(["manage.py", "seed_demo", "--print-logins"], ROOT)
    assert result.returncode != 0
    assert "Unknown command: 'seed_demo'" in result.stderr


@pytest.mark.parametrize("debug", ["false", "true"])
def test_it_starts_without_the_devtools_package(image_context, debug):
    apps = installed_apps(image_context, DJANGO_DEBUG=debug)
    assert "devtools" not in apps
    assert {"penpals", "profiles", "messaging", "moderation"} <= set(apps)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_it_finds_no_product_module_importing_devtools():
    importers = sorted(
        str(path.relative_to(ROOT))
        for app in PRODUCT_APPS
        for path in (ROOT / app).rglob("*.py")
        if any(
            name == "devtools" or name.startswith("devtools.") for name in imported_modules(path)
        )
    )
    assert importers == []
