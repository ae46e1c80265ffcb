"""`manage.py backup`: write a snapshot to BACKUP_TARGET, then prune (README)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from penpals import backup
from penpals.backup_targets import target_from


class Command(BaseCommand):
    help = "Back up the database and both media storages to BACKUP_TARGET, then prune."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--prune", action="store_true", help="Only delete snapshots the schedule drops."
        )
        parser.add_argument(
            "--no-prune", action="store_true", help="Keep every snapshot after this one."
        )
        parser.add_argument("--list", action="store_true", help="List the snapshots and exit.")
        parser.add_argument(
            "--verify", metavar="SNAPSHOT", help="Check a snapshot's files (or 'latest') and exit."
        )
        parser.add_argument("--target", help="Another folder or s3://bucket/prefix.")

    def handle(self, *args, **options) -> None:
        try:
            target = target_from(options["target"]) if options["target"] else None
            target = target or backup.configured_target()
            if options["list"]:
                for name in target.snapshot_names():
                    state = "complete" if backup.is_complete(target, name) else "incomplete"
                    self.stdout.write(f"{name} {state}")
                return
            if options["verify"]:
                name = backup.resolve_snapshot(target, options["verify"])
                manifest = backup.verify_snapshot(target, name, backup.encryption_key())
                self.stdout.write(
                    f"Snapshot {name} is whole: {len(manifest['tables'])} tables, "
                    f"{sum(len(m['files']) for m in manifest['media'].values())} files."
                )
                return
            if not options["prune"]:
                result = backup.take_snapshot(target)
                self.stdout.write(
                    f"Snapshot {result.snapshot} written to {result.target}: "
                    f"{result.tables} tables, {result.files} files, "
                    f"{result.bytes_written} bytes in {result.seconds:.1f}s."
                )
            if not options["no_prune"]:
                for name in backup.prune(target):
                    self.stdout.write(f"Pruned {name}.")
        except backup.BackupError as error:
            raise CommandError(str(error)) from error
