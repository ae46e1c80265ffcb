#!/usr/bin/env bash
# `make run`: set up and start the whole app with demo data on http://127.0.0.1:8000.
# Data (database, Redis, media, emails) lives in .data/ and is reused next time.
# Ctrl-C stops everything this script started.
source "$(dirname "$0")/lib.sh"

STATE="$ROOT/.data"
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
trap 'exit 130' INT TERM

start_postgres "$STATE/postgres"
start_redis "$STATE/redis"

export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export EMAIL_FILE_PATH="$STATE/mail"
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
gunicorn penpals.wsgi:application --bind "127.0.0.1:$WEB_PORT" --workers 2 --threads 2 \
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
  python manage.py seed_demo --print-totp-code). The admin and the liaison set
  it up on their first visit to /admin/ or /liaison/.
  Press Ctrl-C to stop.

BANNER

# Stop everything when any one process dies, or on Ctrl-C.
wait -n "${CHILDREN[@]}"
shout "a Penpals process exited; stopping the rest"
