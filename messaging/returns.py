"""Returned mail: an outbound letter the facility would not hand over.

A facility sends a printed letter back (the person moved or was released,
refused it, it broke a mail rule, the name or number did not match). Its
liaison, or staff for a letter that came back by post, records the return
against the letter with a reason from `Letter.ReturnReason` and a note the
pen pal reads. `check_record_return` enforces who may and which letters;
`do_record_return` makes the change: the letter is RETURNED, the action is
kept in the facility's audit trail, and the pen pal gets one email.

A return is information, never a decision about the correspondence: a
letter returned because the person "moved" or was "released" does not
close anything. Closing is the liaison's act on the profile (marking it
released or transferred, profiles' lifecycle page), which closes every
correspondence of that person through messaging.services.close_correspondences.
The pen pal stays free to write again (writing_refusal knows nothing of
returns) once they have fixed what the reason says.

The liaison finds the letter from its print batch, or from the returned
paper: the reply reference printed in every page's footer (typed), or the
reply sheet's QR code (scanned, read with messaging.scanpages). The scan is
read and forgotten: nothing of it is stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from messaging import printing, scanpages
from messaging.models import Correspondence, Letter, Notification, PrintBatch
from messaging.services import notify
from penpals.models import User
from penpals.tasks import enqueue_on_commit
from profiles.access import get_facility_for_liaison, is_staff_with, liaison_facilities
from profiles.models import LiaisonAction
from profiles.services import record_action

Status = Letter.Status
Reason = Letter.ReturnReason

# Only paper the facility received can come back. An approved letter that is
# not printed yet never reached the mailroom: there is nothing to return, and
# recording one would take it out of the print queue without anyone having
# looked at it. If the person has moved or been released meanwhile, the
# liaison marks the profile, which closes the correspondence and keeps the
# letter from being printed; if it breaks a rule, it is printed and returned
# like any other, so the pen pal hears it the same way.
RETURNABLE_STATUSES = (Status.PRINTED, Status.DELIVERED)
# The statuses a liaison may look a letter up in: the ones the facility has had on paper.
PRINTED_STATUSES = (*RETURNABLE_STATUSES, Status.RETURNED)
NOTE_MAX_LENGTH = 1000
# Staff who handle the paper post that reaches the service (moderators hold
# it for "Upload a reply that came by post"): a return can arrive the same way.
RECORD_RETURN_PERMISSION = "messaging.add_letter"
# Pages of a returned letter's scan read for its code: the longest letter
# prints on five pages, then its reply sheet. A longer file is not one letter,
# and reading on would keep the request busy for nothing.
SCAN_MAX_PAGES = 10

# What the pen pal can do about each reason: the thread and the email say it.
ADVICE = {
    Reason.MOVED: _(
        "Letters sent here can no longer reach them. If their new facility works with "
        "Penpals, they may be listed again, and you can write to them from their new profile."
    ),
    Reason.RELEASED: _(
        "Letters sent through their facility can no longer reach them. For everyone’s "
        "safety, Penpals never passes on addresses or other contact details."
    ),
    Reason.REFUSED: _(
        "They did not accept this letter. You can write again, but please respect their "
        "choice: wait for a reply before you send another."
    ),
    Reason.MAIL_RULES: _(
        "Read the facility’s mail rules on the page where you write, then write again "
        "keeping to them."
    ),
    Reason.ADDRESS: _(
        "This is not something you did wrong. You can write again; if letters keep "
        "coming back, please contact us."
    ),
    Reason.OTHER: _("Read the facility’s note, then write again if it allows."),
}


class ReturnRefused(ValidationError):
    """Why a return cannot be recorded; the message is shown to the person recording it."""


def return_advice(reason: str) -> str:
    """What the pen pal can do about a return for `reason`, in the active language."""
    advice = ADVICE.get(reason)  # type: ignore[call-overload]
    return str(advice) if advice is not None else ""


# --- Who may --------------------------------------------------------------------------


def may_record_return(user: User, letter: Letter) -> bool:
    """A liaison of the letter's (active) facility, or staff who handle the post."""
    if not user.is_authenticated or not user.is_active:
        return False
    if is_staff_with(user, RECORD_RETURN_PERMISSION):
        return True
    facility_id = letter.correspondence.profile.facility_id
    return liaison_facilities(user).filter(pk=facility_id).exists()


def get_printed_letter_for_liaison(user: User, facility_slug: str, letter_id: int) -> Letter:
    """An outbound letter of the liaison's facility that the facility has had
    on paper (printed, delivered or returned), or 404: a letter still in
    review is not the facility's to see, and another facility's letter does
    not exist as far as this liaison can tell."""
    facility = get_facility_for_liaison(user, facility_slug)
    return get_object_or_404(
        Letter.objects.outbound()
        .filter(correspondence__profile__facility=facility, status__in=PRINTED_STATUSES)
        .select_related("correspondence__profile__facility", "correspondence__pen_pal"),
        pk=letter_id,
    )


def get_correspondence_for_returns(
    user: User, facility_slug: str, correspondence_id: int
) -> Correspondence:
    """A correspondence of the liaison's facility (open or not: a letter of a
    closed one can still come back), or 404."""
    facility = get_facility_for_liaison(user, facility_slug)
    return get_object_or_404(
        Correspondence.objects.filter(profile__facility=facility).select_related(
            "profile__facility", "pen_pal"
        ),
        pk=correspondence_id,
    )


def find_correspondence_for_liaison(user: User, code: str) -> Correspondence | None:
    """The correspondence with reply reference `code` (normalised) among the
    liaison's facilities, or None: a code of another facility and a code that
    does not exist are the same "not found"."""
    if not code:
        return None
    return (
        Correspondence.objects.filter(code=code, profile__facility__in=liaison_facilities(user))
        .select_related("profile__facility")
        .first()
    )


def returnable_letters(correspondence: Correspondence):
    """The letters of `correspondence` that may be recorded as returned
    (printed or delivered, not returned yet), newest print first."""
    return (
        correspondence.letters.outbound()
        .filter(status__in=RETURNABLE_STATUSES)
        .order_by("-printed_at", "-pk")
    )


def returned_letters(correspondence: Correspondence):
    """The letters of `correspondence` already recorded as returned, newest first."""
    return (
        correspondence.letters.outbound()
        .filter(status=Status.RETURNED)
        .order_by("-returned_at", "-pk")
    )


# --- Recording a return ------------------------------------------------------------------


def return_refusal(letter: Letter) -> str:
    """Why `letter` cannot be returned ("" when it can, or already is)."""
    if not letter.is_outbound:
        return gettext("Only a letter sent to the person in prison can be returned.")
    if letter.status == Status.RETURNED or letter.status in RETURNABLE_STATUSES:
        return ""
    if letter.status == Status.APPROVED:
        return gettext(
            "This letter has not been printed yet, so the facility cannot have returned it. "
            "If the person has moved or been released, mark their profile instead."
        )
    return gettext("Only a printed or delivered letter can be returned.")


def clean_return(reason: str, note: str) -> tuple[str, str]:
    """The reason and note as stored, or ReturnRefused saying what is wrong."""
    if reason not in Reason.values:
        raise ReturnRefused(gettext("Choose why the letter came back."))
    note = (note or "").replace("\x00", "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ReturnRefused(
            gettext("The note can be at most %(limit)s characters long.")
            % {"limit": NOTE_MAX_LENGTH}
        )
    if reason == Reason.OTHER and not note:
        raise ReturnRefused(
            gettext("Say in the note why the letter came back: the pen pal needs to know.")
        )
    return reason, note


def check_record_return(user: User, letter: Letter, reason: str, note: str) -> bool:
    """Record that the facility returned `letter`, or raise ReturnRefused
    (a rule) or PermissionDenied (not this person's to record).

    Returns True when this call recorded it, False when it was already
    recorded: recording twice changes nothing (the first reason and note
    stand) and emails nobody twice. `letter` is updated in place.
    """
    if not may_record_return(user, letter):
        raise PermissionDenied("Only the facility's liaison or staff can record a returned letter.")
    if refusal := return_refusal(letter):
        raise ReturnRefused(refusal)
    reason, note = clean_return(reason, note)
    return do_record_return(user, letter, reason, note)


def do_record_return(user: User, letter: Letter, reason: str, note: str) -> bool:
    """Make the change `check_record_return` allowed. The letter is locked
    and checked again: a second request (a double click, two liaisons)
    finds it returned and does nothing."""
    with transaction.atomic():
        locked = (
            Letter.objects.select_for_update(of=("self",))
            .select_related("correspondence__profile__facility", "correspondence__pen_pal")
            .get(pk=letter.pk)
        )
        if locked.status not in RETURNABLE_STATUSES:
            _copy_return(locked, letter)
            if locked.status == Status.RETURNED:
                return False
            raise ReturnRefused(return_refusal(locked))
        locked.status = Status.RETURNED
        locked.returned_at = timezone.now()
        locked.return_reason = reason
        locked.return_note = note
        locked.returned_by = user
        locked.save(
            update_fields=["status", "returned_at", "return_reason", "return_note", "returned_by"]
        )
        correspondence = locked.correspondence
        record_action(
            user,
            correspondence.profile.facility,
            LiaisonAction.Kind.LETTER_RETURNED,
            profile=correspondence.profile,
            letter=locked.pk,
            code=correspondence.code,
            reason=reason,
        )
        # Keyed by the event ("letter_returned:<id>"): one email, however often recorded.
        notify(correspondence.pen_pal, Notification.Kind.LETTER_RETURNED, locked)
        # The letter's rendered pages are not needed any more (the sweep
        # catches them if this task is lost).
        enqueue_on_commit("messaging.tasks.discard_letter_pdfs", [locked.pk])
        settled = _settle_batch(locked.print_batch_id, user)
    if settled is not None:
        # Like a batch marked delivered: its PDF (legal names) is not kept.
        transaction.on_commit(lambda: printing.discard_stored_pdf(settled))
    _copy_return(locked, letter)
    return True


def _settle_batch(batch_id: int | None, user: User) -> PrintBatch | None:
    """Mark the print batch done once none of its letters waits to be handed
    out (the last printed one came back), as do_mark_delivered does: it then
    no longer counts as waiting on the liaison's dashboard. Returns the
    batch if this settled it."""
    if (
        batch_id is None
        or Letter.objects.filter(print_batch_id=batch_id, status=Status.PRINTED).exists()
    ):
        return None
    settled = PrintBatch.objects.filter(pk=batch_id, delivered_at__isnull=True).update(
        delivered_at=timezone.now(), delivered_by=user
    )
    return PrintBatch.objects.get(pk=batch_id) if settled else None


def _copy_return(source: Letter, target: Letter) -> None:
    for field in ("status", "returned_at", "return_reason", "return_note", "returned_by_id"):
        setattr(target, field, getattr(source, field))


# --- Finding the letter from the returned paper -----------------------------------------


class ScanUnreadable(ValidationError):
    """No reply code could be read on the uploaded file; the message says what to do."""


def find_returned_correspondence(
    user: User, *, code: str, scan: UploadedFile | None, content_type: str
) -> Correspondence | None:
    """The correspondence of the returned paper among the liaison's
    facilities: by the typed reference `code` (normalised) if given, else by
    the QR code on `scan` (already checked, of `content_type`). None when no
    such correspondence is theirs; ScanUnreadable when the scan has no code."""
    if not code and scan is not None:
        code = read_reply_code(scan, content_type)
    return find_correspondence_for_liaison(user, code)


def read_reply_code(uploaded: UploadedFile, content_type: str) -> str:
    """The reply reference in the QR code of the first page of `uploaded` (a
    checked JPEG, PNG or PDF: penpals.scans.check_scan) that carries one, or
    ScanUnreadable. Only the reply sheet has the code; a page without it is
    passed over. The file is read from a private temporary copy, deleted at once."""
    with tempfile.TemporaryDirectory(prefix="penpals-return-") as folder:
        path = Path(folder) / "returned"
        with open(path, "wb") as copy:
            uploaded.seek(0)
            for chunk in uploaded.chunks():
                copy.write(chunk)
        uploaded.seek(0)
        try:
            code = _first_code(scanpages.iter_source_pages(path, content_type))
        except scanpages.SourceRefused as refused:
            raise ScanUnreadable(refused.messages) from None
    if not code:
        raise ScanUnreadable(
            gettext(
                "No reply code could be read on this file. Scan the reply sheet (the page "
                "with the square code), or type the reply reference printed at the foot "
                "of the letter's pages."
            )
        )
    return code


def _first_code(pages: Iterable[scanpages.SourcePage]) -> str:
    for number, page in enumerate(pages, start=1):
        if number > SCAN_MAX_PAGES:
            break
        mark = scanpages.read_page(page.image).mark
        if mark is not None:
            return mark.code
    return ""
