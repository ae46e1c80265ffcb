"""`manage.py restore SNAPSHOT`: restore a snapshot into an empty database and
empty storages (README "Backups and restore")."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from penpals import backup
from penpals.backup_targets import target_from


class Command(BaseCommand):
    help = "Restore a snapshot (a name from `backup --list`, or 'latest') from BACKUP_TARGET."

    def add_arguments(self, parser) -> None:
        parser.add_argument("snapshot", help="The snapshot's name, or 'latest'.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Delete every table and media file already there, then restore.",
        )
        parser.add_argument("--target", help="Another folder or s3://bucket/prefix.")

    def handle(self, *args, snapshot: str, force: bool, **options) -> None:
        try:
            target = target_from(options["target"]) if options["target"] else None
            result = backup.restore_snapshot(snapshot, target, is_forced=force)
        except backup.BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Restored {result.snapshot}: {result.tables} tables and {result.files} files, "
            f"all matching the manifest, in {result.seconds:.1f}s."
        )
