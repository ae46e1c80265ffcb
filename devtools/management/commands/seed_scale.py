"""Fill the database with a large, realistic directory for benchmarks and load tests."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.demo.profiles import seed_scale


class Command(BaseCommand):
    help = (
        "Add N published inmate profiles (plus about 10% unlisted ones) with placeholder "
        "photos, across ~75 made-up facilities. For benchmarks; refuses to run with DEBUG off."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--profiles", type=int, default=100_000, help="Published profiles to add."
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Random seed (vary it to add more)."
        )
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, profiles: int, seed: int, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load made-up profiles with DEBUG off (use --force).")
        if profiles < 1:
            raise CommandError("--profiles must be at least 1.")
        seconds = seed_scale(profiles, seed=seed, log=self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(f"Added {profiles:,} published profiles in {seconds:.1f}s.")
        )
