"""Scan intake benchmarks: a whole mailroom run of 200 scanned pages.

The run is made by devtools.scanrun from reply sheets printed by the real
print code, written on (typed and in handwriting fonts, English and Spanish),
then turned, skewed, blurred, noised and compressed to JPEG quality 40, with
blank pages, torn codes and continuation pages. Then it goes through the real
intake (messaging.intake.process_run), in this process, as the worker would.

- intake.run_200.*: pages per second and seconds per 100 pages.
- intake.split.*: pages in the right reply, in a wrong one (must be 0), torn
  or unreadable pages in triage, blank pages dropped.
- intake.ocr.word_accuracy.<language>.<style>: Tesseract on the upright page
  images intake stored, against the words written on them (the longest run
  of them read in order, over how many were written). No threshold: we want
  to know.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from devtools.scanrun import PageTruth, make_scanning_run
from messaging import intake
from messaging.models import Correspondence, Letter, PrintBatch, ScanPage, ScanRun
from messaging.ocr import ocr_image
from penpals.models import User
from profiles.models import Facility, FacilityLiaison, InmateProfile

Figure = tuple[str, float | int, str]

RUN_PAGES = 200
LETTERS = 60
# OCR takes seconds a page: this many pages of each language and style.
OCR_PAGES_PER_CASE = 4
FACILITY_SLUG = "bench-intake"
LETTER_BODY = "Dear friend, here is my letter with news from home and a question for you. " * 6
_WORD = re.compile(r"\w+")


def bench_intake() -> Iterator[Figure]:
    liaison, batch = _seed_print_batch()
    made_at = time.perf_counter()
    pdf, truths = make_scanning_run(batch, pages=RUN_PAGES, seed=18)
    yield ("intake.run_200.generate.seconds", time.perf_counter() - made_at, "s")
    yield ("intake.run_200.upload.megabytes", len(pdf) / 1e6, "MB")

    run = intake.check_upload_run(
        liaison,
        batch.facility,
        [SimpleUploadedFile("run.pdf", pdf, content_type="application/pdf")],
        uuid.uuid4(),
    )
    started = time.perf_counter()
    intake.process_run(run.pk)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    if run.state != ScanRun.State.DONE:
        raise RuntimeError(f"The benchmark run did not finish: {run.state} {run.error}")
    yield ("intake.run_200.seconds", seconds, "s")
    yield ("intake.run_200.pages_per_second", RUN_PAGES / seconds, "pages/s")
    yield ("intake.run_200.seconds_per_100_pages", seconds * 100 / RUN_PAGES, "s")
    yield ("intake.run_200.replies", run.replies_made, "replies")

    pages = list(
        ScanPage.objects.filter(run=run).select_related("letter__correspondence").order_by("number")
    )
    yield from _split_figures(pages, truths)
    yield from _ocr_figures(pages, truths)


def _split_figures(pages: Sequence[ScanPage], truths: Sequence[PageTruth]) -> Iterator[Figure]:
    """How the run was split, against the truth the generator wrote down."""
    if len(pages) != len(truths):
        raise RuntimeError(f"{len(pages)} pages stored for {len(truths)} scanned.")
    right = wrong = in_triage = blank_dropped = 0
    expected_in_reply = expected_in_triage = blanks = 0
    torn_reply: str | None = None
    for page, truth in zip(pages, truths, strict=True):
        if truth.kind == "blank":
            blanks += 1
            blank_dropped += page.state == ScanPage.State.BLANK
            continue
        # A torn sheet's reply has no readable start: it and its continuation
        # pages must wait for a person.
        if truth.kind == "torn":
            torn_reply = truth.reference
        elif truth.kind == "sheet":
            torn_reply = None
        must_triage = truth.kind == "torn" or (
            truth.kind == "continuation" and truth.reference == torn_reply
        )
        got = page.letter.correspondence.code if page.letter is not None else None
        if got is not None and got != truth.reference:
            wrong += 1
        if must_triage:
            expected_in_triage += 1
            in_triage += page.state == ScanPage.State.TRIAGE
        else:
            expected_in_reply += 1
            right += got == truth.reference
    yield ("intake.split.pages_in_right_reply", right, f"of {expected_in_reply}")
    yield ("intake.split.pages_in_wrong_reply", wrong, "pages")
    yield ("intake.split.unreadable_in_triage", in_triage, f"of {expected_in_triage}")
    yield ("intake.split.blank_pages_dropped", blank_dropped, f"of {blanks}")


def _ocr_figures(pages: Sequence[ScanPage], truths: Sequence[PageTruth]) -> Iterator[Figure]:
    """Word accuracy of OCR on the upright page images intake stored."""
    cases: dict[tuple[str, str], list[tuple[ScanPage, PageTruth]]] = defaultdict(list)
    for page, truth in zip(pages, truths, strict=True):
        if truth.words and page.image and truth.language and truth.style:
            cases[(truth.language, truth.style)].append((page, truth))
    seconds, read_pages = 0.0, 0
    for (language, style), samples in sorted(cases.items()):
        found = written = 0
        for page, truth in samples[:OCR_PAGES_PER_CASE]:
            with page.image.open("rb") as stored, Image.open(stored) as image:
                started = time.perf_counter()
                reading = ocr_image(image)
                seconds += time.perf_counter() - started
            read_pages += 1
            expected = [word.lower() for word in truth.words for word in _WORD.findall(word)]
            got = [word.lower() for word in _WORD.findall(reading.get("text", ""))]
            found += _in_order(expected, got)
            written += len(expected)
        yield (f"intake.ocr.word_accuracy.{language}.{style}", found / max(written, 1), "ratio")
    if read_pages:
        yield ("intake.ocr.seconds_per_page", seconds / read_pages, "s")


def _in_order(expected: Sequence[str], got: Sequence[str]) -> int:
    """How many of the expected words were read in order (their longest
    common subsequence): words read wrongly, missed or made up all count
    against it, and the printed words of the sheet do not count for it."""
    previous = [0] * (len(got) + 1)
    for word in expected:
        current = [0]
        for index, candidate in enumerate(got, start=1):
            current.append(
                previous[index - 1] + 1
                if word == candidate
                else max(previous[index], current[index - 1])
            )
        previous = current
    return previous[-1]


def _seed_print_batch() -> tuple[User, PrintBatch]:
    """A facility with LETTERS approved letters printed in one batch, and its liaison.

    Made afresh on each run (old rows of the benchmark facility are left in place)."""
    facility, _ = Facility.objects.get_or_create(
        slug=FACILITY_SLUG,
        defaults={
            "name": "Bench Intake Correctional",
            "kind": "state",
            "state": "OH",
            "mailing_address": "Bench Intake Correctional\nPO Box 18\nOhio",
            "mail_rules": "Letters on white paper only.",
        },
    )
    stamp = uuid.uuid4().hex[:8]
    liaison = User.objects.create_user(
        email=f"bench-intake-liaison-{stamp}@example.org", password=None
    )
    FacilityLiaison.objects.create(user=liaison, facility=facility)
    now = timezone.now()
    letters = []
    for number in range(LETTERS):
        profile = InmateProfile.objects.create(
            facility=facility,
            inmate_number=f"BI{stamp}{number:03d}",
            legal_name=f"Bench Person {number}",
            display_name=f"Bench {number}",
            date_of_birth="1980-01-01",
            gender="male",
            bio="A profile for the intake benchmark.",
            status="published",
            published_at=now,
            public_updated_at=now,
            languages=["es"] if number % 2 else ["en"],
        )
        pen_pal = User.objects.create_user(
            email=f"bench-intake-{stamp}-{number}@example.org", password=None
        )
        correspondence = Correspondence.objects.create(pen_pal=pen_pal, profile=profile)
        letters.append(
            Letter(
                correspondence=correspondence,
                direction=Letter.Direction.OUTBOUND,
                body=LETTER_BODY,
                status=Letter.Status.PRINTED,
                created_by=pen_pal,
                idempotency_key=uuid.uuid4(),
                approved_at=now,
                printed_at=now,
            )
        )
    batch = PrintBatch.objects.create(
        facility=facility, created_by=liaison, idempotency_key=uuid.uuid4()
    )
    for letter in letters:
        letter.print_batch = batch
    Letter.objects.bulk_create(letters)
    return liaison, batch
