#!/usr/bin/env bash
# `make bench`: every benchmark against a throwaway Postgres and Redis.
# Prints one line per figure: `metric.name value unit`.
source "$(dirname "$0")/lib.sh"

ensure_venv
ensure_handwriting_fonts
# The load run needs wrk; without it that one benchmark is skipped.
ensure_wrk || shout "wrk could not be installed: the load run will be skipped (apt-get install wrk)."
RUN_DIR="$(mktemp -d /tmp/penpals-bench.XXXXXX)"
chmod 755 "$RUN_DIR"
cleanup() {
  trap - EXIT INT TERM
  stop_redis
  stop_postgres
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_postgres "$RUN_DIR/postgres" throwaway
start_redis "$RUN_DIR/redis" throwaway
export DJANGO_DEBUG=true
export MEDIA_ROOT="$RUN_DIR/media/public" PRIVATE_MEDIA_ROOT="$RUN_DIR/media/private"
export EMAIL_FILE_PATH="$RUN_DIR/mail"

cd "$ROOT"
python manage.py migrate --noinput -v 0
python manage.py bench "$@"
