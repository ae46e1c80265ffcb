#!/usr/bin/env bash
# `make migrations-check`: every model change has its migration (no database needed).
source "$(dirname "$0")/lib.sh"

ensure_venv
cd "$ROOT"
DJANGO_DEBUG=true .venv/bin/python -W ignore::RuntimeWarning manage.py makemigrations --check --dry-run
