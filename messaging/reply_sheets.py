"""The mark on a reply sheet: what its QR code says, and how to read it back.

Every printed letter is followed by a reply sheet (templates/messaging/
print_batch.html). Its QR code carries one short text, the *reply mark*:

    PENPALS:1:PP-7K3M-9QX2:1
    │       │ │            └ page number: 1 is the reply sheet itself
    │       │ └ the correspondence's reply reference (Correspondence.code)
    │       └ format version
    └ whose mark it is (a QR code from anything else never parses)

Only upper-case letters, digits, "-" and ":" appear, so the code is made in
QR's alphanumeric mode: version 2 (25 x 25 modules) at error correction level
Q, which still reads with about a quarter of the code smudged or torn.

`parse_reply_mark()` is the one way to read it back (scan intake uses it): it
returns None for anything that is not exactly a version-1 mark, and never
raises. A later version of the format gets a new number here and keeps
parsing version 1, since sheets already handed out stay in prisons for months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import segno

from messaging.models import CODE_ALPHABET

MARK_PREFIX = "PENPALS"
MARK_VERSION = 1
# Page numbers a mark may carry; a reply runs to a few sheets, never thousands.
MAX_PAGE = 999
# The reply sheet is page 1 of the reply written on it.
REPLY_SHEET_PAGE = 1

_CODE_CHARACTER = f"[{CODE_ALPHABET}]"
_MARK_PATTERN = re.compile(
    rf"{MARK_PREFIX}:(?P<version>[1-9][0-9]*):"
    rf"(?P<code>PP-{_CODE_CHARACTER}{{4}}-{_CODE_CHARACTER}{{4}}):"
    r"(?P<page>[1-9][0-9]{0,2})"
)
# Level Q: a rough scan (folded, smudged, a staple through a corner) still reads.
QR_ERROR_LEVEL = "q"


@dataclass(frozen=True)
class ReplyMark:
    """What a reply sheet's QR code says: whose reply it is, and which page."""

    code: str
    page: int

    def payload(self) -> str:
        return f"{MARK_PREFIX}:{MARK_VERSION}:{self.code}:{self.page}"


def reply_mark_payload(code: str, page: int = REPLY_SHEET_PAGE) -> str:
    """The text for a QR code. `code` must be a stored reply reference
    ("PP-7K3M-9QX2") and `page` between 1 and MAX_PAGE; anything else raises
    ValueError, so no sheet is ever printed with a mark that cannot be read back."""
    payload = ReplyMark(code, page).payload()
    if parse_reply_mark(payload) != ReplyMark(code, page):
        raise ValueError(f"Not a reply reference and page: {code!r}, {page!r}.")
    return payload


def parse_reply_mark(text: object) -> ReplyMark | None:
    """The reply reference and page in a QR code's text, or None when the text
    is anything but a version-1 Penpals mark (another QR code on the page, a
    damaged read, a later format). Exact: no case folding, no spaces."""
    if not isinstance(text, str):
        return None
    match = _MARK_PATTERN.fullmatch(text)
    if match is None or int(match["version"]) != MARK_VERSION:
        return None
    return ReplyMark(code=match["code"], page=int(match["page"]))


def reply_mark_svg(code: str, page: int = REPLY_SHEET_PAGE) -> str:
    """The QR code as an inline <svg> element (vector art in the PDF; the page's
    CSS gives it its size), with the standard four-module quiet zone."""
    qr = segno.make(
        reply_mark_payload(code, page), error=QR_ERROR_LEVEL, boost_error=False, micro=False
    )
    return qr.svg_inline(scale=1, border=4, omitsize=True, svgclass="reply-mark-qr")
