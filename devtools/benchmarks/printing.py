"""Print benchmarks: a batch of 200 letters at the 13,000-character limit.

The batch is the largest a liaison can print (PRINT_BATCH_MAX_LETTERS), each
letter at the site's limit (LETTER_MAX_LENGTH), English and Spanish readers
alternating: about 1,600 pages.

- `print.letter_long.render_seconds`: rendering one long letter alone (its
  pages and reply sheet, with WeasyPrint), which approval's task does once:
  the median of a few letters, in this process, after a warm-up.
- `print.batch_200_long.prerender_seconds`: how long a worker (prefork, one
  process per core) took to render the 200 letters' PDFs from the tasks
  approval queues (messaging.tasks.render_letter_pdf). Not part of the click.
- `print.batch_200_long.seconds`: from the click to the PDF stored. The
  click is the liaison's "Print all" POST through the whole Django stack
  (middleware, MFA, the view, which makes the batch and queues its PDF);
  a real Celery worker, a separate process started beforehand, merges it;
  the clock stops when the PDF is in private storage.
- `print.batch_200_long.peak_mb`: the peak resident memory of that worker
  (`--pool=solo`: the task runs in the worker's own process), as the kernel
  counts it: VmHWM in /proc/<pid>/status, read once the PDF is stored. The
  worker ran nothing but the merge, so this is the merge's peak with the
  worker itself included. (Not ru_maxrss from wait4: Linux carries a
  process's ru_maxrss across exec, so a worker started from this large
  benchmark process would report the benchmark's own size.)
- `print.batch_200_long.worker_idle_mb`: the same worker's peak before the
  click, so the merge's own share is the difference.
- `print.batch_200_long.rendered_on_the_spot`: letters the merge had to
  render itself (missing or stale PDF): 0, or the figures above are not a merge's.
- `print.batch_200_long.pages` and `.megabytes`: the PDF made.

The aim (issue 18): the PDF within 10 s of the click, under 200 MB.
Needs Redis (a worker reads the queue); without it the benchmark is skipped.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from devtools.benchmarks.screening import extra_keywords, make_letters
from messaging import printing
from messaging.models import Correspondence, Letter, PrintBatch
from messaging.services import PRINT_BATCH_MAX_LETTERS
from penpals.models import User
from penpals.tasks import task_named
from profiles.models import Facility, FacilityLiaison, InmateProfile, private_storage

Figure = tuple[str, float | int, str]

LETTERS = PRINT_BATCH_MAX_LETTERS
RENDER_SAMPLES = 5
SEED = 18
WORKER_START_SECONDS = 60
PRERENDER_SECONDS = 900
MERGE_SECONDS = 300


def _say(message: str) -> None:
    print(f"print: {message}", file=sys.stderr, flush=True)


def _seed_letters() -> tuple[User, Facility, list[Letter]]:
    """A facility of its own with LETTERS long approved letters, and its liaison."""
    stamp = uuid.uuid4().hex[:8]
    facility = Facility.objects.create(
        slug=f"bench-print-{stamp}",
        name="Bench Print Correctional",
        kind="state",
        state="OH",
        mailing_address="Bench Print Correctional\nPO Box 18\nColumbus, OH 43216",
        mail_rules="Letters on white paper only.",
    )
    liaison = User.objects.create_user(email=f"bench-print-{stamp}@example.org", password=None)
    FacilityLiaison.objects.create(user=liaison, facility=facility)
    TOTP.activate(liaison, generate_totp_secret())  # the portal requires MFA
    bodies = make_letters(LETTERS, (settings.LETTER_MAX_LENGTH,), extra_keywords(20), seed=SEED)
    now = timezone.now()
    letters = []
    for number, body in enumerate(bodies):
        profile = InmateProfile.objects.create(
            facility=facility,
            inmate_number=f"BP{stamp}{number:03d}",
            legal_name=f"Bench Printed Person {number}",
            display_name=f"Bench {number}",
            date_of_birth="1980-01-01",
            gender="male",
            bio="A profile for the print benchmark.",
            status="published",
            published_at=now,
            public_updated_at=now,
            languages=["es", "en"] if number % 2 else ["en"],
        )
        pen_pal = User.objects.create_user(
            email=f"bench-print-{stamp}-{number}@example.org",
            password=None,
            display_name=f"Pen Pal {number}",
        )
        correspondence = Correspondence.objects.create(pen_pal=pen_pal, profile=profile)
        letters.append(
            Letter(
                correspondence=correspondence,
                direction=Letter.Direction.OUTBOUND,
                body=body,
                status=Letter.Status.APPROVED,
                created_by=pen_pal,
                idempotency_key=uuid.uuid4(),
                approved_at=now,
            )
        )
    return liaison, facility, Letter.objects.bulk_create(letters)


class _Worker:
    """A `celery worker` process on this benchmark's broker and database."""

    def __init__(self, log: Path, *options: str):
        self.log = log
        with open(log, "w") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own command
                [sys.executable, "-m", "celery", "-A", "penpals", "worker", "--loglevel=INFO",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", *options],
                cwd=settings.BASE_DIR, env={**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"},
                stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + WORKER_START_SECONDS
        while " ready." not in log.read_text():
            self.check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"The worker died:\n{self.log.read_text()[-3000:]}")

    def high_water_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("No VmHWM in /proc: Linux is needed to measure memory.")

    def stop(self) -> float:
        """Stop it (warm shutdown) and return its peak resident memory in MB."""
        peak_mb = self.high_water_mb()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return peak_mb


def _wait_for(condition, worker: _Worker, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        worker.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"The worker did not {what} within {seconds:.0f} s.")
        time.sleep(0.05)


def _letter_names(letters: list[Letter]) -> list[str]:
    letters = list(
        Letter.objects.filter(pk__in=[letter.pk for letter in letters]).select_related(
            "correspondence__profile"
        )
    )
    return [
        printing.stored_letter_pdf_name(letter, printing.letter_language(letter))
        for letter in letters
    ]


def bench_print() -> Iterator[Figure]:
    if not settings.REDIS_URL:
        _say("SKIPPED: the batch benchmark needs Redis for its worker (see scripts/lib.sh).")
        return
    liaison, facility, letters = _seed_letters()
    storage = private_storage()

    # One long letter alone, as approval's task renders it (after a warm-up:
    # the first rendering in a process imports WeasyPrint and loads fonts).
    samples = _letters_to_render(letters[: RENDER_SAMPLES + 1])
    printing.render_letter_pdf(samples[0])
    timings = []
    for letter in samples[1:]:
        started = time.perf_counter()
        printing.render_letter_pdf(letter)
        timings.append(time.perf_counter() - started)
    yield "print.letter_long.render_seconds", statistics.median(timings), "s"

    with tempfile.TemporaryDirectory(prefix="penpals-print-bench-") as run_dir:
        # Each letter's PDF, rendered by the task approval queues, on a worker per core.
        started = time.perf_counter()
        worker = _Worker(
            Path(run_dir) / "prerender.log", "--pool=prefork", f"--concurrency={os.cpu_count()}"
        )
        render_letter_pdf = task_named("messaging.tasks.render_letter_pdf")
        for letter in letters:
            render_letter_pdf.delay(letter.pk)
        names = _letter_names(letters)
        try:
            _wait_for(
                lambda: all(storage.exists(name) for name in names),
                worker,
                PRERENDER_SECONDS,
                "render the letters",
            )
        finally:
            worker.stop()
        yield "print.batch_200_long.prerender_seconds", time.perf_counter() - started, "s"

        # The click, and the merge on a fresh worker that does nothing else.
        worker = _Worker(Path(run_dir) / "merge.log", "--pool=solo")
        try:
            idle_mb = worker.high_water_mb()
            client = Client(SERVER_NAME="localhost")
            client.force_login(liaison)
            started = time.perf_counter()
            response = client.post(
                reverse("liaison_letters:queue", args=[facility.slug]),
                {"scope": "all", "idempotency_key": str(uuid.uuid4())},
            )
            if response.status_code != 302:
                raise RuntimeError(f"The click answered {response.status_code}.")
            batch = PrintBatch.objects.get(facility=facility)
            _wait_for(lambda: printing.has_stored_pdf(batch), worker, MERGE_SECONDS, "merge")
            seconds = time.perf_counter() - started
        finally:
            peak_mb = worker.stop()
        # Letters whose PDF was missing or stale, rendered inside the merge (0 expected).
        on_the_spot = worker.log.read_text().count("letter PDF rendered for its batch")
    yield "print.batch_200_long.seconds", seconds, "s"
    yield "print.batch_200_long.peak_mb", peak_mb, "MB"
    yield "print.batch_200_long.worker_idle_mb", idle_mb, "MB"
    yield "print.batch_200_long.rendered_on_the_spot", on_the_spot, "letters"
    with printing.open_stored_pdf(batch) as stored:
        stored.seek(0, os.SEEK_END)
        size = stored.tell()
        stored.seek(0)
        pages = len(PdfReader(stored).pages)
    yield "print.batch_200_long.pages", pages, "pages"
    yield "print.batch_200_long.megabytes", size / 1e6, "MB"
    if batch.letters.count() != LETTERS:
        raise RuntimeError(f"The batch took {batch.letters.count()} letters, not {LETTERS}.")


def _letters_to_render(letters: list[Letter]) -> list[Letter]:
    return list(
        Letter.objects.filter(pk__in=[letter.pk for letter in letters])
        .select_related("correspondence__profile__facility", "correspondence__pen_pal")
        .order_by("pk")
    )
