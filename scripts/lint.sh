#!/usr/bin/env bash
# `make lint`: formatting, lint rules and the migrations check (no database needed).
source "$(dirname "$0")/lib.sh"

ensure_venv
cd "$ROOT"
.venv/bin/ruff format --check .
.venv/bin/ruff check .
# Every model change has its migration.
DJANGO_DEBUG=true .venv/bin/python -W ignore::RuntimeWarning manage.py makemigrations --check --dry-run
