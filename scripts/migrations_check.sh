#!/usr/bin/env bash
# `make migrations-check`: every model change has its migration, and every new
# migration is safe on a full database while the old release still serves
# (devtools/migration_safety.py, README "Safe migrations"). A migration's SQL
# depends on the schema it meets, so the second half runs on a throwaway
# Postgres, which it migrates step by step.
source "$(dirname "$0")/lib.sh"

ensure_venv
cd "$ROOT"
DJANGO_DEBUG=true .venv/bin/python -W ignore::RuntimeWarning manage.py makemigrations --check --dry-run

RUN_DIR="$(mktemp -d /tmp/penpals-migrations.XXXXXX)"
chmod 755 "$RUN_DIR"
cleanup() {
  trap - EXIT INT TERM
  stop_postgres
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_postgres "$RUN_DIR/postgres" throwaway
# No Redis: the check needs none (the app falls back to a local cache).
DJANGO_DEBUG=true REDIS_URL="" .venv/bin/python -W ignore::RuntimeWarning manage.py check_migration_safety
