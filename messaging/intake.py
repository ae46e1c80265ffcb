"""A mailroom's whole scanning run, uploaded at once and split into replies.

`check_upload_run` takes the files of one run (a PDF, page images or a ZIP)
from a liaison of the facility or staff, checks them by content, stores them
privately and queues `process_run`, which reads them page by page
(messaging.scanpages) and splits the pages into replies:

- a page with our QR code (a reply mark) starts a reply to that reference;
  a page whose mark says page 2+ of the reply being read continues it;
- the pages after it without a code continue it; blank pages are dropped;
- a page whose code cannot be read (a symbol was seen), a page with no code
  and no reply before it, and every page following either go to triage, as do
  replies whose reference is unknown, of another facility, or of a
  correspondence that takes no replies. Nothing is matched by guess: a person
  assigns triaged pages by reference (`assign_page`) or discards them;
- a page already received (its content hash is a scan of this facility's
  letters, or a page of this facility in a reply or in triage) is a duplicate
  and goes nowhere, so uploading a run again makes no new reply.

Each page is decided when it is read, under a lock on the facility row, so
two runs of one facility never both keep the same page. A reply's pages wait
(state REPLY, no letter) until the reply ends; then one transaction makes the
inbound Letter with its LetterScans and queues its reading, so no screening
ever sees half a reply. A worker that dies mid-run loses nothing: the pages
stored so far are skipped when the run is picked up again (by a redelivered
task, or `sweep_scan_runs` once its heartbeat is stale), and the reply being
read is worked out again from them (`_context_from_stored`).
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from PIL import Image

from messaging import reading, scanpages
from messaging.models import (
    Correspondence,
    Letter,
    LetterScan,
    ScanPage,
    ScanRun,
    ScanRunFile,
    normalise_code,
)
from messaging.replies import upload_refusal
from penpals import filetypes
from penpals.models import User
from penpals.tasks import enqueue_on_commit, task_named
from penpals.uploads import megabytes
from profiles.access import get_facility_for_liaison, is_staff_with
from profiles.models import Facility, FacilityLiaison, LiaisonAction
from profiles.services import record_action

logger = logging.getLogger(__name__)

State = ScanPage.State
Reason = ScanPage.TriageReason

ZIP_CONTENT_TYPE = "application/zip"
# What a run may be made of, told by content: (content type, stored extension).
_KINDS = {
    filetypes.PDF: ("application/pdf", ".pdf"),
    filetypes.JPEG: ("image/jpeg", ".jpg"),
    filetypes.PNG: ("image/png", ".png"),
}
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# Pages are kept as greyscale JPEG: a handwritten page stays legible (and OCR
# reads it as well) at a fraction of a PNG's size.
PAGE_IMAGE_QUALITY = 85
PAGE_IMAGE_TYPE = "image/jpeg"
# A run whose worker has shown no progress for this long is picked up again.
STALE_AFTER = timedelta(minutes=5)
# A run still unfinished this long after its upload is given up (a page that
# crashes every worker would otherwise be retried for ever).
GIVE_UP_AFTER = timedelta(hours=6)
# The first key of the Postgres advisory lock one worker holds on a run.
_RUN_LOCK_CLASS = 0x5CA9
# Idempotency keys of replies made from runs derive from this namespace.
_REPLY_KEYS = uuid.UUID("7a1f3c52-5d0e-4c1e-9a53-2b8e3f6d0c41")


class RunRefused(ValidationError):
    """Why a scanning run cannot be uploaded; the message is shown to the uploader."""


class TriageRefused(ValidationError):
    """Why a page in triage cannot be assigned; the message is shown to the person."""


# --- Access ----------------------------------------------------------------------------


def get_run_for_liaison(user: User, facility_slug: str, run_id: int) -> ScanRun:
    """A scanning run of one of the liaison's facilities, or 404."""
    facility = get_facility_for_liaison(user, facility_slug)
    return get_object_or_404(
        ScanRun.objects.filter(facility=facility).select_related("facility", "uploaded_by"),
        pk=run_id,
    )


def get_page_for_liaison(user: User, facility_slug: str, page_id: int) -> ScanPage:
    """A scanned page of one of the liaison's facilities, or 404."""
    facility = get_facility_for_liaison(user, facility_slug)
    return get_object_or_404(
        ScanPage.objects.filter(facility=facility).select_related("facility", "run"),
        pk=page_id,
    )


def get_page_image_for_user(user: User, facility_slug: str, page_id: int) -> ScanPage:
    """A page whose image `user` may see: a liaison of its facility, or staff
    who may view scanned pages (the admin links them). 404 for everyone else."""
    if is_staff_with(user, "messaging.view_scanpage"):
        return get_object_or_404(
            ScanPage.objects.select_related("facility"),
            pk=page_id,
            facility__slug=facility_slug,
        )
    return get_page_for_liaison(user, facility_slug, page_id)


def may_upload_runs(user: User, facility: Facility) -> bool:
    return user.is_active and (
        user.is_staff or FacilityLiaison.objects.filter(user=user, facility=facility).exists()
    )


# --- Upload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CheckedFile:
    uploaded: UploadedFile
    content_type: str
    extension: str
    pages: int


def check_upload_run(
    uploader: User, facility: Facility, files, idempotency_key: uuid.UUID
) -> ScanRun:
    """Store the files of one scanning run and queue its reading, or raise
    RunRefused saying why not (PermissionDenied when `uploader` is neither a
    liaison of `facility` nor staff).

    A second call with the same idempotency key returns the first run and
    stores nothing. Every file is checked before any is stored; if storing
    fails, the files already stored are deleted and no row is written. Call
    it outside a transaction (as views do).
    """
    existing = ScanRun.objects.filter(uploaded_by=uploader, idempotency_key=idempotency_key)
    if (run := existing.first()) is not None:
        return run
    if not may_upload_runs(uploader, facility):
        raise PermissionDenied("Only the facility's liaison or staff can upload its scans.")
    files = list(files)
    if not files:
        raise RunRefused(
            gettext(
                "Choose the files of the scanning run: one PDF, the page images (JPEG or PNG), "
                "or a ZIP of them."
            )
        )
    if too_big := run_too_big(sum(uploaded.size or 0 for uploaded in files)):
        raise RunRefused(too_big)
    errors: list[str] = []
    checked: list[_CheckedFile] = []
    for uploaded in files:
        try:
            checked.append(check_run_file(uploaded))
        except ValidationError as error:
            errors.extend(error.messages)
    if errors:
        raise RunRefused(errors)
    if too_many := run_too_long(sum(item.pages for item in checked)):
        raise RunRefused(too_many)
    return do_upload_run(uploader, facility, checked, idempotency_key)


def run_too_big(size: int) -> str:
    """The refusal of a run of `size` bytes, or "" when it is within the limit."""
    limit = settings.SCAN_RUN_MAX_BYTES
    if size <= limit:
        return ""
    return gettext(
        "These files add up to %(size)s; one scanning run may be at most %(limit)s. "
        "Upload the run in parts."
    ) % {"size": megabytes(size), "limit": megabytes(limit)}


def run_too_long(pages: int) -> str:
    """The refusal of a run of `pages` pages, or "" when it is within the limit."""
    limit = settings.SCAN_RUN_MAX_PAGES
    if pages <= limit:
        return ""
    return ngettext(
        "These files hold %(count)s page; one scanning run may have at most %(limit)s. "
        "Upload the run in parts.",
        "These files hold %(count)s pages; one scanning run may have at most %(limit)s. "
        "Upload the run in parts.",
        pages,
    ) % {"count": pages, "limit": limit}


def check_run_file(uploaded: UploadedFile) -> _CheckedFile:
    """What one uploaded file is, told by its content, and how many pages it
    holds; or ValidationError naming the file and the reason."""
    name = PurePosixPath(uploaded.name or gettext("file")).name
    if not uploaded.size:
        raise ValidationError(gettext("%(name)s is empty.") % {"name": name})
    uploaded.seek(0)
    head = uploaded.read(filetypes.HEAD_BYTES)
    uploaded.seek(0)
    if head.startswith(_ZIP_SIGNATURES):
        content_type, extension = ZIP_CONTENT_TYPE, ".zip"
    elif (found := filetypes.sniff(head)) in _KINDS:
        content_type, extension = _KINDS[found]  # type: ignore[index]
    else:
        raise ValidationError(
            gettext("%(name)s is not a scan: send a PDF, JPEG or PNG file, or a ZIP of them.")
            % {"name": name}
        )
    with local_copy(uploaded) as path:
        try:
            pages = scanpages.count_pages(path, content_type)
        except ValidationError as refusal:
            raise ValidationError([_named(message, name) for message in refusal.messages]) from None
    if pages < 1:
        raise ValidationError(gettext("%(name)s has no pages.") % {"name": name})
    return _CheckedFile(uploaded, content_type, extension, pages)


def _named(message: str, name: str) -> str:
    """A refusal of one file with the file's name: the page engine counts
    each file on its own, so it calls every one "File 1"."""
    label = gettext("File %(number)s") % {"number": 1}
    if message.startswith(label):
        return name + message[len(label) :]
    return gettext("%(name)s: %(reason)s") % {"name": name, "reason": message}


@contextmanager
def local_copy(uploaded: UploadedFile) -> Iterator[Path]:
    """A path to the upload's bytes: its temporary file when it has one (a
    large upload), else a private copy deleted afterwards."""
    temporary = getattr(uploaded, "temporary_file_path", None)
    if temporary is not None:
        yield Path(temporary())
        return
    with tempfile.TemporaryDirectory(prefix="penpals-run-") as folder:
        path = Path(folder) / "upload"
        uploaded.seek(0)
        with open(path, "wb") as copy:
            for chunk in uploaded.chunks():
                copy.write(chunk)
        uploaded.seek(0)
        yield path


def do_upload_run(
    uploader: User, facility: Facility, files: list[_CheckedFile], idempotency_key: uuid.UUID
) -> ScanRun:
    stored: list[ScanRunFile] = []
    try:
        with transaction.atomic():
            # One uploader's runs are stored one at a time, so a resubmit racing
            # the first submit finds its run instead of making a second one.
            User.objects.select_for_update().filter(pk=uploader.pk).first()
            existing = ScanRun.objects.filter(
                uploaded_by=uploader, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return existing
            run = ScanRun.objects.create(
                facility=facility,
                uploaded_by=uploader,
                idempotency_key=idempotency_key,
                pages_total=sum(item.pages for item in files),
            )
            for position, item in enumerate(files):
                run_file = ScanRunFile(
                    run=run,
                    position=position,
                    content_type=item.content_type,
                    size=item.uploaded.size or 0,
                )
                item.uploaded.seek(0)
                # The extension comes from the content, whatever the file was called.
                run_file.file.save(f"run{item.extension}", item.uploaded, save=False)
                stored.append(run_file)
                run_file.save()
            record_action(
                uploader,
                facility,
                LiaisonAction.Kind.SCAN_RUN_UPLOADED,
                run=run.pk,
                files=len(files),
                pages=run.pages_total,
            )
            enqueue_on_commit("messaging.tasks.process_scan_run", run.pk)
    except BaseException:
        # Rows roll back with the transaction; files do not.
        for run_file in stored:
            _delete_quietly(run_file.file.storage, run_file.file.name)
        raise
    return run


# --- Reading a run -------------------------------------------------------------------------


@dataclass(eq=False)
class _Reply:
    """The reply the pages being read belong to: into `correspondence`, or,
    when it is None, to triage for `reason`. Compared by identity: a new
    object is a new reply, even to the same reference."""

    code: str
    correspondence: Correspondence | None
    reason: str = ""
    # The number of the page it starts on: its pages are this one and after.
    start: int = 0


def process_run(run_id: int) -> str:
    """Read a stored run and split it into replies (the task
    messaging.tasks.process_scan_run). Safe to run twice and at the same time:
    one worker holds the run's lock and the others return; a finished run is
    left as it is. Returns the run's state."""
    with _run_lock(run_id) as locked:
        if not locked:
            return "busy"
        run = ScanRun.objects.select_related("facility", "uploaded_by").filter(pk=run_id).first()
        if run is None:
            return "missing"
        if run.state in (ScanRun.State.DONE, ScanRun.State.FAILED):
            # A worker that died between finishing and cleaning up left the files.
            _delete_source_files(run)
            return run.state
        _read_run(run)
        return run.state


@contextmanager
def _run_lock(run_id: int) -> Iterator[bool]:
    """Whether this worker got the run: a session-level advisory lock, freed
    when the worker's connection closes, so a dead worker never holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RUN_LOCK_CLASS, run_id])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUN_LOCK_CLASS, run_id])


def _read_run(run: ScanRun) -> None:
    stored = list(run.pages.order_by("number"))
    done = {page.number for page in stored}
    # Pages up to here were decided before a worker stopped; the reply the
    # next one continues is worked out from them.
    resumed_after = max(done, default=0)
    reply = _context_from_stored(run, stored)
    now = timezone.now()
    ScanRun.objects.filter(pk=run.pk).update(
        state=ScanRun.State.PROCESSING,
        started_at=run.started_at or now,
        heartbeat_at=now,
        pages_done=len(done),
    )
    run.state = ScanRun.State.PROCESSING
    refusals: list[str] = []
    number = 0
    for run_file in run.files.order_by("position"):
        with _source_path(run_file) as path:
            # Every page is drawn again, even those stored before a worker
            # stopped: numbering by what is read keeps the numbers the same
            # on every pass.
            pages = scanpages.iter_source_pages(
                path, run_file.content_type, source_index=run_file.position
            )
            try:
                for source in pages:
                    number += 1
                    if number in done:
                        continue
                    reply = _store_page(run, number, source, reply)
                    done.add(number)
            except scanpages.SourceRefused as refusal:
                # The rest of the run is still read. Pages missing here may have
                # started a reply: what follows is not guessed into the one before.
                refusals.extend(refusal.messages)
                if number >= resumed_after:
                    reply = _interrupt(run, reply, number + 1)
    _finish(run, reply, error=_failure_message(refusals, any_read=bool(done)))


def _interrupt(run: ScanRun, reply: _Reply | None, number: int) -> _Reply:
    """End the reply being read where a file could not be read: the pages
    after it go to triage until the next readable code."""
    with transaction.atomic():
        Facility.objects.select_for_update().get(pk=run.facility_id)
        _close_reply(run, reply)
    return _Reply("", None, Reason.UNREADABLE, start=number)


def _failure_message(refusals: list[str], any_read: bool) -> str:
    if not refusals:
        return ""
    reasons = " ".join(refusals)
    if not any_read:
        return gettext("The run could not be read: %(reasons)s") % {"reasons": reasons}
    return gettext(
        "Part of the run could not be read: %(reasons)s The other pages have been read "
        "and sorted. Fix or leave out that file and upload it again: pages already "
        "received are recognised and not added twice."
    ) % {"reasons": reasons}


@contextmanager
def _source_path(run_file: ScanRunFile) -> Iterator[Path]:
    """A local path to a stored run file (a copy when the storage is remote)."""
    storage = run_file.file.storage
    try:
        yield Path(storage.path(run_file.file.name))
        return
    except NotImplementedError:
        pass
    with tempfile.TemporaryDirectory(prefix="penpals-run-") as folder:
        path = Path(folder) / "source"
        with storage.open(run_file.file.name, "rb") as source, open(path, "wb") as copy:
            shutil.copyfileobj(source, copy, 1024 * 1024)
        yield path


def _read(image: Image.Image) -> scanpages.ReadPage:
    try:
        return scanpages.read_page(image)
    except Exception:
        # One page the reader chokes on must not stop the run, nor be guessed
        # into a reply: it goes to triage as a page whose code was not read,
        # and so do the pages after it, up to the next readable code.
        logger.exception("could not read a scanned page; it goes to triage")
        return scanpages.ReadPage(
            image=image.convert("L"),
            mark=None,
            code_seen=True,
            rotation=0,
            skew=0.0,
            is_blank=False,
        )


def _store_page(
    run: ScanRun, number: int, source: scanpages.SourcePage, reply: _Reply | None
) -> _Reply | None:
    """Read one page, store its image and decide where it goes. Returns the
    reply the pages after it continue."""
    read = _read(source.image)
    page = ScanPage(
        run=run,
        facility_id=run.facility_id,
        number=number,
        content_hash=source.content_hash,
        width=read.image.width,
        height=read.image.height,
        mark_code=read.mark.code if read.mark else "",
        mark_page=read.mark.page if read.mark else None,
        rotation=read.rotation,
        skew=read.skew,
    )
    page.image.save("page.jpg", ContentFile(_encode_page(read.image)), save=False)
    try:
        with transaction.atomic():
            # Decided under the facility's lock: two runs of one facility never
            # both keep the same page, and the duplicate check sees every page
            # stored before this one.
            facility = Facility.objects.select_for_update().get(pk=run.facility_id)
            following = _next_reply(facility, reply, read, number)
            if following is not reply:
                _close_reply(run, reply)
            page.state, page.triage_reason = _page_state(facility, following, source, read)
            page.save()
            ScanRun.objects.filter(pk=run.pk).update(
                pages_done=run.pages.count(), heartbeat_at=timezone.now()
            )
    except BaseException:
        _delete_quietly(page.image.storage, page.image.name)
        raise
    return following


def _encode_page(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "JPEG", quality=PAGE_IMAGE_QUALITY, optimize=True)
    return buffer.getvalue()


def _next_reply(
    facility: Facility, reply: _Reply | None, read: scanpages.ReadPage, number: int
) -> _Reply | None:
    """The reply page `number` belongs to, given the one before it."""
    if read.mark is not None:
        if reply is not None and reply.code == read.mark.code and read.mark.page > 1:
            return reply
        return _reply_for_code(facility, read.mark.code, number)
    if read.code_seen:
        # A code that cannot be read starts a reply nobody can name.
        return _Reply("", None, Reason.UNREADABLE, start=number)
    if read.is_blank:
        return reply
    if reply is None:
        return _Reply("", None, Reason.UNREADABLE, start=number)
    return reply


def _reply_for_code(facility: Facility, code: str, number: int) -> _Reply:
    correspondence = (
        Correspondence.objects.select_related("profile", "pen_pal").filter(code=code).first()
    )
    if correspondence is None:
        return _Reply(code, None, Reason.UNKNOWN, start=number)
    if correspondence.profile.facility_id != facility.pk:
        return _Reply(code, None, Reason.OTHER_FACILITY, start=number)
    if upload_refusal(correspondence):
        return _Reply(code, None, Reason.CLOSED, start=number)
    return _Reply(code, correspondence, start=number)


def _page_state(
    facility: Facility,
    reply: _Reply | None,
    source: scanpages.SourcePage,
    read: scanpages.ReadPage,
) -> tuple[str, str]:
    if read.is_blank and read.mark is None and not read.code_seen:
        return State.BLANK, ""
    if is_already_received(facility, source.content_hash):
        return State.DUPLICATE, ""
    if reply is not None and reply.correspondence is not None:
        return State.REPLY, ""
    return State.TRIAGE, reply.reason if reply is not None else Reason.UNREADABLE


def is_already_received(facility: Facility, content_hash: str) -> bool:
    """Whether a page with `content_hash` is already a scan of one of
    `facility`'s letters, or a page of `facility`'s in a reply or in triage."""
    if LetterScan.objects.filter(
        content_hash=content_hash, letter__correspondence__profile__facility=facility
    ).exists():
        return True
    return ScanPage.objects.filter(
        facility=facility, content_hash=content_hash, state__in=(State.REPLY, State.TRIAGE)
    ).exists()


def _context_from_stored(run: ScanRun, stored: list[ScanPage]) -> _Reply | None:
    """The reply the next page continues, worked out again from the pages a
    worker stored before it stopped (the same steps as `_next_reply`).

    Only a duplicate page whose code was seen but not read cannot be told from
    a continuation page here; its followers then continue the reply before it,
    as the stored pages say.
    """
    reply: _Reply | None = None
    for page in stored:
        if page.mark_code:
            if reply is not None and reply.code == page.mark_code and (page.mark_page or 1) > 1:
                continue
            if page.state == State.TRIAGE:
                reply = _Reply(page.mark_code, None, page.triage_reason, start=page.number)
            elif page.state == State.REPLY:
                correspondence = Correspondence.objects.filter(code=page.mark_code).first()
                reply = _Reply(page.mark_code, correspondence, start=page.number)
            else:
                reply = _reply_for_code(run.facility, page.mark_code, page.number)
        elif page.state == State.TRIAGE and page.triage_reason == Reason.UNREADABLE:
            if reply is None or reply.reason != Reason.UNREADABLE:
                reply = _Reply("", None, Reason.UNREADABLE, start=page.number)
    return reply


def _close_reply(run: ScanRun, reply: _Reply | None) -> Letter | None:
    """Make the letter of the reply that has just ended, from its pages still
    waiting (none when all its pages were duplicates). Call it in the
    transaction holding the facility's lock."""
    if reply is None or reply.correspondence is None:
        return None
    pages = list(
        run.pages.filter(state=State.REPLY, letter__isnull=True, number__gte=reply.start).order_by(
            "number"
        )
    )
    if not pages:
        return None
    correspondence = (
        Correspondence.objects.select_for_update(of=("self",))
        .select_related("profile__facility", "pen_pal")
        .get(pk=reply.correspondence.pk)
    )
    # A block or closure that landed while the run was read wins.
    if upload_refusal(correspondence):
        run.pages.filter(pk__in=[page.pk for page in pages]).update(
            state=State.TRIAGE, triage_reason=Reason.CLOSED
        )
        return None
    key = reply_key(run, pages[0].number)
    letter = Letter.objects.filter(created_by=run.uploaded_by, idempotency_key=key).first()
    if letter is None:
        letter = Letter.objects.create(
            correspondence=correspondence,
            direction=Letter.Direction.INBOUND,
            created_by=run.uploaded_by,
            idempotency_key=key,
        )
        _add_scans(letter, pages, first_number=1)
        record_action(
            run.uploaded_by,
            run.facility,
            LiaisonAction.Kind.REPLY_UPLOADED,
            profile=correspondence.profile,
            letter=letter.pk,
            code=correspondence.code,
            pages=len(pages),
            run=run.pk,
        )
        _enqueue_reading(letter)
    run.pages.filter(pk__in=[page.pk for page in pages]).update(letter=letter)
    run.replies_made = Letter.objects.filter(
        pk__in=run.pages.filter(letter__isnull=False).values("letter")
    ).count()
    ScanRun.objects.filter(pk=run.pk).update(replies_made=run.replies_made)
    return letter


def reply_key(run: ScanRun, first_page_number: int) -> uuid.UUID:
    """The idempotency key of the reply a run makes from its page
    `first_page_number`: the same on every re-run of the task."""
    return uuid.uuid5(_REPLY_KEYS, f"run:{run.pk}:page:{first_page_number}")


def _add_scans(letter: Letter, pages: list[ScanPage], first_number: int) -> None:
    # The page image is stored once: the scan's file and page image name it,
    # so the retention purge of the scan removes the page's image too.
    LetterScan.objects.bulk_create(
        LetterScan(
            letter=letter,
            page=number,
            file=page.image.name,
            page_image=page.image.name,
            content_type=PAGE_IMAGE_TYPE,
            size=page.image.size,
            content_hash=page.content_hash,
            width=page.width,
            height=page.height,
        )
        for number, page in enumerate(pages, start=first_number)
    )


def _enqueue_reading(letter: Letter) -> None:
    # OCR, then screening, as for every inbound letter.
    reading.enqueue_reading(letter)


def _finish(run: ScanRun, reply: _Reply | None, error: str = "") -> None:
    with transaction.atomic():
        Facility.objects.select_for_update().get(pk=run.facility_id)
        _close_reply(run, reply)
        run.state = ScanRun.State.FAILED if error else ScanRun.State.DONE
        run.error = error
        run.finished_at = run.heartbeat_at = timezone.now()
        run.pages_done = run.pages.count()
        run.pages_total = max(run.pages_total, run.pages_done)
        run.save(
            update_fields=[
                "state",
                "error",
                "finished_at",
                "heartbeat_at",
                "pages_done",
                "pages_total",
                "replies_made",
            ]
        )
    _delete_source_files(run)


def _delete_source_files(run: ScanRun) -> None:
    """The uploaded files of a finished run: its pages are kept, the files are not."""
    for run_file in run.files.all():
        _delete_quietly(run_file.file.storage, run_file.file.name)
        run_file.delete()


def _delete_quietly(storage, name: str) -> None:
    if not name:
        return
    try:
        storage.delete(name)
    except Exception:
        logger.exception("could not delete a scanning run's file: %s", name)


# --- Stalled runs ----------------------------------------------------------------------------


def sweep_scan_runs(now=None) -> int:
    """Queue again the runs whose worker stopped (no progress for
    STALE_AFTER, or never started), and give up on runs unfinished after
    GIVE_UP_AFTER, keeping their pages (scheduled by beat). Returns how many
    runs were queued."""
    now = now or timezone.now()
    unfinished = ScanRun.objects.filter(
        state__in=(ScanRun.State.QUEUED, ScanRun.State.PROCESSING)
    ).select_related("facility")
    for run in unfinished.filter(created_at__lt=now - GIVE_UP_AFTER):
        with _run_lock(run.pk) as locked:
            if locked:
                run.refresh_from_db()
                if run.state in (ScanRun.State.QUEUED, ScanRun.State.PROCESSING):
                    stored = list(run.pages.order_by("number"))
                    _finish(
                        run,
                        _context_from_stored(run, stored),
                        error=gettext(
                            "The run could not be read to the end. The pages before that "
                            "point are kept; upload the run again to read the rest: pages "
                            "already received are recognised and not added twice."
                        ),
                    )
    stale = now - STALE_AFTER
    ids = list(unfinished.filter(heartbeat_at__lt=stale).values_list("pk", flat=True)[:100]) + list(
        unfinished.filter(heartbeat_at__isnull=True, created_at__lt=stale).values_list(
            "pk", flat=True
        )[:100]
    )
    process = task_named("messaging.tasks.process_scan_run")
    for run_id in ids:
        process.delay(run_id)
    return len(ids)


# --- What became of a run ---------------------------------------------------------------------


def is_finished(run: ScanRun) -> bool:
    return run.state in (ScanRun.State.DONE, ScanRun.State.FAILED)


def reason_label(reason: str) -> str:
    """Why a page is in triage, in words for the facility. Another facility's
    reference is only ever "not for this facility": nothing more about it."""
    if reason == Reason.OTHER_FACILITY:
        return gettext("Not for this facility")
    return str(Reason(reason).label) if reason in Reason.values else ""


def label_pages(pages: list[ScanPage]) -> None:
    """Give each page what a page about it may show: `reason_label`, and
    `shown_code`, the reference read on it when it is this facility's or
    nobody's (never another facility's)."""
    for page in pages:
        page.reason_label = reason_label(page.triage_reason)  # type: ignore[attr-defined]
        page.shown_code = (  # type: ignore[attr-defined]
            page.mark_code
            if page.triage_reason in (Reason.UNKNOWN, Reason.CLOSED) and page.mark_code
            else ""
        )


@dataclass
class ReplyMade:
    letter: Letter
    page_numbers: list[int]


@dataclass
class RunResult:
    replies: list[ReplyMade]
    triage: list[ScanPage]  # waiting for a person, or sorted by one since
    blank: list[ScanPage]
    duplicate: list[ScanPage]


def run_result(run: ScanRun) -> RunResult:
    """What became of every page of a finished run (one query)."""
    pages = list(run.pages.select_related("letter__correspondence__profile").order_by("number"))
    label_pages(pages)
    replies: dict[int, ReplyMade] = {}
    result = RunResult(replies=[], triage=[], blank=[], duplicate=[])
    for page in pages:
        if page.letter is not None:
            replies.setdefault(page.letter.pk, ReplyMade(page.letter, [])).page_numbers.append(
                page.number
            )
        if page.triage_reason or page.state == State.DISCARDED:
            result.triage.append(page)
        elif page.state == State.BLANK:
            result.blank.append(page)
        elif page.state == State.DUPLICATE:
            result.duplicate.append(page)
    result.replies = list(replies.values())
    return result


# --- Triage ------------------------------------------------------------------------------------


def triage_pages(facility: Facility) -> QuerySet[ScanPage]:
    """`facility`'s pages waiting for a person, oldest first. Only pages of
    runs that have been read to the end: a run still being read may yet
    decide the pages after them."""
    return (
        ScanPage.objects.filter(
            facility=facility,
            state=State.TRIAGE,
            run__state__in=(ScanRun.State.DONE, ScanRun.State.FAILED),
        )
        .select_related("run")
        .order_by("created_at", "run_id", "number")
    )


def _check_triage_access(user: User, page: ScanPage) -> None:
    if not may_upload_runs(user, page.facility):
        raise PermissionDenied("Only the facility's liaison or staff can sort its pages.")


def assign_page(user: User, page: ScanPage, reference: str) -> Letter:
    """Put a page from triage into a reply to the correspondence `reference`
    (as typed: any case, spaces, dashes) names; or TriageRefused saying why
    not. The correspondence must be one of the page's facility that takes
    replies. The page joins that correspondence's newest reply from the same
    run while it is not yet approved, else it starts a new reply.
    Assigning a page again to the same reference is harmless."""
    _check_triage_access(user, page)
    code = normalise_code(reference or "")
    if not code:
        raise TriageRefused(
            gettext(
                "This is not a reply reference: it looks like PP-7K3M-9QX2 "
                "(eight letters and digits)."
            )
        )
    found = (
        Correspondence.objects.select_related("profile__facility", "pen_pal")
        .filter(code=code, profile__facility=page.facility_id)
        .first()
    )
    # The same words for an unknown reference and another facility's: nothing
    # is learnt about correspondences elsewhere.
    if found is None:
        raise TriageRefused(
            gettext("No correspondence of this facility has the reference %(code)s.")
            % {"code": code}
        )
    with transaction.atomic():
        Facility.objects.select_for_update().get(pk=page.facility_id)
        page = ScanPage.objects.select_related("run", "facility").get(pk=page.pk)
        if page.state == State.REPLY and page.letter is not None:
            if page.letter.correspondence_id == found.pk:
                return page.letter
            raise TriageRefused(gettext("This page has already been put in another reply."))
        if page.state != State.TRIAGE:
            raise TriageRefused(gettext("This page is no longer waiting to be sorted."))
        if page.run.state not in (ScanRun.State.DONE, ScanRun.State.FAILED):
            raise TriageRefused(gettext("This run is still being read; try again when it is done."))
        correspondence = (
            Correspondence.objects.select_for_update(of=("self",))
            .select_related("profile__facility", "pen_pal")
            .get(pk=found.pk)
        )
        if refusal := upload_refusal(correspondence):
            raise TriageRefused(refusal)
        letter = _reply_to_join(page.run, correspondence)
        if letter is None:
            letter = Letter.objects.create(
                correspondence=correspondence,
                direction=Letter.Direction.INBOUND,
                created_by=user,
                idempotency_key=uuid.uuid5(_REPLY_KEYS, f"page:{page.pk}"),
            )
            _add_scans(letter, [page], first_number=1)
        else:
            last = letter.scans.order_by("-page").values_list("page", flat=True).first() or 0
            _add_scans(letter, [page], first_number=last + 1)
        page.state = State.REPLY
        page.letter = letter
        page.resolved_by = user
        page.resolved_at = timezone.now()
        page.save(update_fields=["state", "letter", "resolved_by", "resolved_at"])
        record_action(
            user,
            page.facility,
            LiaisonAction.Kind.SCAN_PAGE_ASSIGNED,
            profile=correspondence.profile,
            run=page.run_id,
            page=page.number,
            letter=letter.pk,
            code=correspondence.code,
        )
        ScanRun.objects.filter(pk=page.run_id).update(
            replies_made=Letter.objects.filter(
                pk__in=ScanPage.objects.filter(run=page.run_id, letter__isnull=False).values(
                    "letter"
                )
            ).count()
        )
        _enqueue_reading(letter)
    return letter


def _reply_to_join(run: ScanRun, correspondence: Correspondence) -> Letter | None:
    """The newest reply to `correspondence` made from `run`, if it is not yet
    approved (a page added later joins the reply a moderator still has)."""
    letter = (
        Letter.objects.select_for_update(of=("self",))
        .filter(
            pk__in=ScanPage.objects.filter(run=run, letter__correspondence=correspondence).values(
                "letter"
            )
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if letter is None or letter.status not in (Letter.Status.SUBMITTED, Letter.Status.IN_REVIEW):
        return None
    return letter


def discard_page(user: User, page: ScanPage) -> bool:
    """Take a page out of triage for good. Returns False when it already was
    discarded; TriageRefused when it has been put in a reply."""
    _check_triage_access(user, page)
    with transaction.atomic():
        Facility.objects.select_for_update().get(pk=page.facility_id)
        page = ScanPage.objects.select_related("facility").get(pk=page.pk)
        if page.state == State.DISCARDED:
            return False
        if page.state != State.TRIAGE:
            raise TriageRefused(gettext("This page is no longer waiting to be sorted."))
        page.state = State.DISCARDED
        page.resolved_by = user
        page.resolved_at = timezone.now()
        page.save(update_fields=["state", "resolved_by", "resolved_at"])
        record_action(
            user,
            page.facility,
            LiaisonAction.Kind.SCAN_PAGE_DISCARDED,
            run=page.run_id,
            page=page.number,
            reason=page.triage_reason,
        )
    return True
