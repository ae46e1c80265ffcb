#!/usr/bin/env bash
# `make run`: set up and start the whole app with demo data on http://127.0.0.1:8000.
# Data (database, Redis, media, emails) lives in .data/ and is reused next time.
# Ctrl-C stops everything this script started, and says so calmly (exit 0);
# only a process that dies by itself is reported as a failure (exit 1).
source "$(dirname "$0")/lib.sh"

# PENPALS_DATA_DIR: another data folder (the tests use a throwaway one).
STATE="${PENPALS_DATA_DIR:-$ROOT/.data}"
WEB_PORT="${PORT:-8000}"
mkdir -p "$STATE/mail" "$STATE/media/public" "$STATE/media/private" "$STATE/logs"

if "$PYTHON" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $WEB_PORT)) != 0)"; then
  die "Port $WEB_PORT is already in use: stop what runs there (or set PORT=...)."
fi

ensure_venv

CHILDREN=()
cleanup() {
  trap - EXIT INT TERM
  say "stopping Penpals"
  for pid in "${CHILDREN[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${CHILDREN[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_redis
  stop_postgres
}
trap cleanup EXIT
# Ctrl-C before the app is up: stop at once. Once it is up, see the end.
trap 'exit 130' INT TERM

start_postgres "$STATE/postgres"
start_redis "$STATE/redis"

export_dev_env "$STATE"
export SITE_URL="http://127.0.0.1:$WEB_PORT"
cd "$ROOT"

say "applying migrations"
python manage.py migrate --noinput
python manage.py collectstatic --noinput -v 0
say "loading demo data"
python manage.py seed_demo

if [ -n "$REDIS_URL" ]; then
  celery -A penpals worker --loglevel=INFO --concurrency=2 >"$STATE/logs/worker.log" 2>&1 &
  CHILDREN+=($!)
  celery -A penpals beat --loglevel=INFO --schedule "$STATE/celerybeat-schedule" >"$STATE/logs/beat.log" 2>&1 &
  CHILDREN+=($!)
  say "Celery worker and beat started (logs in .data/logs/)"
fi
# Single-threaded (sync) workers, as the README's benchmarks explain.
gunicorn penpals.wsgi:application --bind "127.0.0.1:$WEB_PORT" --workers 4 \
  --access-logfile - --graceful-timeout 5 &
CHILDREN+=($!)

for _ in $(seq 1 100); do
  "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$WEB_PORT/healthz', timeout=2)" 2>/dev/null && break
  sleep 0.2
done

cat >&2 <<BANNER

  Penpals is running at http://127.0.0.1:$WEB_PORT/

  Demo logins (password for all: $(python manage.py seed_demo --print-password))
$(python manage.py seed_demo --print-logins | sed 's/^/    /')

  Emails sent by the app are printed here and saved in .data/mail/.
  The moderator's two-factor authentication is set up already (current code:
  make manage ARGS="seed_demo --print-totp-code"). The admin and the liaison set
  it up on their first visit to /admin/ or /liaison/.
  Press Ctrl-C to stop.

BANNER

# Stop everything when any one process dies, or on Ctrl-C. Ctrl-C reaches the
# children too, so one of them may end the wait before this shell's trap runs:
# the trap only records the request, and the status below is decided after.
STOP_REQUESTED=""
trap 'STOP_REQUESTED=1' INT TERM
set +e
wait -n "${CHILDREN[@]}"
set -e
sleep 0.5  # let a Ctrl-C that also ended the child reach this shell's trap
if [ -n "$STOP_REQUESTED" ]; then
  cleanup
  say "Penpals stopped. Your data stays in .data/ for the next make run."
  exit 0
fi
shout "a Penpals process exited by itself; stopping the rest (logs in .data/logs/)"
exit 1
