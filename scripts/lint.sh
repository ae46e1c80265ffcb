#!/usr/bin/env bash
# `make lint`: formatting, lint rules and the import layers (no database needed).
source "$(dirname "$0")/lib.sh"

ensure_venv
cd "$ROOT"
.venv/bin/ruff format --check .
.venv/bin/ruff check .
# Each app imports only the layers below it, and no module cycles
# (pyproject.toml [tool.importlinter]).
DJANGO_DEBUG=true .venv/bin/lint-imports
