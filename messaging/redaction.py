"""Blacking out regions of a reply's scanned page before it is approved.

A moderator marks regions of a page (a phone number, another person's name);
`redact` keeps their boxes on the LetterScan, as [x, y, w, h] fractions of
the page image, and burns them into `redacted_image`: the page image with
solid black boxes in its pixels, encoded afresh (PNG, or JPEG for a JPEG page
image) with no metadata. That copy is all the pen pal ever gets of a redacted page; the
page image itself stays in private storage, for staff, until the retention
schedule deletes it with the rest of the scan (messaging.retention).

`redacted_image` is set exactly when `redactions` is not empty. Redacting,
and undoing it (`clear_redactions`), is refused once the reply is decided:
after approval the pen pal may already have seen the page.

Who did it is kept in the letter's admin history (LogEntry): the moderator,
the time, the page and the boxes.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageDraw, UnidentifiedImageError

from messaging.models import Letter, LetterScan
from profiles.access import is_staff_with

logger = logging.getLogger(__name__)

# More regions than this on one page is a page to reject, or to redact in
# fewer, larger boxes; the limit also bounds the work of one request.
MAX_REDACTIONS_PER_PAGE = 20
# Replies whose pages may still change: before a moderator's decision.
REDACTABLE_STATUSES = (Letter.Status.SUBMITTED, Letter.Status.IN_REVIEW)
PAGE_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
# The quality a photographed page's redacted copy is saved at.
REDACTED_JPEG_QUALITY = 90
# A box drawn to the page's edge may come out a hair past it in floating point.
EDGE_TOLERANCE = 1e-6

Box = tuple[float, float, float, float]


class RedactionRefused(ValidationError):
    """Why a page cannot be redacted (or un-redacted) now; shown to the moderator."""


# --- Who may -------------------------------------------------------------------------------


def may_moderate_scans(user) -> bool:
    """Staff who decide letters (moderators, admins) and may see scans."""
    return is_staff_with(user, "moderation.change_moderationitem") and is_staff_with(
        user, "messaging.view_letterscan"
    )


def get_scan_for_moderator(user, pk: int) -> LetterScan:
    """A page of a reply `user` may redact, or 404 (also for staff who may
    not), so nobody learns which scans exist."""
    if not may_moderate_scans(user):
        raise Http404("No such scan.")
    return get_object_or_404(
        LetterScan.objects.select_related("letter").filter(
            letter__direction=Letter.Direction.INBOUND
        ),
        pk=pk,
    )


# --- The boxes -----------------------------------------------------------------------------


def checked_boxes(boxes: Iterable[Sequence[float]]) -> list[Box]:
    """`boxes` as [x, y, w, h] fractions of the page, or RedactionRefused
    naming each box that is not a region of the page."""
    checked: list[Box] = []
    errors: list[str] = []
    for number, box in enumerate(boxes, start=1):
        try:
            x, y, w, h = (float(value) for value in box)
        except (TypeError, ValueError):
            errors.append(gettext("Region %(number)s is not four numbers.") % {"number": number})
            continue
        if not all(math.isfinite(value) for value in (x, y, w, h)):
            errors.append(gettext("Region %(number)s is not four numbers.") % {"number": number})
        elif w <= 0 or h <= 0:
            errors.append(
                gettext("Region %(number)s has no size: give it a width and a height above 0.")
                % {"number": number}
            )
        elif x < 0 or y < 0 or x + w > 1 + EDGE_TOLERANCE or y + h > 1 + EDGE_TOLERANCE:
            errors.append(
                gettext(
                    "Region %(number)s goes off the page: it must start at 0 to 100%% "
                    "and end by the page's right and bottom edges (100%%)."
                )
                % {"number": number}
            )
        else:
            checked.append((x, y, min(w, 1 - x), min(h, 1 - y)))
    if errors:
        raise RedactionRefused(errors)
    if not checked:
        raise RedactionRefused(gettext("Mark a region of the page to black out."))
    return checked


def pixel_rectangle(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels (left, top, right, bottom; right and bottom excluded) a box
    covers, rounded outwards: a region is never blacked out short of its edge."""
    x, y, w, h = box
    left = max(0, math.floor(x * width))
    top = max(0, math.floor(y * height))
    right = min(width, max(left + 1, math.ceil((x + w) * width)))
    bottom = min(height, max(top + 1, math.ceil((y + h) * height)))
    return left, top, right, bottom


def render_redacted(page_image: Image.Image, boxes: Iterable[Box]) -> tuple[bytes, str]:
    """The page with each box solid black, encoded afresh so it holds only the
    pixels (no EXIF, ICC profile, text chunks or any other metadata of the
    original); returns the bytes and their extension.

    A JPEG page image (a photographed page) gives a JPEG, so the pen pal's
    copy is not ten times its size; anything else a lossless PNG. The boxes
    are drawn before encoding, so nothing of what they cover is in the file.
    """
    mode = "L" if page_image.mode in ("1", "L", "LA") else "RGB"
    # A fresh image: nothing of the original's info (metadata) comes along.
    clean = Image.new(mode, page_image.size, "white")
    if page_image.mode in ("LA", "RGBA", "PA") or "transparency" in page_image.info:
        rgba = page_image.convert("RGBA")
        clean.paste(rgba.convert(mode), mask=rgba.getchannel("A"))
    else:
        clean.paste(page_image.convert(mode))
    draw = ImageDraw.Draw(clean)
    for box in boxes:
        left, top, right, bottom = pixel_rectangle(box, *clean.size)
        # ImageDraw's rectangle includes its far corner.
        draw.rectangle((left, top, right - 1, bottom - 1), fill="black")
    buffer = io.BytesIO()
    if page_image.format == "JPEG":
        clean.save(buffer, "JPEG", quality=REDACTED_JPEG_QUALITY)
        return buffer.getvalue(), ".jpg"
    clean.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue(), ".png"


def open_page_image(scan: LetterScan) -> Image.Image:
    """The scan's page image, decoded at full size (boxes are its pixels)."""
    if not scan.page_image:
        raise RedactionRefused(
            gettext(
                "Page %(page)s has not been read yet, so there is no page image to black "
                "out. Try again in a minute."
            )
            % {"page": scan.page}
        )
    try:
        with scan.page_image.storage.open(scan.page_image.name, "rb") as stored:
            content = stored.read()
        image = Image.open(io.BytesIO(content), formats=PAGE_IMAGE_FORMATS)
        if image.width * image.height > settings.PHOTO_MAX_PIXELS:
            raise RedactionRefused(gettext("This page image is too large to redact here."))
        image.load()
    except RedactionRefused:
        raise
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        logger.exception("could not read a page image to redact", extra={"scan": scan.pk})
        raise RedactionRefused(
            gettext("The page image of page %(page)s could not be read; nothing was changed.")
            % {"page": scan.page}
        ) from None
    return image


# --- Redacting and undoing -----------------------------------------------------------------


def _locked(scan: LetterScan) -> tuple[LetterScan, Letter]:
    """The scan and its letter, locked (the letter first, as approve_letter
    locks it): an approval waits for a redaction in progress, and a redaction
    that waited for an approval sees it and is refused."""
    letter = Letter.objects.select_for_update(of=("self",)).get(pk=scan.letter_id)
    scan = LetterScan.objects.select_for_update(of=("self",)).get(pk=scan.pk)
    if letter.status not in REDACTABLE_STATUSES:
        if letter.status in (Letter.Status.APPROVED, Letter.Status.READ):
            raise RedactionRefused(
                gettext(
                    "This reply is already approved: the pen pal may have seen its pages, "
                    "so they can no longer be redacted or un-redacted."
                )
            )
        raise RedactionRefused(
            gettext("This reply was already decided; its pages can no longer be redacted.")
        )
    return scan, letter


def _record(moderator, letter: Letter, scan: LetterScan, boxes: list) -> None:
    # The letter's admin history says who changed which page, when, and how.
    LogEntry.objects.log_actions(
        user_id=moderator.pk,
        queryset=[letter],
        action_flag=CHANGE,
        change_message=json.dumps(
            [
                {"changed": {"fields": ["Redactions"]}},
                {"redactions": {"page": scan.page, "boxes": boxes}},
            ]
        ),
        single_object=True,
    )


def _delete_after_commit(name: str, storage) -> None:
    def delete() -> None:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete a replaced redacted image: %s", name)

    transaction.on_commit(delete)


def redact(scan: LetterScan, boxes: Iterable[Sequence[float]], moderator) -> LetterScan:
    """Black out `boxes` ([x, y, w, h] fractions of the page image) on `scan`,
    on top of the regions already blacked out, and record `moderator` as the
    one who did. Returns the scan, refreshed.

    Raises RedactionRefused (with the reason for the moderator) when a box is
    not a region of the page, when the page would have more than
    MAX_REDACTIONS_PER_PAGE regions, when the page has no page image yet, or
    when the reply is decided. The same box twice is kept once, so a second
    submit changes nothing. The caller checked that `moderator` may
    (get_scan_for_moderator).
    """
    new_boxes = checked_boxes(boxes)
    storage = LetterScan._meta.get_field("redacted_image").storage
    written = ""
    try:
        with transaction.atomic():
            scan, letter = _locked(scan)
            existing = [tuple(box) for box in scan.redactions or []]
            combined = list(existing)
            for box in new_boxes:
                if box not in combined:
                    combined.append(box)
            if len(combined) > MAX_REDACTIONS_PER_PAGE:
                raise RedactionRefused(
                    ngettext(
                        "A page can have at most %(limit)s blacked-out region; undo it and "
                        "mark a larger one.",
                        "A page can have at most %(limit)s blacked-out regions; undo them and "
                        "mark fewer, larger ones.",
                        MAX_REDACTIONS_PER_PAGE,
                    )
                    % {"limit": MAX_REDACTIONS_PER_PAGE}
                )
            if combined == existing and scan.redacted_image:
                return scan
            image = open_page_image(scan)
            rendered, extension = render_redacted(image, combined)
            previous = scan.redacted_image.name if scan.redacted_image else ""
            scan.redacted_image.save(f"redacted{extension}", ContentFile(rendered), save=False)
            written = scan.redacted_image.name
            scan.redactions = [list(box) for box in combined]
            scan.save(update_fields=["redactions", "redacted_image"])
            _record(moderator, letter, scan, scan.redactions)
            if previous:
                _delete_after_commit(previous, storage)
    except BaseException:
        # The row rolls back with the transaction; the file just written does not.
        if written:
            try:
                storage.delete(written)
            except Exception:
                logger.exception("could not remove the image of a failed redaction: %s", written)
        raise
    return scan


def clear_redactions(scan: LetterScan, moderator) -> LetterScan:
    """Undo every redaction of `scan` (before the reply is decided only): the
    boxes are cleared and the redacted copy deleted, so the page is shown as
    scanned again. Raises RedactionRefused once the reply is decided."""
    storage = LetterScan._meta.get_field("redacted_image").storage
    with transaction.atomic():
        scan, letter = _locked(scan)
        if not scan.redactions and not scan.redacted_image:
            return scan
        previous = scan.redacted_image.name if scan.redacted_image else ""
        scan.redactions = []
        scan.redacted_image = ""
        scan.save(update_fields=["redactions", "redacted_image"])
        _record(moderator, letter, scan, [])
        if previous:
            _delete_after_commit(previous, storage)
    return scan


# --- The form (no JavaScript needed) -------------------------------------------------------


class RedactionForm(forms.Form):
    """One region, in percent of the page: what a moderator types, or what
    static/js/redact.js fills in from a rectangle dragged on the page."""

    x = forms.DecimalField(
        label=_("From the left edge (%)"), min_value=0, max_value=100, decimal_places=2
    )
    y = forms.DecimalField(
        label=_("From the top edge (%)"), min_value=0, max_value=100, decimal_places=2
    )
    width = forms.DecimalField(
        label=_("Width (%)"), min_value=Decimal("0.01"), max_value=100, decimal_places=2
    )
    height = forms.DecimalField(
        label=_("Height (%)"), min_value=Decimal("0.01"), max_value=100, decimal_places=2
    )

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.box = checked_boxes([self.fractions(cleaned)])[0]
            except RedactionRefused as refusal:
                raise forms.ValidationError(refusal.messages) from None
        return cleaned

    @staticmethod
    def fractions(cleaned: dict) -> list[float]:
        return [float(cleaned[name] / 100) for name in ("x", "y", "width", "height")]
