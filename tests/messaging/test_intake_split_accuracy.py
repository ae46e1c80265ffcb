"""Split accuracy: a generated mail run (devtools.scanrun: reply sheets from
the real print code, written on, turned, skewed, blurred, JPEG quality 40,
with blank pages, torn codes and continuation pages) goes through the real
intake, and every page lands where the generator's truth says it belongs."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from devtools.scanrun import make_scanning_run
from messaging.intake import check_upload_run, process_run
from messaging.models import Letter, PrintBatch, ScanPage, ScanRun
from messaging.services import check_create_print_batch
from tests.factories import CorrespondenceFactory, InmateProfileFactory, LetterFactory

pytestmark = pytest.mark.django_db

LETTERS = 12
RUN_PAGES = 40


@pytest.fixture
def batch(liaison) -> PrintBatch:
    """A print batch of LETTERS letters, in English and Spanish, each with its reply sheet."""
    facility = liaison.facility_memberships.get().facility
    for number in range(LETTERS):
        profile = InmateProfileFactory.published(
            facility=facility, languages=["es" if number % 3 == 2 else "en"]
        )
        LetterFactory(
            correspondence=CorrespondenceFactory(profile=profile),
            status=Letter.Status.APPROVED,
            approved_at=timezone.now(),
            body="Dear friend,\nHow was your week? Here is mine.",
        )
    return check_create_print_batch(liaison, facility, None, uuid.uuid4())


@pytest.mark.parametrize("seed", [3])
def test_every_page_lands_where_it_belongs(liaison, batch, seed):
    pdf, truths = make_scanning_run(batch, pages=RUN_PAGES, seed=seed)
    run = check_upload_run(
        liaison, batch.facility, [SimpleUploadedFile("run.pdf", pdf)], uuid.uuid4()
    )
    process_run(run.pk)
    run.refresh_from_db()
    assert run.state == ScanRun.State.DONE, run.error
    pages = list(
        ScanPage.objects.filter(run=run).select_related("letter__correspondence").order_by("number")
    )
    assert len(pages) == len(truths) == RUN_PAGES

    in_wrong_reply, not_in_its_reply, not_in_triage, blank_kept = [], [], [], []
    torn_reference = None
    replies_expected = 0
    for page, truth in zip(pages, truths, strict=True):
        got = page.letter.correspondence.code if page.letter is not None else None
        if truth.kind == "blank":
            # Dropped, or at worst left for a person: never put into a reply.
            if got is not None:
                blank_kept.append(page.number)
            continue
        if truth.kind == "sheet":
            torn_reference = None
            replies_expected += 1
        elif truth.kind == "torn":
            torn_reference = truth.reference
        if got is not None and got != truth.reference:
            in_wrong_reply.append(page.number)
        # A torn sheet's reply has no readable start: the sheet and the pages
        # after it wait for a person, however sure a guess would seem.
        if truth.kind == "torn" or (
            truth.kind == "continuation" and truth.reference == torn_reference
        ):
            if page.state != ScanPage.State.TRIAGE:
                not_in_triage.append(page.number)
        elif got != truth.reference:
            not_in_its_reply.append(page.number)

    assert in_wrong_reply == []
    assert blank_kept == []
    assert not_in_its_reply == []
    assert not_in_triage == []
    assert run.replies_made == replies_expected
    assert Letter.objects.inbound().count() == replies_expected
