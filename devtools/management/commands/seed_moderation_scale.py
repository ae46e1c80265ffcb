"""Fill the moderation queue for the queue benchmark (make bench does it itself)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from devtools.benchmarks.moderation_queue import DECIDED, PENDING, seed_queue_scale


class Command(BaseCommand):
    help = "Add pending and decided moderation items at benchmark scale."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--pending", type=int, default=PENDING)
        parser.add_argument("--decided", type=int, default=DECIDED)

    def handle(self, *args, pending: int, decided: int, **options) -> None:
        seconds = seed_queue_scale(pending, decided, log=self.stdout.write)
        self.stdout.write(
            f"Seeded {pending:,} pending and {decided:,} decided items in {seconds:.1f} s."
        )
