"""Which private facts of the matrix's world each role may read.

The facts are the inmates' legal names, dates of birth (every spelling a
template could print) and inmate numbers, and every account's email
(tests/security/conftest.py makes each one distinctive). The rules:

- an admin (superuser) may read everything;
- a moderator reads no inmate's private facts and no pen pal's or liaison's
  email (staff addresses are colleagues': not a pen pal's or an inmate's fact);
- a liaison reads the private facts of their own facility's inmates (they
  print the mail), and no other email than their own: not pen pals', not
  staff's, not other facilities' liaisons';
- everyone else (visitors, pen pals, staff without MFA) reads no inmate's
  private facts and no email but their own.
"""

from __future__ import annotations

from tests.privacy.crawler import Finding, Needle, date_spellings, find_needles
from tests.security.conftest import EMAILS, INMATE_X, INMATE_Y

PEN_PALS = {"pen_pal_a", "pen_pal_b", "suspended"}
LIAISONS = {"liaison_x": "x", "liaison_y": "y"}


def inmate_needles(facts: dict, facility: str) -> list[Needle]:
    owner = f"inmate of facility {facility}"
    needles = [
        Needle("legal name", facts["legal_name"], owner),
        # The surname alone: a search vector or a "Z. Quxley-Private" spelling.
        Needle("legal surname", facts["legal_name"].split()[-1], owner),
        Needle("inmate number", facts["inmate_number"], owner),
    ]
    needles += [
        Needle("date of birth", text, owner) for text in date_spellings(facts["date_of_birth"])
    ]
    return needles


INMATE_NEEDLES = {"x": inmate_needles(INMATE_X, "x"), "y": inmate_needles(INMATE_Y, "y")}
EMAIL_NEEDLES = {role: Needle("email", email, role) for role, email in EMAILS.items()}


def needles_hidden_from(role: str) -> list[Needle]:
    """Every private fact of the world that `role` must not read."""
    if role == "admin":
        return []
    if role == "moderator":
        hidden_emails = PEN_PALS | set(LIAISONS)
        return [*INMATE_NEEDLES["x"], *INMATE_NEEDLES["y"]] + [
            EMAIL_NEEDLES[owner] for owner in sorted(hidden_emails)
        ]
    others = [needle for owner, needle in EMAIL_NEEDLES.items() if owner != role]
    if role in LIAISONS:
        other_facilities = [f for f in INMATE_NEEDLES if f != LIAISONS[role]]
        return [n for f in other_facilities for n in INMATE_NEEDLES[f]] + others
    return [*INMATE_NEEDLES["x"], *INMATE_NEEDLES["y"]] + others


def private_facts_in(text: str, role: str, where: str) -> list[Finding]:
    return find_needles(text, needles_hidden_from(role), where)


def page_text(response, content: bytes) -> str:
    """The body of an HTML, JSON or plain-text response ("" for files)."""
    content_type = response.get("Content-Type", "")
    if not content_type.startswith(("text/", "application/json")):
        return ""
    return content.decode(response.charset or "utf-8", errors="replace")
