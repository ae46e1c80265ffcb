"""Who an email address or a name belongs to, as far as it can be known.

The matching of a no-contact order, a writing suspension or an inmate's
block against a (new) account goes through these two functions and nothing
else, so every check agrees on what "the same address" means. (Sending mail
is penpals.email's job, not this module's.)

`normalize_email` maps the spellings one mailbox answers to onto one string:

- case: mailbox names are case-insensitive in practice everywhere;
- plus-tags: "ann+penpals@example.org" is delivered to "ann@example.org" by
  every large provider, so the tag is dropped for every domain;
- dots in the local part, only where the provider is known to ignore them
  (Gmail: gmail.com and its old name googlemail.com, which is the same mailbox);
- Unicode compatibility forms (full-width letters) and invisible characters.

What cannot be known (a provider's private aliases, a second mailbox at
another domain) is left to the name match and to moderators.
"""

from __future__ import annotations

import unicodedata

from penpals.text import clean_name

# Providers whose mailboxes ignore dots in the local part, and the domain
# each is known by (googlemail.com is the same mailbox as gmail.com).
DOT_INSENSITIVE_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def normalize_email(address: str) -> str:
    """The canonical form of `address` for matching (never for sending); ""
    for an empty address. Pure and cheap: safe to call on every row."""
    text = unicodedata.normalize("NFKC", clean_name(address or "")).replace(" ", "")
    text = text.casefold()
    if "@" not in text:
        return text
    local, _, domain = text.rpartition("@")
    domain = domain.rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # not a valid internationalised name: match it as typed
    local = local.split("+", 1)[0]
    if domain in DOT_INSENSITIVE_DOMAINS:
        domain = DOT_INSENSITIVE_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def normalize_person_name(name: str) -> str:
    """A name for matching: case, accents, punctuation, invisible characters
    and spacing do not count ("José  O'Neil" matches "jose oneil")."""
    decomposed = unicodedata.normalize("NFKD", clean_name(name or "")).casefold()
    kept = "".join(
        c if c.isalnum() else " " if c.isspace() or c in "-_.," else ""
        for c in decomposed
        if not unicodedata.combining(c)
    )
    return " ".join(kept.split())
