"""Backup and restore of the 100,000-profile data set (penpals.backup).

- backup.seconds, backup.bytes: `take_snapshot` to a local folder, plain
  (the database dump, both media archives and the manifest, as stored);
- backup.encrypted.seconds, backup.encrypted.bytes: the same, encrypted;
- restore.seconds: `manage.py restore` of the plain snapshot into a new
  database of the same cluster (the penpals role may create databases) and
  empty media folders, as the command reports it: reading and checking every
  file, pg_restore, the table fingerprints of the copy and the media files
  written and read back.

The data set is the one the load and directory benchmarks use; it is seeded
here when missing, so `bash scripts/bench.sh -k backup` runs alone.
"""

from __future__ import annotations

import base64
import io
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from devtools.demo.profiles import seed_scale
from penpals import backup
from penpals.backup_targets import LocalTarget
from profiles import search_words
from profiles.models import InmateProfile

Figure = tuple[str, float | int, str]

PROFILES = 100_000
ROOT = Path(__file__).resolve().parents[2]


def _ensure_data() -> Iterator[Figure]:
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    listed = InmateProfile.objects.published().count()
    if listed < PROFILES:
        yield "backup.seed_scale.seconds", seed_scale(PROFILES - listed), "s"
        search_words.refresh()
    yield "backup.published_profiles", InmateProfile.objects.published().count(), "profiles"


def _database_url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{name}"


def _admin() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"],
        autocommit=True,
    )


def bench_backup() -> Iterator[Figure]:
    yield from _ensure_data()
    with tempfile.TemporaryDirectory(prefix="penpals-bench-backup-") as folder:
        plain = LocalTarget(Path(folder) / "plain")
        result = backup.take_snapshot(plain)
        yield "backup.seconds", result.seconds, "s"
        yield "backup.bytes", result.bytes_written, "bytes"
        yield "backup.files", result.files, "files"

        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        original_key = settings.BACKUP_ENCRYPTION_KEY
        settings.BACKUP_ENCRYPTION_KEY = key
        try:
            encrypted = backup.take_snapshot(LocalTarget(Path(folder) / "encrypted"))
        finally:
            settings.BACKUP_ENCRYPTION_KEY = original_key
        yield "backup.encrypted.seconds", encrypted.seconds, "s"
        yield "backup.encrypted.bytes", encrypted.bytes_written, "bytes"

        name = f"bench_restore_{secrets.token_hex(4)}"
        with _admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            env = {
                **{k: v for k, v in os.environ.items() if k != "BACKUP_ENCRYPTION_KEY"},
                "DATABASE_URL": _database_url(name),
                "MEDIA_ROOT": str(Path(folder) / "restored" / "public"),
                "PRIVATE_MEDIA_ROOT": str(Path(folder) / "restored" / "private"),
                "BACKUP_TARGET": str(plain.root),
                "REDIS_URL": "",
            }
            started = time.monotonic()
            restored = subprocess.run(  # noqa: S603 - our own manage.py
                [sys.executable, "manage.py", "restore", result.snapshot],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.monotonic() - started
            if restored.returncode != 0:
                raise RuntimeError(f"restore failed: {restored.stderr}")
            reported = re.search(r"in ([0-9.]+)s\.", restored.stdout)
            yield "restore.seconds", float(reported.group(1)) if reported else wall, "s"
        finally:
            with _admin() as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
