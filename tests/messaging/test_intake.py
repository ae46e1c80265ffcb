"""Scanning runs (messaging.intake): the upload of a whole run, its split into
replies by the codes on the reply sheets, triage, duplicates, failures and
resuming, and the liaison's pages (messaging.intake_views).

Pages are drawn here with Pillow: a reply sheet carries the real reply mark as
a QR code (segno, as the printed sheet does), written pages carry a few lines
of scribble, and they are read by the real page engine (messaging.scanpages).
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import uuid
import zipfile
from datetime import timedelta

import pytest
import segno
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageDraw

from messaging import intake
from messaging.intake import RunRefused, TriageRefused, check_upload_run, process_run
from messaging.models import Correspondence, Letter, LetterScan, ScanPage, ScanRun, ScanRunFile
from messaging.reply_sheets import reply_mark_payload
from messaging.services import close_correspondences
from profiles.models import LiaisonAction
from tests.factories import (
    CorrespondenceFactory,
    InmateProfileFactory,
    LiaisonFactory,
    PenPalFactory,
    UserFactory,
    activate_totp,
)

pytestmark = pytest.mark.django_db

State = ScanPage.State
Reason = ScanPage.TriageReason

# Fixed references, so pages can be drawn once for the whole module.
CODE_A = "PP-AAAA-2345"
CODE_B = "PP-BBBB-2345"
CODE_C = "PP-CCCC-2345"
CODE_ELSEWHERE = "PP-EEEE-2345"
CODE_UNKNOWN = "PP-UUUU-2345"

# A letter page at 200 dpi, as the scanners of the run are set.
PAGE_SIZE = (1700, 2200)


# --- Pages -----------------------------------------------------------------------------------


@functools.cache
def _qr(text: str) -> Image.Image:
    out = io.BytesIO()
    segno.make(text, error="q", micro=False).save(out, kind="png", scale=10, border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


def _scribble(image: Image.Image, seed: int, lines: int = 1) -> None:
    """A line of "handwriting": enough ink not to be blank, each page its own (and
    little enough that the page engine does not ask Tesseract which way up it is)."""
    rng = random.Random(seed)  # noqa: S311
    draw = ImageDraw.Draw(image)
    y = 700
    for _line in range(lines):
        x, points = 200, []
        while x < 1400:
            points.append((x, y + rng.randint(-15, 15)))
            x += rng.randint(10, 30)
        draw.line(points, fill=0, width=4)
        y += 130


@functools.cache
def sheet(code: str, number: int = 1, seed: int = 0) -> Image.Image:
    """A reply sheet (or a later page carrying the mark) written on."""
    image = Image.new("L", PAGE_SIZE, 255)
    image.paste(_qr(reply_mark_payload(code, number)), (1250, 100))
    _scribble(image, seed=hash((code, number, seed)) & 0xFFFF)
    return image


@functools.cache
def written(seed: int) -> Image.Image:
    """A page written on, without a code: a reply's continuation."""
    image = Image.new("L", PAGE_SIZE, 255)
    _scribble(image, seed=1000 + seed)
    return image


@functools.cache
def foreign_code(seed: int = 0) -> Image.Image:
    """A page with a QR code that is not a Penpals mark (read, but not ours)."""
    image = Image.new("L", PAGE_SIZE, 255)
    image.paste(_qr(f"HTTPS://EXAMPLE.ORG/{seed}"), (1250, 100))
    _scribble(image, seed=2000 + seed)
    return image


def blank() -> Image.Image:
    return Image.new("L", PAGE_SIZE, 255)


# Pillow keeps what an image was last saved with on the image itself (a PDF's
# append_images, then taken up by a JPEG saved "with all frames"): the drawn
# pages are shared, so only copies of them are ever saved.


def pdf_of(*pages: Image.Image) -> bytes:
    out = io.BytesIO()
    first, *rest = (page.copy() for page in pages)
    first.save(out, "PDF", save_all=True, append_images=rest, resolution=200)
    return out.getvalue()


def jpeg_of(page: Image.Image) -> bytes:
    out = io.BytesIO()
    page.copy().save(out, "JPEG", quality=85)
    return out.getvalue()


def zip_of(**entries: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name.replace("_", "."), content)
    return out.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def correspondences(facility):
    """Three correspondences of the liaison's facility (A, B, C) and one elsewhere."""
    found = {}
    for code, name in ((CODE_A, "Marcus"), (CODE_B, "Dana"), (CODE_C, "Luis")):
        profile = InmateProfileFactory.published(facility=facility, display_name=name)
        found[code] = CorrespondenceFactory(
            profile=profile, code=code, pen_pal=PenPalFactory(display_name=f"Pen pal of {name}")
        )
    elsewhere = InmateProfileFactory.published(display_name="Secret Elsewhere")
    found[CODE_ELSEWHERE] = CorrespondenceFactory(profile=elsewhere, code=CODE_ELSEWHERE)
    return found


def run_of(uploader, facility, *files: tuple[str, bytes], key=None) -> ScanRun:
    return check_upload_run(
        uploader,
        facility,
        [upload(name, content) for name, content in files],
        key or uuid.uuid4(),
    )


def read(run: ScanRun) -> ScanRun:
    process_run(run.pk)
    run.refresh_from_db()
    return run


def states(run: ScanRun) -> list[tuple[int, str, str]]:
    return [
        (page.number, page.state, page.triage_reason)
        for page in ScanPage.objects.filter(run=run).order_by("number")
    ]


def replies_of(run: ScanRun) -> dict[str, list[int]]:
    """Each reply made from `run`: its reference and the run's page numbers in it."""
    found: dict[str, list[int]] = {}
    pages = ScanPage.objects.filter(run=run, letter__isnull=False).select_related(
        "letter__correspondence"
    )
    for page in pages.order_by("number"):
        found.setdefault(page.letter.correspondence.code, []).append(page.number)
    return found


# --- The split -------------------------------------------------------------------------------


def test_it_splits_a_run_into_replies(liaison, facility, correspondences):
    run = run_of(
        liaison,
        facility,
        (
            "run.pdf",
            pdf_of(sheet(CODE_A), written(1), blank(), sheet(CODE_B), written(2), written(3)),
        ),
    )
    assert run.state == ScanRun.State.QUEUED
    assert run.pages_total == 6
    source = run.files.get()
    assert source.content_type == "application/pdf"

    run = read(run)

    assert run.state == ScanRun.State.DONE
    assert run.pages_done == 6
    assert run.replies_made == 2
    assert replies_of(run) == {CODE_A: [1, 2], CODE_B: [4, 5, 6]}
    assert states(run)[2] == (3, State.BLANK, "")
    letter = Letter.objects.get(correspondence=correspondences[CODE_B])
    assert letter.direction == Letter.Direction.INBOUND
    assert letter.status == Letter.Status.SUBMITTED
    assert letter.created_by == liaison
    scans = list(letter.scans.order_by("page"))
    pages = list(ScanPage.objects.filter(run=run, letter=letter).order_by("number"))
    assert [scan.page for scan in scans] == [1, 2, 3]
    for scan, page in zip(scans, pages, strict=True):
        assert scan.file.name == scan.page_image.name == page.image.name
        assert scan.content_type == "image/jpeg"
        assert scan.content_hash == page.content_hash
        assert (scan.width, scan.height) == (page.width, page.height) == PAGE_SIZE
        assert scan.size == scan.file.size > 0
        with scan.file.open("rb") as stored:
            assert Image.open(stored).format == "JPEG"
    # The page's mark is kept; the uploaded file is not.
    assert (pages[0].mark_code, pages[0].mark_page) == (CODE_B, 1)
    assert not ScanRunFile.objects.filter(run=run).exists()
    assert not source.file.storage.exists(source.file.name)
    actions = LiaisonAction.objects.filter(kind=LiaisonAction.Kind.REPLY_UPLOADED)
    assert sorted(action.detail["code"] for action in actions) == [CODE_A, CODE_B]
    assert LiaisonAction.objects.filter(kind=LiaisonAction.Kind.SCAN_RUN_UPLOADED).count() == 1


def test_it_queues_the_run_and_each_reply_on_commit(
    liaison, facility, correspondences, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        run = run_of(liaison, facility, ("a.jpg", jpeg_of(sheet(CODE_A))))
    assert len(queued) == 1
    with django_capture_on_commit_callbacks() as queued:
        read(run)
    # One reading (screening) per reply, once the reply is complete.
    assert len(queued) == 1


def test_pages_without_a_reply_before_them_go_to_triage(liaison, facility, correspondences):
    run = read(
        run_of(
            liaison,
            facility,
            ("run.pdf", pdf_of(written(1), written(2), sheet(CODE_A), written(3))),
        )
    )
    assert states(run)[:2] == [
        (1, State.TRIAGE, Reason.UNREADABLE),
        (2, State.TRIAGE, Reason.UNREADABLE),
    ]
    assert replies_of(run) == {CODE_A: [3, 4]}


def test_a_code_that_is_not_ours_starts_triage_until_the_next_reply(
    liaison, facility, correspondences
):
    run = read(
        run_of(
            liaison,
            facility,
            (
                "run.pdf",
                pdf_of(sheet(CODE_A), foreign_code(), written(1), sheet(CODE_B), written(2)),
            ),
        )
    )
    # Never guessed into the reply before it.
    assert replies_of(run) == {CODE_A: [1], CODE_B: [4, 5]}
    assert states(run)[1:3] == [
        (2, State.TRIAGE, Reason.UNREADABLE),
        (3, State.TRIAGE, Reason.UNREADABLE),
    ]


def test_unknown_elsewhere_and_closed_references_go_to_triage_with_their_pages(
    liaison, facility, correspondences
):
    close_correspondences(
        Correspondence.objects.filter(pk=correspondences[CODE_C].pk),
        Correspondence.CloseReason.RELEASED,
    )
    run = read(
        run_of(
            liaison,
            facility,
            (
                "run.pdf",
                pdf_of(
                    sheet(CODE_UNKNOWN),
                    written(1),
                    sheet(CODE_ELSEWHERE),
                    written(2),
                    sheet(CODE_C),
                    written(3),
                    sheet(CODE_A),
                ),
            ),
        )
    )
    assert states(run) == [
        (1, State.TRIAGE, Reason.UNKNOWN),
        (2, State.TRIAGE, Reason.UNKNOWN),
        (3, State.TRIAGE, Reason.OTHER_FACILITY),
        (4, State.TRIAGE, Reason.OTHER_FACILITY),
        (5, State.TRIAGE, Reason.CLOSED),
        (6, State.TRIAGE, Reason.CLOSED),
        (7, State.REPLY, ""),
    ]
    assert not Letter.objects.filter(correspondence=correspondences[CODE_ELSEWHERE]).exists()
    assert not Letter.objects.filter(correspondence=correspondences[CODE_C]).exists()


def test_a_later_page_of_the_same_reference_continues_its_reply(liaison, facility, correspondences):
    run = read(
        run_of(
            liaison,
            facility,
            (
                "run.pdf",
                pdf_of(
                    sheet(CODE_A),
                    sheet(CODE_A, 2),
                    written(1),
                    # Page 2 of another reference: a reply whose first sheet is missing.
                    sheet(CODE_B, 2),
                    # Page 1 of A again: A's person wrote a second reply.
                    sheet(CODE_A, 1, seed=1),
                ),
            ),
        )
    )
    assert replies_of(run) == {CODE_A: [1, 2, 3, 5], CODE_B: [4]}
    assert Letter.objects.filter(correspondence=correspondences[CODE_A]).count() == 2


def test_it_reads_images_and_zips_in_order(liaison, facility, correspondences):
    run = read(
        run_of(
            liaison,
            facility,
            ("1.jpg", jpeg_of(sheet(CODE_A))),
            (
                "rest.zip",
                zip_of(page10_jpg=jpeg_of(written(2)), page2_jpg=jpeg_of(written(1))),
            ),
            ("3.png", _png(sheet(CODE_B))),
        )
    )
    assert run.pages_total == run.pages_done == 4
    assert replies_of(run) == {CODE_A: [1, 2, 3], CODE_B: [4]}
    first_scan = Letter.objects.get(correspondence=correspondences[CODE_A]).scans.get(page=1)
    # An image page's hash is the hash of the file as received.
    assert first_scan.content_hash == hashlib.sha256(jpeg_of(sheet(CODE_A))).hexdigest()


def _png(page: Image.Image) -> bytes:
    out = io.BytesIO()
    page.copy().save(out, "PNG")
    return out.getvalue()


# --- Duplicates ------------------------------------------------------------------------------


def test_uploading_the_same_run_again_makes_no_new_reply(liaison, facility, correspondences):
    content = pdf_of(sheet(CODE_A), written(1), blank(), written(9), sheet(CODE_UNKNOWN))
    first = read(run_of(liaison, facility, ("run.pdf", content)))
    assert first.replies_made == 1
    again = read(run_of(liaison, facility, ("again.pdf", content)))
    assert again.replies_made == 0
    assert [state for _number, state, _reason in states(again)] == [
        State.DUPLICATE,
        State.DUPLICATE,
        State.BLANK,
        State.DUPLICATE,
        # Already waiting in triage from the first run.
        State.DUPLICATE,
    ]
    assert Letter.objects.count() == 1


def test_a_page_already_received_is_a_duplicate_and_new_pages_still_make_a_reply(
    liaison, facility, correspondences
):
    read(run_of(liaison, facility, ("one.jpg", jpeg_of(sheet(CODE_A)))))
    run = read(
        run_of(
            liaison,
            facility,
            # The same sheet again, now with its second page; and one page twice.
            ("one.jpg", jpeg_of(sheet(CODE_A))),
            ("two.jpg", jpeg_of(written(1))),
            ("b.jpg", jpeg_of(sheet(CODE_B))),
            ("b-again.jpg", jpeg_of(sheet(CODE_B))),
        )
    )
    assert states(run) == [
        (1, State.DUPLICATE, ""),
        (2, State.REPLY, ""),
        (3, State.REPLY, ""),
        (4, State.DUPLICATE, ""),
    ]
    # The reply's new page makes a reply of its own, to the right reference.
    assert replies_of(run) == {CODE_A: [2], CODE_B: [3]}


def test_a_page_of_a_single_upload_is_a_duplicate(liaison, facility, correspondences):
    from messaging.replies import check_upload_reply

    content = jpeg_of(sheet(CODE_A))
    letter = check_upload_reply(
        liaison, correspondences[CODE_A], [upload("a.jpg", content)], "", uuid.uuid4()
    )
    # The single upload records its hash (helper B's change, or set here as it would be).
    letter.scans.update(content_hash=hashlib.sha256(content).hexdigest())
    run = read(run_of(liaison, facility, ("a.jpg", content)))
    assert states(run) == [(1, State.DUPLICATE, "")]
    assert run.replies_made == 0


def test_another_facility_may_receive_the_same_page(liaison, facility, correspondences):
    """Duplicates are per facility: one facility's pages say nothing about another's."""
    content = jpeg_of(written(4))
    read(run_of(liaison, facility, ("x.jpg", content)))
    other = LiaisonFactory().user
    run = read(run_of(other, other.facility_memberships.get().facility, ("x.jpg", content)))
    assert states(run) == [(1, State.TRIAGE, Reason.UNREADABLE)]


# --- Idempotency, failure and resuming ---------------------------------------------------------


def test_a_double_submit_makes_one_run(liaison, facility, correspondences):
    key = uuid.uuid4()
    first = run_of(liaison, facility, ("a.jpg", jpeg_of(sheet(CODE_A))), key=key)
    second = run_of(liaison, facility, ("b.jpg", jpeg_of(sheet(CODE_B))), key=key)
    assert first == second
    assert ScanRun.objects.count() == 1
    assert ScanRunFile.objects.count() == 1


def test_reading_a_run_twice_changes_nothing(liaison, facility, correspondences):
    run = read(run_of(liaison, facility, ("run.pdf", pdf_of(sheet(CODE_A), written(1)))))
    before = (list(ScanPage.objects.values_list("pk", "state", "letter")), Letter.objects.count())
    assert process_run(run.pk) == ScanRun.State.DONE
    assert (
        list(ScanPage.objects.values_list("pk", "state", "letter")),
        Letter.objects.count(),
    ) == before


class WorkerKilled(BaseException):
    """What a killed worker looks like from inside: the task stops mid-page."""


@pytest.mark.parametrize("killed_at", [3, 5])
def test_a_run_stopped_midway_carries_on_without_doubling_anything(
    liaison, facility, correspondences, monkeypatch, killed_at
):
    pages = (sheet(CODE_A), written(1), written(2), sheet(CODE_B), written(3), foreign_code())
    expected = read(run_of(liaison, facility, ("clean.pdf", pdf_of(*pages))))
    clean = (states(expected), replies_of(expected))
    # The same run again from scratch, stopped while page `killed_at` is read.
    ScanPage.objects.all().delete()
    Letter.objects.all().delete()
    run = run_of(liaison, facility, ("run.pdf", pdf_of(*pages)))
    real_read_page = intake.scanpages.read_page
    calls = {"count": 0}

    def dies_midway(image):
        calls["count"] += 1
        if calls["count"] == killed_at:
            raise WorkerKilled
        return real_read_page(image)

    monkeypatch.setattr(intake.scanpages, "read_page", dies_midway)
    with pytest.raises(WorkerKilled):
        process_run(run.pk)
    run.refresh_from_db()
    assert run.state == ScanRun.State.PROCESSING
    assert run.pages_done == killed_at - 1
    monkeypatch.setattr(intake.scanpages, "read_page", real_read_page)

    run = read(run)

    assert run.state == ScanRun.State.DONE
    assert (states(run), replies_of(run)) == clean
    assert Letter.objects.count() == 2
    assert LetterScan.objects.count() == 5
    assert ScanPage.objects.filter(run=run).count() == 6


def test_a_run_that_cannot_be_read_fails_and_keeps_what_was_read(
    liaison, facility, correspondences
):
    # A JPEG cut short passes the upload's check (its pages are counted, not
    # drawn) and is refused when it is read.
    damaged = jpeg_of(sheet(CODE_B))[:5000]
    run = read(
        run_of(
            liaison,
            facility,
            ("a.pdf", pdf_of(sheet(CODE_A), written(1))),
            ("b.jpg", damaged),
            ("c.jpg", jpeg_of(written(2))),
        )
    )
    assert run.state == ScanRun.State.FAILED
    assert "File 2" in run.error
    assert "damaged" in run.error
    # The reply before the damaged file is made; the page after it is not
    # guessed into that reply.
    assert replies_of(run) == {CODE_A: [1, 2]}
    assert states(run)[2] == (3, State.TRIAGE, Reason.UNREADABLE)
    assert not ScanRunFile.objects.filter(run=run).exists()


def test_a_run_with_nothing_readable_fails(liaison, facility):
    run = read(run_of(liaison, facility, ("b.jpg", jpeg_of(written(1))[:3000])))
    assert run.state == ScanRun.State.FAILED
    assert run.error.startswith("The run could not be read:")
    assert run.pages_done == 0


def test_the_sweep_queues_stalled_runs_and_gives_up_on_old_ones(
    liaison, facility, correspondences, monkeypatch
):
    queued: list[int] = []
    task = intake.task_named("messaging.tasks.process_scan_run")
    monkeypatch.setattr(task, "delay", queued.append)
    now = timezone.now()
    fresh = run_of(liaison, facility, ("a.jpg", jpeg_of(sheet(CODE_A))))
    stalled = run_of(liaison, facility, ("b.jpg", jpeg_of(sheet(CODE_B))))
    never_started = run_of(liaison, facility, ("c.jpg", jpeg_of(sheet(CODE_C))))
    old = run_of(liaison, facility, ("d.jpg", jpeg_of(written(1))))
    ScanRun.objects.filter(pk=fresh.pk).update(state="processing", heartbeat_at=now)
    ScanRun.objects.filter(pk=stalled.pk).update(
        state="processing", heartbeat_at=now - timedelta(minutes=10)
    )
    ScanRun.objects.filter(pk=never_started.pk).update(created_at=now - timedelta(minutes=10))
    ScanRun.objects.filter(pk=old.pk).update(
        state="processing", created_at=now - timedelta(hours=7), heartbeat_at=now
    )

    assert intake.sweep_scan_runs() == 2

    assert sorted(queued) == sorted([stalled.pk, never_started.pk])
    old.refresh_from_db()
    assert old.state == ScanRun.State.FAILED
    assert "upload the run again" in old.error


# --- Limits and refusals ----------------------------------------------------------------------


def refusal(uploader, facility, *files) -> str:
    with pytest.raises(RunRefused) as refused:
        run_of(uploader, facility, *files)
    return " ".join(refused.value.messages)


def test_it_refuses_a_run_over_the_size_limit(liaison, facility, settings):
    settings.SCAN_RUN_MAX_BYTES = 10_000
    message = refusal(liaison, facility, ("a.jpg", jpeg_of(sheet(CODE_A))))
    assert "one scanning run may be at most 10 kB" in message
    assert not ScanRun.objects.exists()


def test_it_refuses_a_run_over_the_page_limit(liaison, facility, settings):
    settings.SCAN_RUN_MAX_PAGES = 3
    message = refusal(
        liaison,
        facility,
        ("run.pdf", pdf_of(written(1), written(2))),
        ("a.jpg", jpeg_of(written(3))),
        ("b.jpg", jpeg_of(written(4))),
    )
    assert message == (
        "These files hold 4 pages; one scanning run may have at most 3. Upload the run in parts."
    )


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("letter.txt", b"Dear friend", "letter.txt is not a scan"),
        ("empty.pdf", b"", "empty.pdf is empty."),
        ("cut.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "cut.pdf: this PDF looks incomplete"),
        ("broken.zip", b"PK\x03\x04" + b"\x00" * 64, "broken.zip: this ZIP is damaged"),
        ("words.zip", zip_of(notes_txt=b"hello"), "words.zip (notes.txt in the ZIP)"),
    ],
)
def test_it_refuses_what_is_not_a_readable_scan(liaison, facility, name, content, expected):
    message = refusal(liaison, facility, ("fine.jpg", jpeg_of(sheet(CODE_A))), (name, content))
    assert expected in message
    assert not ScanRun.objects.exists()
    assert not ScanRunFile.objects.exists()


def test_it_refuses_a_run_with_no_files(liaison, facility):
    assert "Choose the files of the scanning run" in refusal(liaison, facility)


def test_only_the_facilitys_liaisons_and_staff_may_upload(facility, alice):
    other_liaison = LiaisonFactory().user
    for outsider in (alice, other_liaison):
        with pytest.raises(PermissionDenied):
            run_of(outsider, facility, ("a.jpg", jpeg_of(written(1))))
    staff = UserFactory(is_staff=True)
    assert run_of(staff, facility, ("a.jpg", jpeg_of(written(1)))).uploaded_by == staff


# --- Triage ----------------------------------------------------------------------------------


@pytest.fixture
def triaged(liaison, facility, correspondences):
    """A read run: a reply to A (pages 1-2), then a sheet whose code could not
    be read with its second page (3-4), then a page for another facility (5)."""
    run = read(
        run_of(
            liaison,
            facility,
            (
                "run.pdf",
                pdf_of(
                    sheet(CODE_A), written(1), foreign_code(), written(2), sheet(CODE_ELSEWHERE)
                ),
            ),
        )
    )
    return run, {page.number: page for page in ScanPage.objects.filter(run=run)}


def test_a_page_assigned_by_hand_joins_the_reply_from_its_run(liaison, triaged):
    run, pages = triaged
    letter = intake.assign_page(liaison, pages[3], " pp aaaa 2345 ")
    assert letter.correspondence.code == CODE_A
    assert replies_of(run) == {CODE_A: [1, 2, 3]}
    assert list(letter.scans.order_by("page").values_list("page", "content_hash")) == [
        (1, pages[1].content_hash),
        (2, pages[2].content_hash),
        (3, pages[3].content_hash),
    ]
    pages[3].refresh_from_db()
    assert (pages[3].state, pages[3].resolved_by) == (State.REPLY, liaison)
    # Again: nothing changes.
    assert intake.assign_page(liaison, pages[3], CODE_A) == letter
    assert letter.scans.count() == 3
    action = LiaisonAction.objects.get(kind=LiaisonAction.Kind.SCAN_PAGE_ASSIGNED)
    assert action.detail == {
        "run": run.pk,
        "page": 3,
        "letter": letter.pk,
        "code": CODE_A,
    }


def test_a_page_assigned_after_its_reply_was_approved_starts_a_new_one(liaison, triaged):
    run, pages = triaged
    Letter.objects.filter(correspondence__code=CODE_A).update(status=Letter.Status.APPROVED)
    letter = intake.assign_page(liaison, pages[3], CODE_A)
    assert letter.scans.count() == 1
    assert letter.created_by == liaison
    # The next page joins that new reply, which nobody has approved yet.
    assert intake.assign_page(liaison, pages[4], CODE_B).correspondence.code == CODE_B
    assert intake.assign_page(liaison, pages[5], CODE_A) == letter
    assert letter.scans.count() == 2


@pytest.mark.parametrize("typed", [CODE_UNKNOWN, CODE_ELSEWHERE])
def test_a_reference_not_of_this_facility_is_refused_in_the_same_words(liaison, triaged, typed):
    _run, pages = triaged
    with pytest.raises(TriageRefused) as refused:
        intake.assign_page(liaison, pages[3], typed)
    assert refused.value.messages == [
        f"No correspondence of this facility has the reference {typed}."
    ]
    pages[3].refresh_from_db()
    assert pages[3].state == State.TRIAGE


def test_a_closed_correspondence_takes_no_page(liaison, triaged, correspondences):
    _run, pages = triaged
    close_correspondences(
        Correspondence.objects.filter(code=CODE_B), Correspondence.CloseReason.TRANSFERRED
    )
    with pytest.raises(TriageRefused) as refused:
        intake.assign_page(liaison, pages[3], CODE_B)
    assert "is closed" in refused.value.messages[0]
    with pytest.raises(TriageRefused):
        intake.assign_page(liaison, pages[3], "not a code")


def test_a_page_is_discarded_once(liaison, triaged):
    _run, pages = triaged
    assert intake.discard_page(liaison, pages[5]) is True
    assert intake.discard_page(liaison, pages[5]) is False
    pages[5].refresh_from_db()
    assert pages[5].state == State.DISCARDED
    assert LiaisonAction.objects.filter(kind=LiaisonAction.Kind.SCAN_PAGE_DISCARDED).count() == 1
    with pytest.raises(TriageRefused):
        intake.assign_page(liaison, pages[5], CODE_A)
    intake.assign_page(liaison, pages[3], CODE_A)
    with pytest.raises(TriageRefused):
        intake.discard_page(liaison, pages[3])


def test_another_facilitys_liaison_may_not_sort_pages(triaged):
    _run, pages = triaged
    stranger = LiaisonFactory().user
    with pytest.raises(PermissionDenied):
        intake.assign_page(stranger, pages[3], CODE_A)
    with pytest.raises(PermissionDenied):
        intake.discard_page(stranger, pages[3])


def test_pages_of_a_run_still_being_read_wait_for_it(liaison, facility, triaged):
    run, _pages = triaged
    assert intake.triage_pages(facility).count() == 3
    ScanRun.objects.filter(pk=run.pk).update(state=ScanRun.State.PROCESSING)
    assert intake.triage_pages(facility).count() == 0


# --- The liaison's pages -------------------------------------------------------------------


def url(name: str, facility, *args) -> str:
    return reverse(f"liaison_letters:{name}", args=[facility.slug, *args])


def test_a_liaison_uploads_a_run_and_sees_it_read(liaison_client, facility, correspondences):
    form_page = liaison_client.get(url("scan_runs", facility))
    assert form_page.status_code == 200
    html = form_page.content.decode()
    assert "up to 500 pages and 200 MB in all" in html
    assert 'name="idempotency_key"' in html
    assert "multiple" in html
    key = str(uuid.uuid4())
    content = pdf_of(sheet(CODE_A), written(1), blank(), sheet(CODE_ELSEWHERE))
    response = liaison_client.post(
        url("scan_runs", facility),
        {"scans": [upload("run.pdf", content)], "idempotency_key": key},
    )
    run = ScanRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("scan_run", facility, run.pk)
    # A second submit of the same form lands on the same run.
    again = liaison_client.post(
        url("scan_runs", facility),
        {"scans": [upload("run.pdf", content)], "idempotency_key": key},
    )
    assert again["Location"] == response["Location"]
    assert ScanRun.objects.count() == 1

    working = liaison_client.get(url("scan_run", facility, run.pk))
    html = working.content.decode()
    assert working["Cache-Control"] == "private, no-store"
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    assert '<progress value="0" max="4"' in html
    assert "Read 0 of 4 pages." in html
    assert f'data-run-status-url="{url("scan_run_status", facility, run.pk)}"' in html
    assert 'data-progress-text="Read {done} of {total} pages."' in html
    assert "js/scan-run-progress.js" in html
    status = liaison_client.get(url("scan_run_status", facility, run.pk)).json()
    assert status == {
        "state": "queued",
        "state_label": "Waiting to start",
        "pages_done": 0,
        "pages_total": 4,
        "is_finished": False,
    }

    read(run)

    assert liaison_client.get(url("scan_run_status", facility, run.pk)).json()["is_finished"]
    done = liaison_client.get(url("scan_run", facility, run.pk)).content.decode()
    assert "http-equiv" not in done
    assert "<code>PP-AAAA-2345</code>" in done
    assert "Not for this facility" in done
    # Nothing about the other facility's correspondence: not its reference, nor its people.
    assert CODE_ELSEWHERE not in done
    assert "Secret Elsewhere" not in done
    assert url("scan_page_image", facility, ScanPage.objects.get(number=3).pk) in done
    listing = liaison_client.get(url("scan_runs", facility)).content.decode()
    assert url("scan_run", facility, run.pk) in listing
    assert "1 page is waiting to be sorted" in listing


def test_the_upload_page_says_what_is_wrong(liaison_client, facility, settings):
    response = liaison_client.post(
        url("scan_runs", facility),
        {"scans": [upload("notes.txt", b"hello")], "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code == 400
    assert "notes.txt is not a scan" in response.content.decode()
    response = liaison_client.post(
        url("scan_runs", facility), {"idempotency_key": str(uuid.uuid4())}
    )
    assert "Choose the files of the scanning run." in response.content.decode()
    settings.SCAN_RUN_MAX_BYTES = 50_000
    big = jpeg_of(Image.effect_noise((400, 400), 90).convert("L"))
    response = liaison_client.post(
        url("scan_runs", facility),
        {
            "scans": [upload(f"{n}.jpg", big) for n in range(3)],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 400
    assert "one scanning run may be at most 50 kB" in response.content.decode()
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = liaison_client.post(
        url("scan_runs", facility),
        {
            "scans": [upload(f"{n}.jpg", b"x") for n in range(3)],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 400
    assert "more files than one run may have (2)" in response.content.decode()
    assert not ScanRun.objects.exists()


def test_a_liaison_sorts_pages_on_the_triage_page(liaison_client, facility, triaged):
    run, pages = triaged
    listing = liaison_client.get(url("triage", facility))
    html = listing.content.decode()
    assert listing["Cache-Control"] == "private, no-store"
    for number in (3, 4, 5):
        assert url("scan_page_image", facility, pages[number].pk) in html
        assert url("triage_page", facility, pages[number].pk) in html
    assert url("scan_page_image", facility, pages[1].pk) not in html
    assert "No readable reply code" in html
    assert "Not for this facility" in html
    assert CODE_ELSEWHERE not in html

    wrong = liaison_client.post(
        url("triage_page", facility, pages[3].pk),
        {f"page-{pages[3].pk}-reference": CODE_ELSEWHERE, f"page-{pages[3].pk}-action": "assign"},
    )
    assert wrong.status_code == 400
    assert (
        f"No correspondence of this facility has the reference {CODE_ELSEWHERE}."
        in wrong.content.decode()
    )
    nonsense = liaison_client.post(
        url("triage_page", facility, pages[3].pk),
        {f"page-{pages[3].pk}-reference": "hello", f"page-{pages[3].pk}-action": "assign"},
    )
    assert "This is not a reply reference" in nonsense.content.decode()

    assigned = liaison_client.post(
        url("triage_page", facility, pages[3].pk),
        {f"page-{pages[3].pk}-reference": "pp-aaaa-2345", f"page-{pages[3].pk}-action": "assign"},
    )
    assert assigned.status_code == 302
    assert replies_of(run) == {CODE_A: [1, 2, 3]}
    discarded = liaison_client.post(
        url("triage_page", facility, pages[5].pk),
        {f"page-{pages[5].pk}-reference": "", f"page-{pages[5].pk}-action": "discard"},
        follow=True,
    )
    assert "Page 5 of run" in discarded.content.decode()
    assert intake.triage_pages(facility).count() == 1


def test_a_page_image_is_served_privately(liaison_client, facility, triaged):
    _run, pages = triaged
    response = liaison_client.get(url("scan_page_image", facility, pages[3].pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert (image.format, image.mode, image.size) == ("JPEG", "L", PAGE_SIZE)


def test_the_run_and_triage_pages_answer_in_a_fixed_number_of_queries(
    liaison_client, facility, correspondences, django_assert_max_num_queries
):
    small = read(run_of_pages(facility, sheet(CODE_A), foreign_code()))
    large = read(
        run_of_pages(
            facility,
            sheet(CODE_A, 1, seed=2),
            written(5),
            sheet(CODE_B),
            written(6),
            foreign_code(2),
            written(7),
            blank(),
            sheet(CODE_ELSEWHERE),
        )
    )
    for run in (small, large):
        with django_assert_max_num_queries(9):
            assert liaison_client.get(url("scan_run", facility, run.pk)).status_code == 200
    with django_assert_max_num_queries(9):
        assert liaison_client.get(url("triage", facility)).status_code == 200
    with django_assert_max_num_queries(8):
        assert liaison_client.get(url("scan_runs", facility)).status_code == 200


def run_of_pages(facility, *pages: Image.Image) -> ScanRun:
    liaison = facility.liaisons.get().user
    return run_of(liaison, facility, ("run.pdf", pdf_of(*pages)))


# --- Who may reach what ----------------------------------------------------------------------


@pytest.fixture
def every_url(facility, triaged):
    run, pages = triaged
    return [
        ("get", url("scan_runs", facility)),
        ("post", url("scan_runs", facility)),
        ("get", url("scan_run", facility, run.pk)),
        ("get", url("scan_run_status", facility, run.pk)),
        ("get", url("triage", facility)),
        ("post", url("triage_page", facility, pages[3].pk)),
        ("get", url("scan_page_image", facility, pages[3].pk)),
        ("get", url("scan_page_image", facility, pages[1].pk)),
    ]


def test_outsiders_get_a_login_page_or_nothing(client, every_url, alice, moderator_with_mfa):
    for method, address in every_url:
        response = getattr(client, method)(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith(reverse("account_login")), address
    stranger = LiaisonFactory().user
    activate_totp(stranger)
    for person in (alice, stranger, moderator_with_mfa):
        client.force_login(person)
        for method, address in every_url:
            response = getattr(client, method)(
                address, {"page-1-action": "discard", "idempotency_key": str(uuid.uuid4())}
            )
            # Moderators may look at a run's page images (they work the runs
            # staff upload for replies by post); nothing else in the portal.
            may_see = person == moderator_with_mfa and "/scan-pages/" in address
            assert response.status_code == (200 if may_see else 404), (person, address)
    assert ScanPage.objects.filter(state=State.DISCARDED).count() == 0


def test_another_facilitys_run_is_not_found_under_the_liaisons_own_facility(
    liaison_client, facility, liaison
):
    other_liaison = LiaisonFactory().user
    other_facility = other_liaison.facility_memberships.get().facility
    run = read(run_of(other_liaison, other_facility, ("a.jpg", jpeg_of(written(8)))))
    page = ScanPage.objects.get(run=run)
    for address in (
        url("scan_run", facility, run.pk),
        url("scan_run_status", facility, run.pk),
        url("scan_page_image", facility, page.pk),
    ):
        assert liaison_client.get(address).status_code == 404
    response = liaison_client.post(
        url("triage_page", facility, page.pk),
        {f"page-{page.pk}-action": "discard"},
    )
    assert response.status_code == 404


# --- Staff --------------------------------------------------------------------------------------


def test_staff_upload_a_run_of_posted_replies_in_the_admin(client, facility, correspondences):
    superuser = UserFactory(is_staff=True, is_superuser=True, email="admin@example.org")
    activate_totp(superuser)
    client.force_login(superuser)
    upload_url = reverse("admin:messaging_scanrun_upload")
    assert upload_url in client.get(reverse("admin:messaging_scanrun_changelist")).content.decode()
    assert client.get(upload_url).status_code == 200
    response = client.post(
        upload_url,
        {
            "facility": facility.pk,
            "scans": [upload("posted.jpg", jpeg_of(sheet(CODE_A)))],
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    run = ScanRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:messaging_scanrun_change", args=[run.pk])
    assert (run.facility, run.uploaded_by) == (facility, superuser)
    read(run)
    change = client.get(response["Location"])
    assert change.status_code == 200
    page = ScanPage.objects.get(run=run)
    assert url("scan_page_image", facility, page.pk) in change.content.decode()
    assert client.get(url("scan_page_image", facility, page.pk)).status_code == 200
    assert Letter.objects.get().created_by == superuser


# --- In a browser -----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
@pytest.mark.django_db(transaction=True)
def test_the_run_page_follows_the_run_by_itself(page, live_server):
    from playwright.sync_api import expect

    from tests.browser import pages

    world = pages.set_up_liaison()
    facility = world.liaison.facility_memberships.get(facility__slug="northgate").facility
    CorrespondenceFactory(profile=InmateProfileFactory.published(facility=facility), code=CODE_A)
    run = run_of(world.liaison, facility, ("run.pdf", pdf_of(sheet(CODE_A), written(1))))
    pages.log_in_liaison(page, world)
    page.goto(url("scan_run", facility, run.pk))
    box = page.locator("[data-run-status-url]")
    progress_text = box.get_attribute("data-progress-text")
    assert progress_text and "{done}" in progress_text
    bar = page.locator("progress")
    expect(bar).to_have_attribute("value", "0")

    # The bar and its words move as the worker reads, without a reload.
    ScanRun.objects.filter(pk=run.pk).update(state=ScanRun.State.PROCESSING, pages_done=1)
    expect(box.get_by_role("status")).to_have_text(
        progress_text.replace("{done}", "1").replace("{total}", "2"), timeout=15_000
    )
    expect(bar).to_have_js_property("value", 1)

    # Once the run is read, the page shows what became of it.
    ScanRun.objects.filter(pk=run.pk).update(state=ScanRun.State.QUEUED, pages_done=0)
    process_run(run.pk)
    expect(page.get_by_role("heading", name="Replies made")).to_be_visible(timeout=15_000)
    expect(page.locator("main")).to_contain_text(CODE_A)
