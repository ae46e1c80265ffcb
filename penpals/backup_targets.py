"""Where snapshots are kept: a local folder or an S3 bucket (BACKUP_TARGET).

A snapshot is a folder (or key prefix) named by its UTC start time, holding a
few files. Local folders are created 0700 and files 0600; S3 objects are
written with no ACL (the bucket's own, private policy applies) and with
server-side encryption requested.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

import boto3
from django.conf import settings

from penpals.backup_crypto import BackupError


class LocalTarget:
    def __init__(self, root: Path):
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def snapshot_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if entry.is_dir())

    def exists(self, snapshot: str, name: str) -> bool:
        return (self.root / snapshot / name).is_file()

    @contextmanager
    def open_write(self, snapshot: str, name: str) -> Iterator[BinaryIO]:
        # 0700 folders: a snapshot holds private letters and scans.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = self.root / snapshot
        folder.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle

    @contextmanager
    def open_read(self, snapshot: str, name: str) -> Iterator[BinaryIO]:
        path = self.root / snapshot / name
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise BackupError(f"{path} is missing.") from None
        with handle:
            yield handle

    def delete_snapshot(self, snapshot: str) -> None:
        shutil.rmtree(self.root / snapshot)


class S3Target:
    def __init__(self, bucket: str, prefix: str):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        options = settings.BACKUP_S3_OPTIONS
        self.client = boto3.client(
            "s3",
            endpoint_url=options["endpoint_url"],
            region_name=options["region_name"],
            aws_access_key_id=options["access_key"],
            aws_secret_access_key=options["secret_key"],
            config=options["client_config"],
        )

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, snapshot: str, name: str) -> str:
        return f"{self.prefix}{snapshot}/{name}"

    def snapshot_names(self) -> list[str]:
        names = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(self.prefix) :].rstrip("/"))
        return sorted(names)

    def exists(self, snapshot: str, name: str) -> bool:
        listing = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=self._key(snapshot, name), MaxKeys=1
        )
        return any(item["Key"] == self._key(snapshot, name) for item in listing.get("Contents", []))

    @contextmanager
    def open_write(self, snapshot: str, name: str) -> Iterator[BinaryIO]:
        # Spooled to a private temporary file, then uploaded in parts by boto3.
        with tempfile.TemporaryFile(prefix="penpals-backup-") as spool:
            yield cast(BinaryIO, spool)
            spool.seek(0)
            extra: dict[str, str] = {}
            if settings.BACKUP_S3_SERVER_SIDE_ENCRYPTION:
                extra["ServerSideEncryption"] = settings.BACKUP_S3_SERVER_SIDE_ENCRYPTION
            # No ACL argument: objects stay private, whatever the bucket allows.
            self.client.upload_fileobj(
                spool, self.bucket, self._key(snapshot, name), ExtraArgs=extra
            )

    @contextmanager
    def open_read(self, snapshot: str, name: str) -> Iterator[BinaryIO]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(snapshot, name))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise BackupError(f"{self}{snapshot}/{name} is missing.") from None
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def delete_snapshot(self, snapshot: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}{snapshot}/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


Target = LocalTarget | S3Target


def target_from(location: str) -> Target:
    """The target named by BACKUP_TARGET: a folder path or s3://bucket/prefix."""
    if not location:
        raise BackupError("No backup target: set BACKUP_TARGET (a folder or s3://bucket/prefix).")
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise BackupError(f"BACKUP_TARGET {location!r} names no bucket.")
        return S3Target(bucket, prefix)
    return LocalTarget(Path(location).expanduser().resolve())
