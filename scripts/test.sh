#!/usr/bin/env bash
# `make test`: bootstrap, a throwaway Postgres and Redis, the whole pytest suite.
# Exit status is pytest's. Extra arguments go to pytest (make test ARGS="-k foo").
source "$(dirname "$0")/lib.sh"

ensure_venv
ensure_handwriting_fonts
ensure_chromium
ensure_node_modules
ensure_redis_server || die "redis-server is needed for the tests and could not be installed."
# tests/penpals/test_load_bench.py runs the load-run wrk script for a second.
ensure_wrk || shout "wrk could not be installed: the load-run script test will be skipped."

RUN_DIR="$(mktemp -d /tmp/penpals-test.XXXXXX)"
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
export EMAIL_FILE_PATH="$RUN_DIR/mail" STATIC_ROOT="$RUN_DIR/static"
export PLAYWRIGHT_BROWSERS_PATH=0 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

cd "$ROOT"
python manage.py collectstatic --noinput -v 0
set +e
python -m pytest "$@"
status=$?
set -e
exit $status
