"""What a moderator reads of a letter under review."""

from __future__ import annotations

from moderation.languages import LANGUAGE_NAMES
from moderation.screening import Hit, highlight_segments


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
    return {
        "letter": letter,
        "segments": highlight_segments(letter.body, hits),
        "screening": screening,
        "language": LANGUAGE_NAMES.get(screening.get("language", ""), ""),
        "scans": list(letter.scans.all()),
        "earlier_letters": list(reversed(earlier)),
    }
