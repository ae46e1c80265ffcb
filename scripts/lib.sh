# Shared bootstrap for `make run`, `make test` and `make bench`.
# Sourced, not executed. Every function is safe to call twice.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
UV_VERSION="0.13.9"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
shout() {
  printf '\033[1;31m' >&2
  printf '!!! %s\n' "$@" >&2
  printf '\033[0m' >&2
}
die() { shout "$@"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Install Debian packages when missing (root only). Returns non-zero if they
# cannot be had, so callers decide whether that is fatal.
APT_UPDATED=""
apt_install() {
  is_root || return 1
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  # policy-rc.d keeps the package from starting a system-wide service we don't use.
  local policy=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  local status=$?
  [ -n "$created" ] && rm -f "$policy"
  return $status
}

# The locked virtualenv: uv from the package index, then exactly uv.lock.
ensure_venv() {
  local uv="$ROOT/.tools/bin/uv"
  if [ ! -x "$uv" ] || [ "$("$uv" --version 2>/dev/null | awk '{print $2}')" != "$UV_VERSION" ]; then
    say "installing uv $UV_VERSION into .tools/"
    "$PYTHON" -m venv "$ROOT/.tools"
    "$ROOT/.tools/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  say "installing locked dependencies (uv sync --locked)"
  (cd "$ROOT" && UV_PYTHON="$PYTHON" "$uv" sync --locked --quiet)
  export PATH="$ROOT/.venv/bin:$PATH"
  export VIRTUAL_ENV="$ROOT/.venv"
  ensure_weasyprint_libs
  ensure_tesseract
  ensure_gettext
  compile_messages
}

# Tesseract with English and Spanish data reads scanned replies (messaging.ocr);
# the Dockerfile installs the same packages.
TESSERACT_PACKAGES=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa)
ensure_tesseract() {
  ensure_debian_packages "OCR of scanned replies" "${TESSERACT_PACKAGES[@]}"
}

# Handwriting-like fonts: the tests and `make bench` write replies in them
# (devtools/scanrun.py) to measure OCR on something like handwriting.
HANDWRITING_FONT_PACKAGES=(fonts-dkg-handwriting fonts-humor-sans)
ensure_handwriting_fonts() {
  ensure_debian_packages "Handwritten test replies" "${HANDWRITING_FONT_PACKAGES[@]}"
}

# Install the Debian packages named after $1 (what needs them) that are missing.
ensure_debian_packages() {
  local purpose="$1" package status missing=()
  shift
  command -v dpkg-query >/dev/null 2>&1 || return 0  # not Debian: install them yourself
  for package in "$@"; do
    status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  apt_install "${missing[@]}" \
    || shout "$purpose need ${missing[*]}: apt-get install ${missing[*]}"
}

# WeasyPrint (print-batch PDFs) loads Pango and HarfBuzz at import and needs a
# font; the Dockerfile installs the same packages.
WEASYPRINT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core)
ensure_weasyprint_libs() {
  ensure_debian_packages "Print-batch PDFs" "${WEASYPRINT_PACKAGES[@]}"
}

# GNU gettext: makemessages (xgettext, msgmerge) and compilemessages (msgfmt)
# for the catalogues in locale/; the Dockerfile installs it too.
ensure_gettext() {
  command -v msgfmt >/dev/null 2>&1 && return 0
  apt_install gettext \
    || shout "Translations need GNU gettext (msgfmt, xgettext): apt-get install gettext"
}

# The compiled catalogues (locale/*/LC_MESSAGES/django.mo) are built, not
# committed: Django's compilemessages, which checks each catalogue's
# placeholders (msgfmt --check-format) and stops on an invalid one.
compile_messages() {
  (cd "$ROOT" && DJANGO_DEBUG=true "$ROOT/.venv/bin/python" -W ignore::RuntimeWarning \
    manage.py compilemessages --verbosity 0 \
    --ignore=.venv --ignore=.tools --ignore=.data --ignore=node_modules \
    --ignore=test-artifacts --ignore=corpus) \
    || die "The translation catalogues in locale/ do not compile (see above; locale/README.md)."
}

ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return 0
  apt_install redis-server >/dev/null 2>&1 || true
  command -v redis-server >/dev/null 2>&1
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  apt_install chromium || die "Chromium is needed for the browser tests: apt-get install chromium"
}

# wrk drives the load run of `make bench` (devtools/benchmarks/load.py). Returns
# non-zero if it cannot be had; the load run is then skipped with a warning.
ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  apt_install wrk >/dev/null 2>&1 || true
  command -v wrk >/dev/null 2>&1
}

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# run_as_postgres CMD...: Postgres refuses to run as root, so root runs it as `postgres`.
run_as_postgres() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_postgres DIR [throwaway]
# A private cluster in DIR on a free loopback port. Sets PG_DIR, PG_PORT and
# DATABASE_URL. The `penpals` role owns database `penpals` and may create the
# test databases. A throwaway cluster trades durability for speed.
start_postgres() {
  PG_DIR="$1"
  local throwaway="${2:-}"
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PG_BIN (set PG_BIN)"
  mkdir -p "$PG_DIR"
  chmod 700 "$PG_DIR"
  is_root && chown postgres:postgres "$PG_DIR"
  local password_file="$PG_DIR/penpals.password"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in ${PG_DIR#"$ROOT"/}"
    run_as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$password_file"
    is_root && chown postgres:postgres "$password_file"
    chmod 600 "$password_file"
  fi
  PG_PORT="$(free_port)"
  local options="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR"
  if [ -n "$throwaway" ]; then
    options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  fi
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  run_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -o "$options" -w -t 60 start >/dev/null \
    || { tail -20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start (log: $PG_DIR/server.log)"; }
  local password
  password="$(run_as_postgres cat "$password_file")"
  run_as_postgres "$PG_BIN/psql" -q -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'penpals') THEN
    CREATE ROLE penpals LOGIN CREATEDB PASSWORD '$password';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE penpals OWNER penpals' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'penpals')\gexec
SQL
  export DATABASE_URL="postgres://penpals:$password@127.0.0.1:$PG_PORT/penpals"
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
  say "stopping PostgreSQL"
  run_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || true
}

# start_redis DIR [throwaway]: sets REDIS_DIR, REDIS_PORT, REDIS_URL. If no
# redis-server can be had, REDIS_URL is empty: the app falls back to a local
# cache and runs tasks eagerly in-process.
start_redis() {
  REDIS_DIR="$1"
  local throwaway="${2:-}"
  if ! ensure_redis_server; then
    shout "========================================================================" \
          "Redis is not available and could not be installed." \
          "Penpals will run WITHOUT Redis: a local in-process cache, and Celery" \
          "tasks run eagerly inside the web process. Install redis-server to fix." \
          "========================================================================"
    export REDIS_URL=""
    return 0
  fi
  mkdir -p "$REDIS_DIR"
  REDIS_PORT="$(free_port)"
  local persistence=(--save 60 1 --appendonly yes)
  [ -n "$throwaway" ] && persistence=(--save "" --appendonly no)
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" "${persistence[@]}" >/dev/null
  local tries=0
  until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -gt 50 ] && die "Redis did not start (log: $REDIS_DIR/redis.log)"
    sleep 0.1
  done
  echo "$REDIS_PORT" >"$REDIS_DIR/redis.port"  # for `make manage` while `make run` runs
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

# The environment of `make run` and `make manage`: development settings over
# the data in $1 (.data/).
export_dev_env() {
  local state="$1"
  export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
  export EMAIL_FILE_PATH="$state/mail"
  export SITE_URL="http://127.0.0.1:${PORT:-8000}"
}

# attach_postgres DIR: if the cluster in DIR is running (`make run` started
# it), set PG_DIR="" (so stop_postgres leaves it alone) and DATABASE_URL to
# it, and return 0; else return 1.
attach_postgres() {
  local dir="$1"
  [ -f "$dir/data/postmaster.pid" ] || return 1
  run_as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || return 1
  local port password
  port="$(run_as_postgres sed -n 4p "$dir/data/postmaster.pid")"
  password="$(run_as_postgres cat "$dir/penpals.password")"
  PG_DIR=""
  export DATABASE_URL="postgres://penpals:$password@127.0.0.1:$port/penpals"
}

# attach_redis DIR: if the Redis of DIR is running, set REDIS_URL to it (and
# REDIS_PORT="", so stop_redis leaves it alone) and return 0; else return 1.
attach_redis() {
  local dir="$1" port
  [ -f "$dir/redis.port" ] || return 1
  port="$(cat "$dir/redis.port")"
  command -v redis-cli >/dev/null 2>&1 && redis-cli -p "$port" ping >/dev/null 2>&1 || return 1
  REDIS_PORT=""
  export REDIS_URL="redis://127.0.0.1:$port/0"
}

stop_redis() {
  [ -n "${REDIS_PORT:-}" ] || return 0
  say "stopping Redis"
  redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
  REDIS_PORT=""
}

# The test suite's JavaScript (axe-core for the accessibility tests), exactly
# as package-lock.json pins it. `npm ci` runs when node_modules is missing or
# older than the lock file (npm writes node_modules/.package-lock.json last).
ensure_node_modules() {
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || die "Node.js and npm are needed for the accessibility tests: apt-get install nodejs npm"
  fi
  local installed="$ROOT/node_modules/.package-lock.json"
  if [ -f "$installed" ] && [ ! "$ROOT/package-lock.json" -nt "$installed" ]; then
    return 0
  fi
  say "installing locked test JavaScript (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}
