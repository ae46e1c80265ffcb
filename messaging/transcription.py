"""A reply's transcription: what OCR read on its pages, shown to the moderator
with the screening hits marked on each page image and in the text, and the
moderator's confirmation or correction of it (the `body` the pen pal reads).

OCR of handwriting is weak. What it read helps the moderator find what to
look at; it never replaces reading the page, and every reply still goes to a
person.

A corrected text is screened again before the confirmation commits, by the
same screen_letter the screening task runs: no version of the text reaches
a decision unscreened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from messaging.limits import transcription_too_long
from messaging.models import Letter, LetterScan
from messaging.redaction import RedactionForm, may_moderate_scans
from messaging.services import screen_letter
from moderation.labels import category_label
from moderation.models import ModerationItem
from moderation.screening import Hit, highlight_segments

# A word found this many times in a transcription is marked this many times
# at most: enough to see it, bounded work for any text.
MAX_MARKS_PER_HIT = 50


# --- What the moderator sees -------------------------------------------------------------


@dataclass(frozen=True)
class OverlayBox:
    """A region of a page in percent of its width and height, as strings
    ("12.500") for SVG attributes: never localised ("12,5" is no length)."""

    left: str
    top: str
    width: str
    height: str
    # Where a box's label goes: above it, or below one at the page's top
    # edge; ending at its right edge when the box is in the page's right part,
    # so the label stays on the page at any width.
    label_x: str = ""
    label_y: str = ""
    label_dy: str = "-4"
    label_anchor: str = "start"


@dataclass(frozen=True)
class PageHit:
    """One screening hit OCR found on a page, with the boxes of its words."""

    number: int  # its number on the page: the box's label and the list's
    category: str
    label: str  # the category in words (moderation.labels)
    rule: str
    match: str
    confidence: float | None  # OCR's confidence in the words, 0-100
    boxes: tuple[OverlayBox, ...]


@dataclass(frozen=True)
class ScanPage:
    scan: LetterScan
    # Whether the page image (what OCR read and boxes are measured on) is stored.
    has_page_image: bool
    width: int
    height: int
    mean_confidence: float | None
    hits: tuple[PageHit, ...]
    redactions: tuple[OverlayBox, ...]
    # The no-JS form to black out a region (ids unique per page).
    redaction_form: RedactionForm


@dataclass(frozen=True)
class Mark:
    category: str
    label: str
    rule: str
    confidence: float | None


@dataclass(frozen=True)
class TextPiece:
    """A piece of the machine transcription: plain, or covered by `marks`;
    `ending` are the marks that end with it (where their labels go)."""

    text: str
    marks: tuple[Mark, ...] = ()
    ending: tuple[Mark, ...] = field(default=())


def _percent(value: float, whole: int) -> str:
    return f"{min(100.0, max(0.0, 100 * value / whole)):.3f}"


def overlay_box(box, width: int, height: int) -> OverlayBox | None:
    """An [x, y, w, h] box in pixels of a width × height page, in percent."""
    try:
        x, y, w, h = (float(value) for value in box)
    except (TypeError, ValueError):
        return None
    left, top = _percent(x, width), _percent(y, height)
    right, bottom = _percent(x + w, width), _percent(y + h, height)
    is_right = float(right) > 60
    is_top = float(top) < 5
    return OverlayBox(
        left,
        top,
        _percent(w, width),
        _percent(h, height),
        label_x=right if is_right else left,
        label_y=bottom if is_top else top,
        label_dy="14" if is_top else "-4",
        label_anchor="end" if is_right else "start",
    )


def redaction_box(box) -> OverlayBox | None:
    """A stored redaction ([x, y, w, h] fractions of the page) in percent."""
    return overlay_box(box, 1, 1)


def _confidence(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_on(hit: dict, scan: LetterScan) -> bool:
    # A hit names its scan; one without (written by hand, say) its page number.
    if hit.get("scan") is not None:
        return hit["scan"] == scan.pk
    return hit.get("page") == scan.page


def scan_page(
    scan: LetterScan, ocr_hits: list[dict], redaction_form: RedactionForm | None = None
) -> ScanPage:
    """What the item page shows of one page: its hits' boxes and its redactions."""
    width, height = scan.width or 0, scan.height or 0
    has_page_image = bool(scan.page_image) and width > 0 and height > 0
    hits: list[PageHit] = []
    for hit in ocr_hits:
        if not _is_on(hit, scan):
            continue
        boxes = (
            tuple(
                box
                for box in (overlay_box(b, width, height) for b in hit.get("boxes") or [])
                if box is not None
            )
            if has_page_image
            else ()
        )
        hits.append(
            PageHit(
                number=len(hits) + 1,
                category=hit.get("category", ""),
                label=category_label(hit.get("category", "")),
                rule=hit.get("rule", ""),
                match=hit.get("match", ""),
                confidence=_confidence(hit.get("confidence")),
                boxes=boxes,
            )
        )
    redactions = tuple(
        box for box in (redaction_box(b) for b in scan.redactions or []) if box is not None
    )
    return ScanPage(
        scan=scan,
        has_page_image=has_page_image,
        width=width,
        height=height,
        mean_confidence=_confidence((scan.ocr or {}).get("mean_confidence")),
        hits=tuple(hits),
        redactions=redactions,
        redaction_form=redaction_form or RedactionForm(auto_id=f"id_scan{scan.pk}_%s"),
    )


def _spans_of(match: str, text: str):
    """Where `match` appears in `text`, whatever its case and however its
    words are spaced or broken across lines (OCR puts a newline at each line)."""
    words = match.split()
    if not words:
        return
    pattern = re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)
    for count, found in enumerate(pattern.finditer(text)):
        if count >= MAX_MARKS_PER_HIT:
            return
        yield found.start(), found.end()


def marked_transcription(text: str, ocr_hits: list[dict]) -> list[TextPiece]:
    """`text` (the machine transcription) cut into pieces at every place a
    hit's words appear, for the template to mark (and escape) piece by piece."""
    marks: dict[Hit, Mark] = {}
    seen: set[tuple[str, str, str]] = set()
    for hit in ocr_hits:
        category, rule, match = hit.get("category", ""), hit.get("rule", ""), hit.get("match", "")
        key = (category, rule, " ".join(match.split()).casefold())
        if key in seen:
            continue
        seen.add(key)
        mark = Mark(category, category_label(category), rule, _confidence(hit.get("confidence")))
        for start, end in _spans_of(match, text):
            marks[Hit(category, rule, "", start, end, text[start:end])] = mark
    return [
        TextPiece(
            segment.text,
            tuple(marks[hit] for hit in segment.hits),
            tuple(marks[hit] for hit in segment.ending),
        )
        for segment in highlight_segments(text, list(marks))
    ]


def reply_review(letter: Letter, scans: list[LetterScan]) -> dict:
    """What the moderation item page shows of a reply's scans and transcription
    (merged into messaging.review.letter_review): each page with its hits and
    redactions, the machine transcription with the same hits marked, and the
    form to confirm or correct the transcription."""
    if letter.is_outbound:
        return {}
    ocr_hits = [
        hit for hit in (letter.screening or {}).get("ocr_hits", []) if isinstance(hit, dict)
    ]
    return {
        "scan_pages": [scan_page(scan, ocr_hits) for scan in scans],
        "transcription_pieces": marked_transcription(letter.machine_transcription, ocr_hits),
        "transcription_form": TranscriptionForm(
            initial={"text": letter.body or letter.machine_transcription}
        ),
        "is_redactable": letter.status in (Letter.Status.SUBMITTED, Letter.Status.IN_REVIEW),
    }


# --- Confirming or correcting the transcription ------------------------------------------


class TranscriptionRefused(ValidationError):
    """Why the transcription cannot be confirmed now; shown to the moderator."""


class TranscriptionForm(forms.Form):
    text = forms.CharField(
        label=_("Transcription"),
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_(
            "What the pen pal will read below the scan. Check it against the page, "
            "correct what OCR misread, then confirm."
        ),
        error_messages={
            "required": _(
                "The transcription is empty. Type what the pages say (or describe them, "
                "for a drawing) before you confirm."
            )
        },
    )

    def clean_text(self) -> str:
        text = cleaned_text(self.cleaned_data["text"])
        if too_long := transcription_too_long(text):
            raise forms.ValidationError(too_long)
        return text


def cleaned_text(text: str) -> str:
    # NUL cannot be stored in PostgreSQL text; a browser sends CRLF line ends.
    return text.replace("\x00", "").replace("\r\n", "\n").strip()


def get_reply_for_moderator(user, pk: int) -> Letter:
    """A reply (inbound letter) whose transcription `user` may confirm, or 404
    (also for staff who may not), so nobody learns which letters exist."""
    if not may_moderate_scans(user):
        raise Http404("No such reply.")
    return get_object_or_404(Letter.objects.inbound(), pk=pk)


def check_confirm_transcription(letter: Letter, moderator, text: str) -> Letter:
    """Confirm `text` as the transcription of the reply `letter`, by
    `moderator`; or raise TranscriptionRefused saying why not.

    Only while the reply waits in the queue (its item pending): after a
    decision the text the pen pal reads no longer changes here. If the text
    differs from the reply's `body`, the reply is screened again before this
    commits, and its item shows the new hits; the moderator decides on the
    screened text. The caller checked that `moderator` may
    (get_reply_for_moderator).
    """
    text = cleaned_text(text)
    if not text:
        raise TranscriptionRefused(
            gettext(
                "The transcription is empty. Type what the pages say (or describe them, "
                "for a drawing) before you confirm."
            )
        )
    if too_long := transcription_too_long(text):
        raise TranscriptionRefused(too_long)
    return do_confirm_transcription(letter.pk, moderator, text)


def _lock_reply_in_review(letter_id: int) -> tuple[ModerationItem | None, Letter]:
    """The reply's pending item and the reply, locked in that order: the order
    do_decide locks them in (item, then approve_letter's letter), so a
    decision and a change at the same moment wait for each other, never
    deadlock. Call inside a transaction."""
    item = (
        ModerationItem.objects.select_for_update()
        .filter(
            content_type=ContentType.objects.get_for_model(Letter),
            object_id=letter_id,
            kind=ModerationItem.Kind.LETTER_IN,
            status=ModerationItem.Status.PENDING,
        )
        .first()
    )
    letter = Letter.objects.select_for_update(of=("self",)).inbound().get(pk=letter_id)
    return item, letter


@transaction.atomic
def rescreen_reply_in_review(letter_id: int) -> bool:
    """Screen a reply still waiting for a moderator again (a page joined it
    from triage and has now been read). False when it was decided meanwhile."""
    item, letter = _lock_reply_in_review(letter_id)
    if item is None or letter.status != Letter.Status.IN_REVIEW:
        return False
    rescreen(letter)
    return True


@transaction.atomic
def do_confirm_transcription(letter_id: int, moderator, text: str) -> Letter:
    item, letter = _lock_reply_in_review(letter_id)
    if item is None or letter.status != Letter.Status.IN_REVIEW:
        raise TranscriptionRefused(
            gettext(
                "This reply is no longer waiting in the queue, so its transcription "
                "can no longer be changed here."
            )
        )
    is_changed = text != letter.body
    letter.body = text
    letter.transcription_confirmed_at = timezone.now()
    letter.transcription_confirmed_by = moderator
    letter.save(update_fields=["body", "transcription_confirmed_at", "transcription_confirmed_by"])
    if is_changed:
        rescreen(letter)
    return letter


def rescreen(letter: Letter) -> None:
    """Screen `letter` (locked by the caller, in review) again, now, through
    screen_letter: the letter goes back to "submitted" for the length of this
    transaction only, screen_letter screens the new text with what OCR read
    and refreshes its pending item (risk, flags, alerts), and the letter is
    in review again when this commits. Pages OCR could not read are named
    again, as the reading of the reply named them.

    Done in the request rather than queued: a queued screening would leave the
    pending item deciding a letter whose new text nobody screened yet.
    """
    unread = list(
        letter.scans.filter(ocr_at__isnull=True).order_by("page").values_list("page", flat=True)
    )
    Letter.objects.filter(pk=letter.pk).update(status=Letter.Status.SUBMITTED)
    screen_letter(letter.pk, ocr_failed_pages=unread)
    letter.refresh_from_db()
