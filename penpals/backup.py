"""Backups and restores: the database and both media storages, as one snapshot.

A snapshot (README "Backups and restore") is a folder or S3 prefix named by
its UTC start time, holding:

- database.dump: `pg_dump --format=custom`, taken from a snapshot that a
  REPEATABLE READ transaction exports and holds open;
- media-public.tar, media-private.tar: every file of STORAGES["default"] and
  STORAGES["private"], copied while that transaction is held;
- manifest.json, written last (so a snapshot without it is incomplete): each
  file's SHA-256 and size, and each table's row count and content hash,
  computed in the same database snapshot as the dump.

With BACKUP_ENCRYPTION_KEY set every file gets an `.enc` suffix and is
encrypted in chunks (penpals.backup_crypto). A restore checks everything
against the manifest before it writes anything, and again afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import connections
from django.utils import timezone
from psycopg import sql
from psycopg.conninfo import make_conninfo
from storages.backends.s3 import S3Storage

from penpals.backup_crypto import (
    BackupError,
    BackupIntegrityError,
    BackupKeyError,
    DecryptingReader,
    EncryptingWriter,
    is_encrypted,
    parse_key,
)
from penpals.backup_targets import Target, target_from

logger = logging.getLogger(__name__)

__all__ = ["BackupError", "BackupIntegrityError", "BackupKeyError"]

SNAPSHOT_NAME_FORMAT = "%Y%m%dT%H%M%SZ"
MANIFEST = "manifest.json"
DATABASE_FILE = "database.dump"
# Storage alias -> archive name.
MEDIA_ARCHIVES = {"default": "media-public.tar", "private": "media-private.tar"}
ENCRYPTED_SUFFIX = ".enc"
FORMAT_VERSION = 1
READ_BYTES = 1024 * 1024
# A snapshot with no manifest this old is a failed run, not one in progress.
INCOMPLETE_GRACE = timedelta(days=1)
LOCK_KEY = "backup:running"

# Row text in a fixed form, so the same rows hash alike in any cluster.
_SESSION_OPTIONS = (
    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres "
    "-c extra_float_digits=1 -c bytea_output=hex"
)
_TABLES_SQL = """
    SELECT n.nspname, c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
    ORDER BY 1, 2
"""
_RELATIONS_SQL = """
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
"""


@dataclass
class BackupResult:
    snapshot: str
    target: str
    bytes_written: int
    files: int
    tables: int
    seconds: float


@dataclass
class RestoreResult:
    snapshot: str
    files: int
    tables: int
    seconds: float


# --- Settings -----------------------------------------------------------------------


def encryption_key() -> bytes | None:
    text = settings.BACKUP_ENCRYPTION_KEY
    return parse_key(text) if text else None


def configured_target() -> Target:
    return target_from(settings.BACKUP_TARGET)


def pg_program(name: str) -> str:
    """pg_dump or pg_restore: from PG_BIN when set, else from PATH."""
    if settings.PG_BIN:
        path = Path(settings.PG_BIN) / name
        if not os.access(path, os.X_OK):
            raise BackupError(f"{name} not found in PG_BIN ({settings.PG_BIN}).")
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found on PATH: install postgresql-client or set PG_BIN.")
    return found


def _libpq_params(database: dict) -> dict[str, str]:
    params = {
        "dbname": database["NAME"],
        "user": database.get("USER") or "",
        "password": database.get("PASSWORD") or "",
        "host": database.get("HOST") or "",
        "port": str(database.get("PORT") or ""),
    }
    for option in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"):
        if option in database.get("OPTIONS", {}):
            params[option] = str(database["OPTIONS"][option])
    return {name: value for name, value in params.items() if value}


def _pg_environment(database: dict) -> dict[str, str]:
    """The connection for pg_dump/pg_restore, passed in the environment so the
    password never shows in a process list."""
    names = {
        "dbname": "PGDATABASE",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "host": "PGHOST",
        "port": "PGPORT",
        "sslmode": "PGSSLMODE",
        "sslrootcert": "PGSSLROOTCERT",
        "sslcert": "PGSSLCERT",
        "sslkey": "PGSSLKEY",
        "connect_timeout": "PGCONNECT_TIMEOUT",
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for param, value in _libpq_params(database).items():
        environment[names[param]] = value
    return environment


def _connect(database: dict) -> psycopg.Connection:
    return psycopg.connect(make_conninfo("", **_libpq_params(database), options=_SESSION_OPTIONS))


# --- Table fingerprints -----------------------------------------------------------------


def table_fingerprints(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Row count and content hash of every table: the SHA-256 of the sorted
    MD5s of the rows' text, so it does not depend on the rows' physical order."""
    fingerprints = {}
    with conn.cursor() as cursor:
        cursor.execute(_TABLES_SQL)
        tables = cursor.fetchall()
        for schema, table in tables:
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), encode(sha256(convert_to(coalesce("
                    "string_agg(md5(t::text), '' ORDER BY md5(t::text)), ''), 'UTF8')), 'hex') "
                    "FROM {} AS t"
                ).format(sql.Identifier(schema, table))
            )
            rows, content_hash = cursor.fetchone() or (0, "")
            fingerprints[f"{schema}.{table}"] = {"rows": rows, "sha256": content_hash}
    return fingerprints


def database_fingerprints(database: dict | None = None) -> dict[str, dict[str, Any]]:
    """table_fingerprints of a database (the default one unless given its settings)."""
    with _connect(database or connections["default"].settings_dict) as conn:
        return table_fingerprints(conn)


# --- Media --------------------------------------------------------------------------


def iter_storage_entries(storage: Storage) -> Iterator[tuple[str, int | None]]:
    """Every file name in `storage`, with its size when the listing gives it:
    an S3 bucket by listing its keys (one request per thousand, no request
    per file), any other storage through listdir."""
    if isinstance(storage, S3Storage):
        location = storage.location.strip("/")
        prefix = f"{location}/" if location else ""
        paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    yield item["Key"][len(prefix) :], item["Size"]
        return
    for name in _walk(storage, ""):
        yield name, None


def iter_storage_files(storage: Storage) -> Iterator[str]:
    for name, _size in iter_storage_entries(storage):
        yield name


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for name in sorted(folders):
        yield from _walk(storage, f"{folder}/{name}" if folder else name)


def storage_is_empty(storage: Storage) -> bool:
    return next(iter_storage_files(storage), None) is None


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _HashingReader:
    def __init__(self, raw: _Readable):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.sha256.update(chunk)
        self.bytes += len(chunk)
        return chunk


def _archive_storage(storage: Storage, sink: _Sink) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        for name, listed_size in iter_storage_entries(storage):
            try:
                handle = storage.open(name, "rb")
                size = storage.size(name) if listed_size is None else listed_size
            except FileNotFoundError:
                # Deleted since it was listed (retention): the database snapshot
                # may still name it, as it would have a moment later anyway.
                logger.warning("backup: %s vanished while copying", name)
                continue
            with handle:
                member = tarfile.TarInfo(name)
                member.size = size
                member.mode = 0o600
                reader = _HashingReader(handle)
                archive.addfile(member, reader)
            files[name] = {"sha256": reader.sha256.hexdigest(), "bytes": reader.bytes}
    return files


# --- Writing a snapshot -------------------------------------------------------------------


class _Counted:
    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.bytes = 0

    def write(self, chunk: bytes) -> int:
        self.bytes += len(chunk)
        return self._raw.write(chunk)


class _Sink:
    """Where one snapshot file's plaintext goes: hashed and counted, then
    encrypted (with a key) and written to the target."""

    def __init__(self, raw: BinaryIO, key: bytes | None, name: str):
        self.stored = _Counted(raw)
        self._encrypter = EncryptingWriter(self.stored, key, name) if key else None  # type: ignore[arg-type]
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, chunk: bytes) -> int:
        self.sha256.update(chunk)
        self.bytes += len(chunk)
        (self._encrypter or self.stored).write(chunk)
        return len(chunk)

    def close(self) -> None:
        if self._encrypter is not None:
            self._encrypter.close()


@contextmanager
def _snapshot_file(target: Target, snapshot: str, name: str, key: bytes | None):
    stored_name = name + ENCRYPTED_SUFFIX if key else name
    with target.open_write(snapshot, stored_name) as raw:
        sink = _Sink(raw, key, name)
        yield sink
        sink.close()


def _dump_database(sink: _Sink, database: dict, exported_snapshot: str) -> None:
    with tempfile.TemporaryFile() as errors:
        dump = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [pg_program("pg_dump"), "--format=custom", f"--snapshot={exported_snapshot}"],
            env=_pg_environment(database),
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert dump.stdout is not None
        while chunk := dump.stdout.read(READ_BYTES):
            sink.write(chunk)
        if dump.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise BackupError(f"pg_dump failed: {message}")


def new_snapshot_name(now: datetime) -> str:
    return now.astimezone(UTC).strftime(SNAPSHOT_NAME_FORMAT)


def snapshot_time(name: str) -> datetime | None:
    try:
        return datetime.strptime(name, SNAPSHOT_NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def take_snapshot(target: Target | None = None, *, now: datetime | None = None) -> BackupResult:
    """Write a new snapshot of the default database and both media storages."""
    started = time.monotonic()
    target = target or configured_target()
    key = encryption_key()
    snapshot = new_snapshot_name(now or timezone.now())
    if snapshot in target.snapshot_names():
        raise BackupError(f"Snapshot {snapshot} already exists in {target}.")
    database = connections["default"].settings_dict
    with _connect(database) as conn:
        # The dump, the table fingerprints and the media copy all belong to
        # the moment this transaction's snapshot was taken (held until the end).
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            exported, server_version = cursor.fetchone() or ("", "")
        tables = table_fingerprints(conn)
        with _snapshot_file(target, snapshot, DATABASE_FILE, key) as sink:
            _dump_database(sink, database, exported)
        dump_entry = {"sha256": sink.sha256.hexdigest(), "bytes": sink.bytes}
        written = sink.stored.bytes
        media = {}
        for alias, archive_name in MEDIA_ARCHIVES.items():
            with _snapshot_file(target, snapshot, archive_name, key) as sink:
                files = _archive_storage(storages[alias], sink)
            media[alias] = {
                "archive": {"sha256": sink.sha256.hexdigest(), "bytes": sink.bytes},
                "files": files,
            }
            written += sink.stored.bytes
        conn.rollback()
    manifest = {
        "format": FORMAT_VERSION,
        "snapshot": snapshot,
        "created_at": (now or timezone.now()).astimezone(UTC).isoformat(),
        "is_encrypted": key is not None,
        "postgres_server_version": server_version,
        "database": dump_entry,
        "tables": tables,
        "media": media,
    }
    # The manifest goes last: its presence is what marks the snapshot complete.
    with _snapshot_file(target, snapshot, MANIFEST, key) as sink:
        sink.write(json.dumps(manifest, indent=1, sort_keys=True).encode())
    file_count = sum(len(entry["files"]) for entry in media.values())
    logger.info(
        "backup: snapshot written",
        extra={"snapshot": snapshot, "target": str(target), "bytes": written},
    )
    return BackupResult(
        snapshot=snapshot,
        target=str(target),
        bytes_written=written + sink.stored.bytes,
        files=file_count,
        tables=len(tables),
        seconds=time.monotonic() - started,
    )


# --- Reading a snapshot --------------------------------------------------------------------


def is_complete(target: Target, snapshot: str) -> bool:
    return target.exists(snapshot, MANIFEST) or target.exists(snapshot, MANIFEST + ENCRYPTED_SUFFIX)


@contextmanager
def _open_snapshot_file(target: Target, snapshot: str, name: str, key: bytes | None):
    """Plaintext of one snapshot file, decrypted when the snapshot is encrypted."""
    if target.exists(snapshot, name + ENCRYPTED_SUFFIX):
        if key is None:
            raise BackupKeyError(
                f"Snapshot {snapshot} is encrypted: set BACKUP_ENCRYPTION_KEY to its key."
            )
        with target.open_read(snapshot, name + ENCRYPTED_SUFFIX) as raw:
            yield DecryptingReader(raw, key, name)
        return
    with target.open_read(snapshot, name) as raw:
        head = raw.read(16)
        if is_encrypted(head):
            raise BackupIntegrityError(f"{name} is encrypted but not named so.")
        yield _Prefixed(head, raw)


class _Prefixed:
    def __init__(self, head: bytes, raw: BinaryIO):
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._raw.read(size)
        if size < 0:
            out, self._head = self._head + self._raw.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        if len(out) < size:
            out += self._raw.read(size - len(out))
        return out


def read_manifest(target: Target, snapshot: str, key: bytes | None = None) -> dict[str, Any]:
    if snapshot not in target.snapshot_names():
        raise BackupError(f"No snapshot {snapshot} in {target}.")
    if not is_complete(target, snapshot):
        raise BackupError(f"Snapshot {snapshot} is incomplete: it has no manifest.")
    with _open_snapshot_file(target, snapshot, MANIFEST, key) as reader:
        text = reader.read()
    try:
        manifest = json.loads(text)
    except ValueError:
        raise BackupIntegrityError(f"The manifest of {snapshot} is not valid JSON.") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"Snapshot {snapshot} has an unknown format {manifest.get('format')}.")
    return manifest


def _check_entry(name: str, reader: _HashingReader, expected: dict[str, Any]) -> None:
    if reader.bytes != expected["bytes"] or reader.sha256.hexdigest() != expected["sha256"]:
        raise BackupIntegrityError(
            f"{name} does not match the manifest (SHA-256 or size differs): "
            "it is corrupted or was tampered with."
        )


def _extract_dump(target: Target, snapshot: str, key: bytes | None, manifest: dict, folder: Path):
    path = folder / DATABASE_FILE
    with _open_snapshot_file(target, snapshot, DATABASE_FILE, key) as raw:
        reader = _HashingReader(raw)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            while chunk := reader.read(READ_BYTES):
                out.write(chunk)
    _check_entry(DATABASE_FILE, reader, manifest["database"])
    return path


def _iter_archive(
    target: Target, snapshot: str, key: bytes | None, manifest: dict, alias: str
) -> Iterator[tuple[str, bytes]]:
    """Each file of one media archive with its content, checked against the
    manifest; then checks that none is missing and the archive is whole."""
    archive_name = MEDIA_ARCHIVES[alias]
    expected = manifest["media"][alias]["files"]
    seen = set()
    with _open_snapshot_file(target, snapshot, archive_name, key) as raw:
        reader = _HashingReader(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    if member.name not in expected or not member.isfile():
                        raise BackupIntegrityError(
                            f"{archive_name} holds {member.name!r}, which the manifest does not list."
                        )
                    handle = archive.extractfile(member)
                    content = handle.read() if handle else b""
                    entry = expected[member.name]
                    if (
                        len(content) != entry["bytes"]
                        or hashlib.sha256(content).hexdigest() != entry["sha256"]
                    ):
                        raise BackupIntegrityError(
                            f"{archive_name}: {member.name} does not match the manifest: "
                            "it is corrupted or was tampered with."
                        )
                    seen.add(member.name)
                    yield member.name, content
        except tarfile.TarError as error:
            raise BackupIntegrityError(
                f"{archive_name} is not a readable archive: {error}"
            ) from None
        reader.read()  # the archive's padding, so the whole file is hashed
    missing = set(expected) - seen
    if missing:
        raise BackupIntegrityError(f"{archive_name} lacks {len(missing)} files the manifest lists.")
    _check_entry(archive_name, reader, manifest["media"][alias]["archive"])


def verify_snapshot(target: Target, snapshot: str, key: bytes | None = None) -> dict[str, Any]:
    """Read every file of a snapshot and check it against the manifest."""
    manifest = read_manifest(target, snapshot, key)
    with tempfile.TemporaryDirectory(prefix="penpals-verify-") as folder:
        _extract_dump(target, snapshot, key, manifest, Path(folder))
    for alias in MEDIA_ARCHIVES:
        for _name, _content in _iter_archive(target, snapshot, key, manifest, alias):
            pass
    return manifest


# --- Restoring -------------------------------------------------------------------------


def _database_is_empty(database: dict) -> bool:
    with _connect(database) as conn, conn.cursor() as cursor:
        cursor.execute(_RELATIONS_SQL)
        row = cursor.fetchone()
    return row is not None and row[0] == 0


def _empty_database(database: dict) -> None:
    """Drop everything in the target database (restore --force)."""
    with _connect(database) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    if not _database_is_empty(database):
        raise BackupError(
            "The target database still has tables outside the public schema; "
            "restore into a new, empty database."
        )


def _pg_restore(dump: Path, database: dict) -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            pg_program("pg_restore"),
            # Another cluster's roles: objects belong to whoever restores them.
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={database['NAME']}",
            str(dump),
        ],
        env=_pg_environment(database),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


def _compare_tables(expected: dict[str, dict], restored: dict[str, dict]) -> None:
    differences = [
        f"{table}: expected {expected.get(table)}, restored {restored.get(table)}"
        for table in sorted(set(expected) | set(restored))
        if expected.get(table) != restored.get(table)
    ]
    if differences:
        raise BackupIntegrityError(
            "The restored database differs from the manifest:\n" + "\n".join(differences[:20])
        )


def restore_snapshot(
    snapshot: str, target: Target | None = None, *, is_forced: bool = False
) -> RestoreResult:
    """Restore `snapshot` into the default database and both media storages.

    They must be empty unless `is_forced`, which empties them first. Every file
    is checked against the manifest before anything is written; the restored
    tables and files are checked again afterwards.
    """
    started = time.monotonic()
    target = target or configured_target()
    key = encryption_key()
    database = connections["default"].settings_dict
    snapshot = resolve_snapshot(target, snapshot)
    manifest = read_manifest(target, snapshot, key)
    occupied = []
    if not _database_is_empty(database):
        occupied.append(f"database {database['NAME']!r}")
    occupied += [
        f"storage {alias!r}" for alias in MEDIA_ARCHIVES if not storage_is_empty(storages[alias])
    ]
    if occupied and not is_forced:
        raise BackupError(
            "Refusing to restore over existing data in the "
            + " and the ".join(occupied)
            + ". Restore into an empty database and empty storages, or pass --force "
            "to delete what is there first."
        )
    with tempfile.TemporaryDirectory(prefix="penpals-restore-") as folder:
        dump = _extract_dump(target, snapshot, key, manifest, Path(folder))
        for alias in MEDIA_ARCHIVES:  # every file checked before anything is written
            for _name, _content in _iter_archive(target, snapshot, key, manifest, alias):
                pass
        if occupied:
            _empty_database(database)
            for alias in MEDIA_ARCHIVES:
                storage = storages[alias]
                for name in list(iter_storage_files(storage)):
                    storage.delete(name)
        _pg_restore(dump, database)
    _compare_tables(manifest["tables"], database_fingerprints(database))
    files = 0
    for alias in MEDIA_ARCHIVES:
        storage = storages[alias]
        for name, content in _iter_archive(target, snapshot, key, manifest, alias):
            saved = storage.save(name, ContentFile(content))
            if saved != name:
                raise BackupError(f"Storage {alias!r} saved {name} as {saved}: is it empty?")
            files += 1
        _check_restored_files(storage, alias, manifest["media"][alias]["files"])
    return RestoreResult(
        snapshot=snapshot,
        files=files,
        tables=len(manifest["tables"]),
        seconds=time.monotonic() - started,
    )


def _check_restored_files(storage: Storage, alias: str, expected: dict[str, dict]) -> None:
    """Read every restored file back: the storage holds exactly the snapshot's files."""
    names = set(iter_storage_files(storage))
    if names != set(expected):
        raise BackupIntegrityError(
            f"Storage {alias!r} holds {len(names)} files after the restore, "
            f"the snapshot {len(expected)}."
        )
    for name, entry in expected.items():
        with storage.open(name, "rb") as handle:
            reader = _HashingReader(handle)
            while reader.read(READ_BYTES):
                pass
        _check_entry(f"{alias}:{name}", reader, entry)


def resolve_snapshot(target: Target, snapshot: str) -> str:
    """A snapshot name, or "latest" for the newest complete one."""
    if snapshot != "latest":
        return snapshot
    complete = [name for name in target.snapshot_names() if is_complete(target, name)]
    if not complete:
        raise BackupError(f"No complete snapshot in {target}.")
    return complete[-1]


# --- Pruning ----------------------------------------------------------------------------


def snapshots_to_keep(
    names: list[str], *, now: datetime, days: int, weeks: int, months: int
) -> set[str]:
    """The snapshots the schedule keeps, among complete ones: the newest; every
    one younger than `days` days; the newest of each of the `weeks` most recent
    ISO weeks that have one; the newest of each of the `months` most recent
    calendar months that have one (restic's keep-within/weekly/monthly)."""
    dated = sorted(
        ((when, name) for name in names if (when := snapshot_time(name)) is not None),
        reverse=True,
    )
    if not dated:
        return set()
    keep = {dated[0][1]}
    keep |= {name for when, name in dated if now - when < timedelta(days=days)}
    for count, bucket_of in (
        (weeks, lambda when: when.isocalendar()[:2]),
        (months, lambda when: (when.year, when.month)),
    ):
        buckets: set[tuple[int, int]] = set()
        for when, name in dated:  # newest first: the first seen in a bucket is its newest
            bucket = bucket_of(when)
            if bucket in buckets:
                continue
            if len(buckets) == count:
                break
            buckets.add(bucket)
            keep.add(name)
    return keep


def prune(target: Target | None = None, *, now: datetime | None = None) -> list[str]:
    """Delete the snapshots the schedule does not keep, and failed ones; returns their names."""
    target = target or configured_target()
    now = now or timezone.now()
    names = target.snapshot_names()
    complete = [name for name in names if is_complete(target, name)]
    keep = snapshots_to_keep(
        complete,
        now=now,
        days=settings.BACKUP_KEEP_DAYS,
        weeks=settings.BACKUP_KEEP_WEEKS,
        months=settings.BACKUP_KEEP_MONTHS,
    )
    deleted = []
    for name in names:
        if name in keep:
            continue
        when = snapshot_time(name)
        if when is None:
            continue  # not ours: leave it alone
        if name not in complete and now - when < INCOMPLETE_GRACE:
            continue  # perhaps still being written
        target.delete_snapshot(name)
        deleted.append(name)
    return deleted


def run_scheduled_backup(now: datetime | None = None) -> str:
    """The daily job: one snapshot per UTC day, then pruning. Running it again
    the same day (a redelivered task) only prunes."""
    now = now or timezone.now()
    target = configured_target()
    today: date = now.astimezone(UTC).date()
    # Beat's run and a manual one must not dump at once; the lock expires if a worker dies.
    if not cache.add(LOCK_KEY, now.isoformat(), timeout=settings.BACKUP_LOCK_SECONDS):
        return "already running"
    try:
        done_today = any(
            (when := snapshot_time(name)) is not None
            and when.date() == today
            and is_complete(target, name)
            for name in target.snapshot_names()
        )
        outcome = "already done today"
        if not done_today:
            outcome = take_snapshot(target, now=now).snapshot
        prune(target, now=now)
        return outcome
    finally:
        cache.delete(LOCK_KEY)
