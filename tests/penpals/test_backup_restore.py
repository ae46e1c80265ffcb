"""The restore drill (penpals.backup), with real parts.

A source database in the test cluster gets `migrate` and `seed_demo` (letters,
scanned replies, photos, consent forms) with its own media folders; `manage.py
backup` snapshots it, plain and encrypted; a NEW PostgreSQL cluster, started
here, and new empty media folders receive `manage.py restore`. Every table's
row count and content hash and every file's hash must match, and the app must
serve the same pages from the copy. Every command runs as a subprocess with
the environment an operator would set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.config import Config as BotocoreConfig
from django.conf import settings
from psycopg import sql

from penpals import backup_crypto
from penpals.backup import (
    MANIFEST,
    database_fingerprints,
    prune,
    snapshot_time,
    snapshots_to_keep,
)
from penpals.backup_targets import LocalTarget
from tests.penpals.test_storage_s3 import ACCESS_KEY, REGION, SECRET_KEY, _start_moto, _stop
from tests.penpals.test_storage_s3 import http_get as anonymous_get

pytestmark = pytest.mark.xdist_group("backup")

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "restore-drill-password"


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    # Postgres refuses to run as root (scripts/lib.sh run_as_postgres).
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Cluster:
    port: int
    folder: Path

    def url(self, database: str) -> str:
        return f"postgres://penpals:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def settings_dict(self, database: str) -> dict:
        return {
            "NAME": database,
            "USER": "penpals",
            "PASSWORD": PASSWORD,
            "HOST": "127.0.0.1",
            "PORT": self.port,
        }

    def psql(self, database: str, statement: str) -> str:
        result = subprocess.run(
            _as_postgres(
                [str(PG_SERVER_BIN / "psql"), "-h", str(self.folder), "-p", str(self.port),
                 "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", statement]
            ),
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql("postgres", f"CREATE DATABASE {name} OWNER penpals")
        return self.url(name)


@pytest.fixture(scope="module")
def cluster():
    """A new, empty PostgreSQL cluster on a free port: the restore's target."""
    folder = Path(tempfile.mkdtemp(prefix="penpals-restore-cluster-", dir="/tmp"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [str(PG_SERVER_BIN / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
             "--locale=C.UTF-8"]
        ),
        check=True, capture_output=True,
    )  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        _as_postgres(
            [str(PG_SERVER_BIN / "pg_ctl"), "-D", str(folder / "data"), "-l",
             str(folder / "server.log"), "-o", options, "-w", "-t", "60", "start"]
        ),
        check=True, capture_output=True,
    )  # fmt: skip
    found = Cluster(port=port, folder=folder)
    try:
        found.psql("postgres", f"CREATE ROLE penpals LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        yield found
    finally:
        subprocess.run(
            _as_postgres(
                [str(PG_SERVER_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate",
                 "-w", "stop"]
            ),
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def app_env(database_url: str, media: Path, **extra: str) -> dict[str, str]:
    """The environment of a manage.py process on this database and media folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKUP_", "S3_"))}
    env.update(
        DJANGO_DEBUG="true",
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media / "public"),
        PRIVATE_MEDIA_ROOT=str(media / "private"),
        # Tasks run in the process and the cache is its own: nothing shared with other tests.
        REDIS_URL="",
        LOG_LEVEL="WARNING",
        EMAIL_FILE_PATH=str(media / "mail"),
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if check and result.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Source:
    database: dict
    url: str
    media: Path


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A database of the test cluster with the demo data, and its media folders."""
    base = settings.DATABASES["default"]
    name = f"backup_source_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"
    admin = psycopg.connect(
        dbname=base["NAME"], user=base["USER"], password=base["PASSWORD"],
        host=base["HOST"], port=base["PORT"], autocommit=True,
    )  # fmt: skip
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database = {**base, "NAME": name}
    url = f"postgres://{base['USER']}:{base['PASSWORD']}@{base['HOST']}:{base['PORT']}/{name}"
    media = tmp_path_factory.mktemp("source-media")
    env = app_env(url, media)
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo")
        yield Source(database=database, url=url, media=media)
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.close()


def file_hashes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def row_counts(database: dict) -> dict[str, int]:
    """Each table's row count, counted here rather than by penpals.backup."""
    with psycopg.connect(
        dbname=database["NAME"], user=database["USER"], password=database["PASSWORD"],
        host=database["HOST"], port=database["PORT"],
    ) as conn:  # fmt: skip
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        return {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for (table,) in tables
        }


PAGES_SCRIPT = r"""
import hashlib, json, re, django
django.setup()
from django.db import transaction
from django.test import Client
from messaging.models import Correspondence, LetterScan
from penpals.models import User

pen_pal = User.objects.get(email="alex@example.org")
correspondence = Correspondence.objects.filter(pen_pal=pen_pal).order_by("pk").first()
profile = correspondence.profile
scans = LetterScan.objects.filter(letter__correspondence__pen_pal=pen_pal).order_by("pk")
paths = [
    f"/inmates/{profile.slug}/",
    f"/letters/{correspondence.pk}/",
    *[f"/letters/scan/{scan.pk}/" for scan in scans],
]
if profile.primary_photo_id:
    paths.append(profile.primary_photo.display.url)
pages = {}
# Rolled back: signing in writes a session and last_login, and the database
# must stay as the snapshots saw it.
with transaction.atomic():
    client = Client(SERVER_NAME="localhost")
    client.force_login(pen_pal)
    for path in paths:
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        # Per-request tokens differ between any two requests.
        body = re.sub(rb'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', rb"\1", body)
        pages[path] = [response.status_code, response["Content-Type"], hashlib.sha256(body).hexdigest()]
    transaction.set_rollback(True)
print(json.dumps(pages))
"""


def served_pages(env: dict[str, str]) -> dict[str, list]:
    result = subprocess.run(
        [sys.executable, "-c", PAGES_SCRIPT],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "penpals.settings"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class Snapshot:
    target: Path
    name: str
    key: str


def take_backup(source: Source, target: Path, key: str = "") -> Snapshot:
    env = app_env(source.url, source.media, BACKUP_TARGET=str(target))
    if key:
        env["BACKUP_ENCRYPTION_KEY"] = key
    output = manage(env, "backup").stdout
    name = re.search(r"Snapshot (\S+) written", output).group(1)
    return Snapshot(target=target, name=name, key=key)


@pytest.fixture(scope="module")
def plain_snapshot(source, tmp_path_factory):
    return take_backup(source, tmp_path_factory.mktemp("plain-backups") / "snapshots")


@pytest.fixture(scope="module")
def encrypted_snapshot(source, tmp_path_factory):
    target = tmp_path_factory.mktemp("encrypted-backups") / "snapshots"
    return take_backup(source, target, key=new_key())


def restore_env(cluster: Cluster, database: str, media: Path, snapshot: Snapshot, **extra):
    env = app_env(cluster.url(database), media, BACKUP_TARGET=str(snapshot.target), **extra)
    if snapshot.key:
        env["BACKUP_ENCRYPTION_KEY"] = snapshot.key
    return env


@pytest.fixture(scope="module")
def source_pages(source):
    return served_pages(app_env(source.url, source.media))


@pytest.mark.parametrize("kind", ["plain", "encrypted"])
def test_it_restores_a_copy_that_matches_and_serves_the_same_pages(
    kind, request, source, source_pages, cluster, tmp_path
):
    snapshot = request.getfixturevalue(f"{kind}_snapshot")
    database = f"restored_{kind}"
    cluster.create_database(database)
    media = tmp_path / "restored-media"
    env = restore_env(cluster, database, media, snapshot)

    result = manage(env, "restore", snapshot.name)

    assert "all matching the manifest" in result.stdout
    original_counts = row_counts(source.database)
    assert original_counts["messaging_letter"] > 0
    assert original_counts["messaging_letterscan"] > 0
    assert original_counts["profiles_profilephoto"] > 0
    assert row_counts(cluster.settings_dict(database)) == original_counts
    assert database_fingerprints(cluster.settings_dict(database)) == database_fingerprints(
        source.database
    )
    for storage in ("public", "private"):
        originals = file_hashes(source.media / storage)
        assert originals, storage
        assert file_hashes(media / storage) == originals
    assert any(name.startswith("photos/display/") for name in file_hashes(media / "public"))

    original_pages = source_pages
    restored_pages = served_pages(env)
    assert restored_pages == original_pages
    assert all(status == 200 for status, _type, _hash in original_pages.values())
    scan_pages = [page for path, page in original_pages.items() if "/scan/" in path]
    assert scan_pages and all(page[1].startswith("image/") for page in scan_pages)


def test_it_keeps_snapshots_private_and_encrypts_them(plain_snapshot, encrypted_snapshot):
    for snapshot in (plain_snapshot, encrypted_snapshot):
        folder = snapshot.target / snapshot.name
        assert stat.S_IMODE(snapshot.target.stat().st_mode) == 0o700
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for path in folder.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    plain_folder = plain_snapshot.target / plain_snapshot.name
    encrypted_folder = encrypted_snapshot.target / encrypted_snapshot.name
    assert sorted(path.name for path in encrypted_folder.iterdir()) == [
        "database.dump.enc",
        "manifest.json.enc",
        "media-private.tar.enc",
        "media-public.tar.enc",
    ]
    # Plain archives carry the PNG scans and readable names; encrypted ones neither.
    assert b"\x89PNG" in (plain_folder / "media-private.tar").read_bytes()
    for path in encrypted_folder.iterdir():
        content = path.read_bytes()
        assert b"\x89PNG" not in content and b"photos/" not in content, path
    manifest = json.loads((plain_folder / MANIFEST).read_text())
    assert manifest["tables"]["public.messaging_letter"]["rows"] > 0
    assert all(
        len(entry["sha256"]) == 64
        for media in manifest["media"].values()
        for entry in media["files"].values()
    )


def test_it_refuses_a_non_empty_target_unless_forced(source, cluster, plain_snapshot, tmp_path):
    database = "refusal"
    cluster.create_database(database)
    cluster.psql(
        database, "CREATE TABLE kept_by_refusal (id int); INSERT INTO kept_by_refusal VALUES (1)"
    )
    media = tmp_path / "media"
    env = restore_env(cluster, database, media, plain_snapshot)

    refused = manage(env, "restore", plain_snapshot.name, check=False)

    assert refused.returncode != 0
    assert "Refusing to restore over existing data in the database 'refusal'" in refused.stderr
    assert "--force" in refused.stderr
    assert cluster.psql(database, "SELECT count(*) FROM kept_by_refusal") == "1"
    assert not (media / "public").exists() or not any((media / "public").rglob("*"))

    # Empty database, but a file in the private storage: refused too, file untouched.
    cluster.psql(database, "DROP TABLE kept_by_refusal")
    (media / "private").mkdir(parents=True)
    (media / "private" / "stray.txt").write_bytes(b"already here")
    refused = manage(env, "restore", plain_snapshot.name, check=False)
    assert refused.returncode != 0
    assert "storage 'private'" in refused.stderr
    assert (media / "private" / "stray.txt").read_bytes() == b"already here"
    assert cluster.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname='public'") == "0"

    cluster.psql(database, "CREATE TABLE dropped_by_force (id int)")
    manage(env, "restore", plain_snapshot.name, "--force")

    assert not (media / "private" / "stray.txt").exists()
    assert cluster.psql(database, "SELECT to_regclass('dropped_by_force') IS NULL") == "t"
    assert file_hashes(media / "private") == file_hashes(source.media / "private")


def _copy_snapshot(snapshot: Snapshot, tmp_path: Path) -> Snapshot:
    target = tmp_path / "copied"
    shutil.copytree(snapshot.target, target)
    return Snapshot(target=target, name=snapshot.name, key=snapshot.key)


def test_it_refuses_a_tampered_scan_before_writing_anything(cluster, plain_snapshot, tmp_path):
    snapshot = _copy_snapshot(plain_snapshot, tmp_path)
    archive = snapshot.target / snapshot.name / "media-private.tar"
    content = bytearray(archive.read_bytes())
    position = content.index(b"\x89PNG") + 40  # inside a scanned page
    content[position] ^= 0xFF
    archive.write_bytes(bytes(content))
    database = "tampered_plain"
    cluster.create_database(database)
    env = restore_env(cluster, database, tmp_path / "media", snapshot)

    result = manage(env, "restore", snapshot.name, check=False)

    assert result.returncode != 0
    assert "does not match the manifest" in result.stderr
    assert "tampered" in result.stderr
    assert cluster.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname='public'") == "0"
    assert not any((tmp_path / "media").rglob("*.png"))


def test_it_refuses_a_tampered_encrypted_dump(cluster, encrypted_snapshot, tmp_path):
    snapshot = _copy_snapshot(encrypted_snapshot, tmp_path)
    dump = snapshot.target / snapshot.name / "database.dump.enc"
    content = bytearray(dump.read_bytes())
    content[len(content) // 2] ^= 0x01
    dump.write_bytes(bytes(content))
    database = "tampered_encrypted"
    cluster.create_database(database)
    env = restore_env(cluster, database, tmp_path / "media", snapshot)

    result = manage(env, "restore", snapshot.name, check=False)

    assert result.returncode != 0
    assert "database.dump is corrupted or was tampered with" in result.stderr
    assert cluster.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname='public'") == "0"


def test_it_refuses_a_wrong_or_missing_key(cluster, encrypted_snapshot, tmp_path):
    database = "wrong_key"
    cluster.create_database(database)
    env = restore_env(cluster, database, tmp_path / "media", encrypted_snapshot)

    wrong = manage(env | {"BACKUP_ENCRYPTION_KEY": new_key()}, "restore", "latest", check=False)
    env.pop("BACKUP_ENCRYPTION_KEY")
    missing = manage(env, "restore", "latest", check=False)

    assert wrong.returncode != 0
    assert "encrypted with another key: check BACKUP_ENCRYPTION_KEY" in wrong.stderr
    assert missing.returncode != 0
    assert f"Snapshot {encrypted_snapshot.name} is encrypted" in missing.stderr
    assert cluster.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname='public'") == "0"


# --- S3 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    process, endpoint = _start_moto(tmp_path_factory.mktemp("moto-backup") / "server.log")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=BotocoreConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    try:
        yield endpoint, client
    finally:
        _stop(process)


def test_it_backs_up_to_s3_privately_and_restores_into_buckets(source, cluster, moto, tmp_path):
    endpoint, client = moto
    for bucket in ("penpals-backups", "restored-public", "restored-private"):
        client.create_bucket(Bucket=bucket)
    s3_env = {
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_REGION": REGION,
        "BACKUP_TARGET": "s3://penpals-backups/nightly",
        "BACKUP_ENCRYPTION_KEY": new_key(),
    }
    output = manage(app_env(source.url, source.media, **s3_env), "backup").stdout
    name = re.search(r"Snapshot (\S+) written", output).group(1)

    keys = [item["Key"] for item in client.list_objects_v2(Bucket="penpals-backups")["Contents"]]
    assert sorted(keys) == sorted(
        f"nightly/{name}/{file}"
        for file in (
            "database.dump.enc", "manifest.json.enc", "media-public.tar.enc",
            "media-private.tar.enc",
        )
    )  # fmt: skip
    for key in keys:
        assert client.head_object(Bucket="penpals-backups", Key=key)["ServerSideEncryption"] == (
            "AES256"
        )
        grants = client.get_object_acl(Bucket="penpals-backups", Key=key)["Grants"]
        assert not [g for g in grants if g["Grantee"].get("URI", "").endswith("/AllUsers")]
        status, body = anonymous_get(f"{endpoint}/penpals-backups/{key}")
        assert status == 403 and not body.startswith(backup_crypto.MAGIC)

    # Restore from the bucket into S3 media storage and a new database.
    database = "restored_from_s3"
    cluster.create_database(database)
    restored_env = app_env(
        cluster.url(database),
        tmp_path,
        **s3_env,
        S3_PUBLIC_BUCKET="restored-public",
        S3_PRIVATE_BUCKET="restored-private",
    )
    manage(restored_env, "restore", "latest")

    for folder, bucket in (("public", "restored-public"), ("private", "restored-private")):
        restored = {
            item["Key"]: hashlib.sha256(
                client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            ).hexdigest()
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])
        }
        assert restored == file_hashes(source.media / folder)
    private_key = next(iter(file_hashes(source.media / "private")))
    assert anonymous_get(f"{endpoint}/restored-private/{private_key}")[0] == 403
    assert row_counts(cluster.settings_dict(database)) == row_counts(source.database)

    # A backup of the copy reads media from the buckets: the same files again.
    again = tmp_path / "from-s3-media"
    manage(restored_env | {"BACKUP_TARGET": str(again)}, "backup", "--no-prune")
    (snapshot_folder,) = again.iterdir()
    key = backup_crypto.parse_key(s3_env["BACKUP_ENCRYPTION_KEY"])
    with (snapshot_folder / "manifest.json.enc").open("rb") as raw:
        manifest = json.loads(backup_crypto.DecryptingReader(raw, key, MANIFEST).read())
    assert {
        name: entry["sha256"] for name, entry in manifest["media"]["private"]["files"].items()
    } == file_hashes(source.media / "private")


# --- The daily task ------------------------------------------------------------------------


def test_the_daily_task_backs_up_once_a_day_and_only_when_configured(source, tmp_path):
    target = tmp_path / "daily"
    code = (
        "import django; django.setup();"
        "from django.conf import settings;"
        "from penpals.tasks import run_daily_backup;"
        "print(settings.CELERY_BEAT_SCHEDULE['backup']['task']);"
        "print(run_daily_backup.apply().get()); print(run_daily_backup.apply().get())"
    )
    env = app_env(source.url, source.media, BACKUP_TARGET=str(target))
    env["DJANGO_SETTINGS_MODULE"] = "penpals.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    task, first, second = result.stdout.strip().splitlines()[-3:]
    assert task == "penpals.tasks.run_daily_backup"
    assert re.fullmatch(r"\d{8}T\d{6}Z", first)
    assert second == "already done today"
    assert [path.name for path in target.iterdir()] == [first]

    unconfigured = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
         "print('backup' in settings.CELERY_BEAT_SCHEDULE)"],
        cwd=ROOT, env={**env, "BACKUP_TARGET": ""}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unconfigured.stdout.split()[-1] == "False"


# --- Pruning and encryption, without a database --------------------------------------------


def test_it_prunes_by_the_documented_schedule():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    daily = [(now - timedelta(days=age, hours=9)).strftime("%Y%m%dT%H%M%SZ") for age in range(400)]

    kept = snapshots_to_keep(daily, now=now, days=7, weeks=5, months=12)

    ages = sorted(
        (now - datetime.strptime(n, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)).days for n in kept
    )
    assert ages[:7] == list(range(7))  # every snapshot of the last 7 days
    weekly = {snapshot_time(n).isocalendar()[:2] for n in kept}
    assert len(weekly) >= 5
    months = {n[:6] for n in kept}
    assert len(months) == 12  # one per month, for 12 months, and nothing older
    assert min(months) == "202601"
    assert len(kept) <= 7 + 5 + 12


def test_it_deletes_pruned_and_failed_snapshots_only(tmp_path, settings):
    settings.BACKUP_KEEP_DAYS, settings.BACKUP_KEEP_WEEKS, settings.BACKUP_KEEP_MONTHS = 2, 0, 0
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    target = LocalTarget(tmp_path)
    names = {}
    for label, age, is_complete in (
        ("today", timedelta(hours=1), True),
        ("yesterday", timedelta(days=1), True),
        ("old", timedelta(days=5), True),
        ("failed", timedelta(days=3), False),
        ("in_progress", timedelta(minutes=5), False),
    ):
        names[label] = (now - age).strftime("%Y%m%dT%H%M%SZ")
        (tmp_path / names[label]).mkdir()
        if is_complete:
            (tmp_path / names[label] / MANIFEST).write_text("{}")
    (tmp_path / "not-a-snapshot").mkdir()

    deleted = prune(target, now=now)

    assert sorted(deleted) == sorted([names["old"], names["failed"]])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [names["today"], names["yesterday"], names["in_progress"], "not-a-snapshot"]
    )


def _encrypt(plaintext: bytes, key: bytes, name: str = "f") -> bytes:
    import io

    raw = io.BytesIO()
    writer = backup_crypto.EncryptingWriter(raw, key, name)
    for start in range(0, len(plaintext), 1000):
        writer.write(plaintext[start : start + 1000])
    writer.close()
    return raw.getvalue()


def _decrypt(sealed: bytes, key: bytes, name: str = "f") -> bytes:
    import io

    return backup_crypto.DecryptingReader(io.BytesIO(sealed), key, name).read()


def test_it_encrypts_in_chunks_and_detects_truncation_and_reordering(monkeypatch):
    monkeypatch.setattr(backup_crypto, "CHUNK_BYTES", 4096)
    key = secrets.token_bytes(32)
    plaintext = secrets.token_bytes(4096 * 3 + 100)
    sealed = _encrypt(plaintext, key)
    assert _decrypt(sealed, key) == plaintext
    assert plaintext[:64] not in sealed

    record = 5 + 4096 + 16
    header = len(backup_crypto.MAGIC) + 8 + 16
    chunks = [sealed[header + i * record : header + (i + 1) * record] for i in range(3)]
    truncated = sealed[: header + 3 * record]  # the last chunk dropped
    with pytest.raises(backup_crypto.BackupIntegrityError, match="truncated"):
        _decrypt(truncated, key)
    reordered = sealed[:header] + chunks[1] + chunks[0] + sealed[header + 2 * record :]
    with pytest.raises(backup_crypto.BackupIntegrityError, match="tampered"):
        _decrypt(reordered, key)
    with pytest.raises(backup_crypto.BackupIntegrityError, match="after its last chunk"):
        _decrypt(sealed + b"x", key)
    # Another file's name: its key differs, so a swapped file fails too.
    with pytest.raises(backup_crypto.BackupIntegrityError, match="tampered"):
        _decrypt(sealed, key, name="other")
    with pytest.raises(backup_crypto.BackupKeyError, match="another key"):
        _decrypt(sealed, secrets.token_bytes(32))
