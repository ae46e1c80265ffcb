"""Replies from people in prison: the scanned pages come in through the
facility's liaison (portal) or, for replies posted to the service, staff
(admin). Both go through `check_upload_reply`.

A reply is an inbound Letter with one LetterScan per uploaded file, stored
privately. Its scans are read by OCR and it is screened (the transcription,
if any, and the OCR text: messaging.reading) and reviewed by a moderator
like an outbound letter: messaging.services.screen_letter makes its
moderation item, and the pen pal sees it only once approved.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from messaging.limits import too_many_scans, transcription_too_long
from messaging.models import Correspondence, Letter, LetterScan
from messaging.reading import enqueue_reading
from penpals.models import User
from penpals.scans import ScanKind, check_scan
from profiles.models import FacilityLiaison, LiaisonAction
from profiles.services import record_action

logger = logging.getLogger(__name__)


class ReplyRefused(ValidationError):
    """Why a reply cannot be uploaded; the message is shown to the uploader."""


def upload_refusal(correspondence: Correspondence) -> str:
    """Why no reply can be passed on in `correspondence` now ("" when it can)."""
    if correspondence.is_closed:
        reason = correspondence.get_close_reason_display().lower() or gettext("closed")
        return gettext(
            "Correspondence %(code)s is closed (%(reason)s); "
            "replies in it can no longer be passed on."
        ) % {"code": correspondence.code, "reason": reason}
    if correspondence.blocked_by_pen_pal_at:
        return gettext(
            "The pen pal has blocked correspondence %(code)s; replies in it are not passed on."
        ) % {"code": correspondence.code}
    if correspondence.blocked_by_inmate_at:
        return gettext(
            "Correspondence %(code)s was blocked on the writer's behalf. "
            "Ask the Penpals team to lift the block before uploading a reply."
        ) % {"code": correspondence.code}
    if correspondence.pen_pal.is_deleted:
        return gettext("The pen pal of correspondence %(code)s has closed their account.") % {
            "code": correspondence.code
        }
    return ""


def check_upload_reply(
    uploader: User, correspondence: Correspondence, files, transcription: str, idempotency_key
) -> Letter:
    """Store a reply's scanned pages and optional transcription as an inbound
    letter, and queue its reading and screening; or raise ReplyRefused saying
    why not. A transcription typed here counts as confirmed by `uploader`.

    `uploader` is a liaison of the correspondence's facility (the portal
    resolves the correspondence through the liaison's facilities) or staff.
    A second call with the same idempotency key returns the first letter and
    stores nothing. Nothing is half-stored: if any file cannot be stored, the
    ones already stored are deleted and no row is written. Call it outside a
    transaction (as views do): files are only known to be kept once it commits.
    """
    existing = Letter.objects.filter(created_by=uploader, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    facility_id = correspondence.profile.facility_id
    if not (
        uploader.is_staff
        or FacilityLiaison.objects.filter(user=uploader, facility_id=facility_id).exists()
    ):
        raise PermissionDenied("Only the facility's liaison or staff can upload its replies.")
    if refusal := upload_refusal(correspondence):
        raise ReplyRefused(refusal)
    files = list(files)
    if not files:
        raise ReplyRefused(gettext("Choose the scanned pages of the reply (JPEG, PNG or PDF)."))
    if too_many := too_many_scans(len(files)):
        raise ReplyRefused(too_many)
    transcription = (transcription or "").replace("\x00", "").strip()
    if too_long := transcription_too_long(transcription):
        raise ReplyRefused(too_long)
    # Every file is checked before anything is stored: one bad page refuses the reply.
    errors, kinds = [], []
    for uploaded in files:
        try:
            kinds.append(check_scan(uploaded))
        except ValidationError as error:
            errors.extend(error.messages)
    if errors:
        raise ReplyRefused(errors)
    return do_upload_reply(
        uploader,
        correspondence,
        list(zip(files, kinds, strict=True)),
        transcription,
        idempotency_key,
    )


def do_upload_reply(
    uploader: User,
    correspondence: Correspondence,
    pages: list[tuple[UploadedFile, ScanKind]],
    transcription: str,
    idempotency_key,
) -> Letter:
    stored: list[LetterScan] = []
    try:
        with transaction.atomic():
            # One uploader's replies are stored one at a time, so a resubmit
            # racing the first submit finds its letter instead of a second one.
            User.objects.select_for_update().filter(pk=uploader.pk).first()
            existing = Letter.objects.filter(
                created_by=uploader, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return existing
            # A block or closure that landed since the checks wins.
            correspondence = (
                Correspondence.objects.select_for_update(of=("self",))
                .select_related("profile__facility", "pen_pal")
                .get(pk=correspondence.pk)
            )
            if refusal := upload_refusal(correspondence):
                raise ReplyRefused(refusal)
            letter = Letter.objects.create(
                correspondence=correspondence,
                direction=Letter.Direction.INBOUND,
                body=transcription,
                created_by=uploader,
                idempotency_key=idempotency_key,
                # A person typed it from the pages: the pen pal may read it.
                transcription_confirmed_at=timezone.now() if transcription else None,
                transcription_confirmed_by=uploader if transcription else None,
            )
            for page, (uploaded, kind) in enumerate(pages, start=1):
                scan = LetterScan(
                    letter=letter,
                    page=page,
                    content_type=kind.content_type,
                    size=uploaded.size or 0,
                )
                uploaded.seek(0)
                # The name's extension comes from the content, whatever the file was called.
                scan.file.save(f"page{kind.extension}", uploaded, save=False)
                stored.append(scan)
                scan.save()
            record_action(
                uploader,
                correspondence.profile.facility,
                LiaisonAction.Kind.REPLY_UPLOADED,
                profile=correspondence.profile,
                letter=letter.pk,
                code=correspondence.code,
                pages=len(pages),
            )
            enqueue_reading(letter)
    except BaseException:
        # Rows roll back with the transaction; files do not.
        for scan in stored:
            try:
                scan.file.storage.delete(scan.file.name)
            except Exception:
                logger.exception("could not remove a scan of a failed upload: %s", scan.file.name)
        raise
    return letter
