# Penpals production image: gunicorn serving Django, static files by whitenoise.
# The same image runs the web process (default CMD), the Celery worker and
# Celery beat (see docker-compose.yml); every setting comes from the environment.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# WeasyPrint (print-batch PDFs) needs Pango, HarfBuzz and a font; Tesseract
# reads scanned replies; gettext compiles the translation catalogues in
# locale/ (as scripts/lib.sh); postgresql-client has pg_dump and pg_restore
# for `manage.py backup` and `restore`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core gettext \
        tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN pip install "uv==0.13.9"

WORKDIR /app

# Dependencies first, so editing the code does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project

COPY . .
RUN uv sync --locked --no-dev

ENV PATH="/app/.venv/bin:${PATH}"

# Static files are collected into the image at build time. The secret key here
# is a throwaway used only by this one command: it is not in the image's
# environment, and the running containers must be given their own.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY="build-only-collectstatic-Zq7Lw2Vx9Kp4Rt8Yb3Nm6Hs1Jd5Fg0Ce-not-secret" \
    DJANGO_ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput \
    && DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY="build-only-collectstatic-Zq7Lw2Vx9Kp4Rt8Yb3Nm6Hs1Jd5Fg0Ce-not-secret" \
    DJANGO_ALLOWED_HOSTS=build \
    python manage.py compilemessages --ignore=.venv

# Run as an unprivileged user. The code and collected static files stay
# root-owned (read-only to the app); the user owns only its home (gunicorn's
# control socket) and the folders for local media and mail, which are used
# only when S3 or SMTP are not configured.
RUN groupadd --system --gid 10001 penpals \
    && useradd --system --uid 10001 --gid penpals --create-home --home-dir /home/penpals penpals \
    && mkdir -p /app/.data/media /app/.data/mail \
    && chown penpals:penpals /app/.data/media /app/.data/mail
USER penpals

EXPOSE 8000

CMD ["gunicorn", "penpals.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
