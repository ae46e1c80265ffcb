"""What moderation knows of letters and correspondences: what a moderator
reads of a letter under review, how the queue finds and previews letters,
who a reported letter or correspondence is about, and closing a
correspondence from a report (registered with moderation.registry at start-up)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from messaging.models import Correspondence, Letter, normalise_code
from messaging.services import close_correspondences
from messaging.transcription import reply_review
from moderation import registry
from moderation.languages import LANGUAGE_NAMES
from moderation.registry import StaffSearch
from moderation.screening import Hit, highlight_segments
from profiles.review import profiles_named


def letter_review(letter) -> dict:
    screening = letter.screening or {}
    hits = [
        Hit(h["category"], h["rule"], "", h["start"], h["end"], h["match"], h.get("read_as", ""))
        for h in screening.get("hits", [])
    ]
    earlier = (
        type(letter)
        .objects.filter(
            correspondence_id=letter.correspondence_id, created_at__lt=letter.created_at
        )
        .order_by("-created_at")[:5]
    )
    scans = list(letter.scans.all())
    return {
        "letter": letter,
        "segments": highlight_segments(letter.body, hits),
        "screening": screening,
        "language": LANGUAGE_NAMES.get(screening.get("language", ""), ""),
        "scans": scans,
        "earlier_letters": list(reversed(earlier)),
        # A reply's pages with OCR's hits, its transcription to confirm.
        **reply_review(letter, scans),
    }


# --- What moderation may know of letters and correspondences (moderation.registry) ------


def _letters_named(search: StaffSearch) -> QuerySet:
    match = Q(profile__in=profiles_named(search)) | Q(pen_pal__in=search.pen_pals())
    if code := normalise_code(search.term):
        match |= Q(code=code)
    correspondences = Correspondence.objects.filter(match).values("pk")
    return Letter.objects.filter(correspondence__in=correspondences).values("pk")


def _attach_hits(items: list) -> None:
    screenings = dict(
        Letter.objects.filter(pk__in=[i.object_id for i in items]).values_list("pk", "screening")
    )
    for item in items:
        item.preview_hits = (screenings.get(item.object_id) or {}).get("hits", [])


def _close(correspondence) -> bool:
    return bool(
        close_correspondences(
            Correspondence.objects.filter(pk=correspondence.pk),
            Correspondence.CloseReason.MODERATOR,
        )
    )


def register() -> None:
    registry.register_subject(
        Letter,
        registry.Subject(
            name_of=lambda letter: letter.correspondence.profile.display_name,
            profile_of=lambda letter: letter.correspondence.profile,
            # An inmate's letter has no pen pal writer.
            writer_of=lambda letter: letter.created_by if letter.is_outbound else None,
            correspondence_of=lambda letter: letter.correspondence,
            review_context=lambda letter, item, private: letter_review(letter),
            reported_text=lambda letter: letter.body,
            matching=_letters_named,
            attach_previews=_attach_hits,
        ),
    )
    registry.register_subject(
        Correspondence,
        registry.Subject(
            name_of=lambda correspondence: correspondence.profile.display_name,
            profile_of=lambda correspondence: correspondence.profile,
            writer_of=lambda correspondence: correspondence.pen_pal,
            correspondence_of=lambda correspondence: correspondence,
        ),
    )
    registry.register_action(registry.CLOSE_CORRESPONDENCE, _close)
