"""The generated mail run (devtools.scanrun) that tests and `make bench`
measure scan intake on: made from the real print code, deterministic, and
as described by its truth."""

from __future__ import annotations

import uuid
from collections import Counter

import numpy as np
import pypdfium2
import pytest
from django.db import transaction
from django.utils import timezone
from PIL import Image

from devtools.scanrun import (
    blank_page,
    layout,
    make_scanning_run,
    reply_sheet_images,
    ruled_lines,
    scan_like,
    word_accuracy,
    write_on,
)
from messaging.services import check_create_print_batch
from penpals.pdfs import check_pdf
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
)

# The test database is set up only for a session that has tests marked so.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def printed(django_db_setup, django_db_blocker) -> tuple[list[str], dict[str, Image.Image]]:
    """A batch of three letters as printed: their reply references, and the
    reply sheets (rendered once for the module; the rows are rolled back)."""
    with django_db_blocker.unblock(), transaction.atomic():
        liaison = LiaisonFactory()
        for language in ("en", "es", "en"):
            profile = InmateProfileFactory.published(
                facility=liaison.facility, languages=[language]
            )
            LetterFactory(
                correspondence=CorrespondenceFactory(profile=profile),
                status="approved",
                approved_at=timezone.now(),
                body="Dear Sam,\nHow was your week?",
            )
        batch = check_create_print_batch(liaison.user, liaison.facility, None, uuid.uuid4())
        references = list(batch.letters.values_list("correspondence__code", flat=True))
        sheets = reply_sheet_images(batch)
        transaction.set_rollback(True)
    return references, sheets


def test_it_makes_a_deterministic_run_as_its_truth_says(printed):
    references, sheets = printed
    assert sorted(sheets) == sorted(references)

    pdf, truth = make_scanning_run(None, pages=12, seed=5, sheets=sheets)
    again, same_truth = make_scanning_run(None, pages=12, seed=5, sheets=sheets)

    assert pdf == again and truth == same_truth
    # A PDF every upload check accepts, one page per truth, small (JPEG pages).
    assert check_pdf(pdf) == len(truth) == 12
    assert len(pdf) < 12 * 250_000
    kinds = Counter(page.kind for page in truth)
    assert kinds["sheet"] >= 3 and kinds["continuation"] >= 1
    assert kinds["blank"] >= 1 and kinds["torn"] >= 1
    assert {page.rotation for page in truth} == {0, 90, 180, 270}
    assert truth[0].kind == "sheet"
    for page in truth:
        assert (page.reference is None) == (page.kind == "blank")
        assert bool(page.words) == (page.kind != "blank")
        assert page.reference is None or page.reference in sheets
    # Continuation pages belong to the reply whose sheet came last.
    current = None
    for page in truth:
        if page.kind in ("sheet", "torn"):
            current = page.reference
        elif page.kind == "continuation":
            assert page.reference == current
    # Pages are the size they were scanned at: US letter at 200 DPI, turned.
    document = pypdfium2.PdfDocument(pdf)
    try:
        for page, expected in zip(document, truth, strict=True):
            width, height = (round(side) for side in page.get_size())
            assert (width, height) == ((792, 612) if expected.rotation % 180 else (612, 792))
    finally:
        document.close()


def test_it_writes_on_the_ruled_lines_of_a_reply_sheet(printed):
    sheet = next(iter(printed[1].values()))
    lines = ruled_lines(sheet)
    assert len(lines) == 15

    written = write_on(sheet, "Dear Sam, thank you for the book.", "handwriting")

    pixels = np.asarray(written, dtype=np.int16) - np.asarray(sheet, dtype=np.int16)
    changed_rows = np.flatnonzero((pixels != 0).any(axis=1))
    # Written on the first ruled line (descenders a little below), nowhere else.
    assert lines[0] - 80 < changed_rows.min() and changed_rows.max() < lines[0] + 30
    with pytest.raises(ValueError):
        write_on(sheet, "many words " * 400, "typed")
    assert len(layout("many words " * 400, "typed", 1400)) > 15


def test_it_scans_at_the_rotation_asked():
    page = blank_page()
    rng = np.random.default_rng(0)
    assert scan_like(page, rng, rotation=90).size == (2200, 1700)
    assert scan_like(page, rng, rotation=180, skew=-5).size == (1700, 2200)
    with pytest.raises(ValueError):
        scan_like(page, rng, rotation=45)


def test_it_measures_word_accuracy_in_order_without_case_or_punctuation():
    assert word_accuracy(["Dear", "Sam,", "hello"], ["dear", "sam", "hello!"]) == 1.0
    assert word_accuracy(["one", "two", "three", "four"], ["one", "three", "x"]) == 0.5
    assert word_accuracy([], ["anything"]) == 1.0
