#!/usr/bin/env bash
# `make manage ARGS="..."`: run `python manage.py ARGS` against the data of
# `make run` (.data/), with the same settings. While `make run` is running it
# uses its PostgreSQL and Redis; otherwise it starts them for the command and
# stops them after (then tasks the command enqueues wait in Redis for the next
# `make run`'s worker).
source "$(dirname "$0")/lib.sh"

# PENPALS_DATA_DIR: another data folder (the tests use a throwaway one).
STATE="${PENPALS_DATA_DIR:-$ROOT/.data}"
mkdir -p "$STATE/mail" "$STATE/media/public" "$STATE/media/private" "$STATE/logs"

ensure_venv >/dev/null 2>&1 || ensure_venv

cleanup() {
  stop_redis
  stop_postgres
}
trap cleanup EXIT

attach_postgres "$STATE/postgres" || start_postgres "$STATE/postgres"
attach_redis "$STATE/redis" || start_redis "$STATE/redis"
export_dev_env "$STATE"
cd "$ROOT"

set +e
python manage.py "$@"
status=$?
set -e
exit "$status"
