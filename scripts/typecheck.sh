#!/usr/bin/env bash
# `make typecheck`: mypy with django-stubs over the app code and devtools
# (tests excluded for now). Settings are read in debug mode so no secrets are needed.
source "$(dirname "$0")/lib.sh"

ensure_venv
cd "$ROOT"
DJANGO_DEBUG=true .venv/bin/mypy penpals profiles messaging moderation devtools
