"""Who may reach which correspondence, letter and scan. Every lookup answers
404 for anything the person may not see, so nobody learns what exists."""

from __future__ import annotations

from pathlib import PurePosixPath

from allauth.mfa.utils import is_mfa_enabled
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.shortcuts import get_object_or_404

from messaging import selectors
from messaging.models import Correspondence, Letter, LetterScan, PrintBatch
from penpals.models import User
from profiles.access import get_facility_for_liaison, is_staff_with, liaison_facilities
from profiles.models import InmateProfile

Direction = Letter.Direction
Status = Letter.Status


def get_profile_to_write_to(slug: str) -> InmateProfile:
    """A listed profile, or a paused one (so the page can say it is paused);
    anything else (draft, released, archived) is 404 as on the public site."""
    return get_object_or_404(InmateProfile.objects.select_related("facility").listed(), slug=slug)


def get_correspondence_for_pen_pal(user, pk: int) -> Correspondence:
    """`user`'s own correspondence, or 404 (also for staff and liaisons)."""
    return get_object_or_404(
        Correspondence.objects.select_related("profile__facility").filter(pen_pal=user), pk=pk
    )


def get_reportable_letter(user, pk: int) -> Letter:
    """A reply `user` can see in their own thread (the only letters they may report)."""
    return get_object_or_404(
        Letter.objects.inbound()
        .visible_to_pen_pal()
        .select_related("correspondence")
        .filter(correspondence__pen_pal=user),
        pk=pk,
    )


def get_scan_for_user(user, pk: int) -> LetterScan:
    """A scanned page `user` may look at: the pen pal it was sent to, once the
    reply is approved; a liaison of the letter's facility; or staff who may
    view scans (moderators, admins). 404 for everyone else, so nobody learns
    which scans exist.

    Staff and liaisons must have MFA, as in the admin and the portal (this URL
    is outside both, so RequireMFAMiddleware does not cover it).
    """
    if user.requires_mfa() and not is_mfa_enabled(user):
        raise PermissionDenied("Set up two-factor authentication to see scanned letters.")
    scans = LetterScan.objects.select_related("letter__correspondence__profile__facility")
    if not is_staff_with(user, "messaging.view_letterscan"):
        scans = scans.filter(
            Q(
                letter__correspondence__pen_pal=user,
                letter__direction=Direction.INBOUND,
                letter__status__in=(Status.APPROVED, Status.READ),
            )
            | Q(letter__correspondence__profile__facility__in=liaison_facilities(user))
        )
    return get_object_or_404(scans, pk=pk)


# A redacted page's copy is an image of ours, typed by its name's extension.
REDACTED_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def scan_file_for_user(user, scan: LetterScan) -> tuple[FieldFile, str] | None:
    """What `user`, who reached `scan` through get_scan_for_user, is served of
    it, and its content type; None when there is nothing to serve.

    The pen pal of a page a moderator redacted gets its redacted copy and
    nothing else: never the scan as received, whatever they ask for (and
    nothing at all until the copy exists). Liaisons and staff get the scan
    as received. A scan deleted on schedule serves nothing to anyone.
    """
    if not scan.file:
        return None  # deleted on schedule (messaging.retention), copies and all
    is_pen_pal = scan.letter.correspondence.pen_pal_id == user.pk
    if is_pen_pal and (scan.redactions or scan.redacted_image):
        if not scan.redacted_image:
            return None
        extension = PurePosixPath(scan.redacted_image.name).suffix.lower()
        return scan.redacted_image, REDACTED_IMAGE_TYPES.get(extension, "application/octet-stream")
    return scan.file, scan.content_type


def get_batch_for_liaison(user: User, facility_slug: str, batch_id: int) -> PrintBatch:
    """A print batch of one of the liaison's facilities, or 404."""
    facility = get_facility_for_liaison(user, facility_slug)
    return get_object_or_404(selectors.print_batches(facility), pk=batch_id)
