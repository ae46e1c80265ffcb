"""allauth speaks Penpals' Spanish: usted, and "correo electrónico" (locale/GLOSSARY.md).

allauth's own Spanish catalogue mixes tú and usted and sometimes says
"email". Our catalogue comes first in Django's lookup (LOCALE_PATHS), and
penpals/allauth_wording.py keeps our wording of those strings in it. These
tests translate every string of the allauth parts we install, as a page or an
email would, so an allauth upgrade that brings a tú sentence fails here
rather than on a page.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import allauth
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

ALLAUTH_PO = Path(allauth.__file__).parent / "locale/es/LC_MESSAGES/django.po"
OUR_PO = Path(settings.BASE_DIR) / "locale/es/LC_MESSAGES/django.po"
WORDING = "penpals/allauth_wording.py"

# Where the strings of allauth, allauth.account and allauth.mfa (INSTALLED_APPS)
# come from, as allauth's catalogue names them; socialaccount, idp,
# usersessions and headless are not installed.
INSTALLED_PARTS = ("account/", "mfa/", "templates/account/", "templates/mfa/", "templates/allauth/")

# Words only the tú form uses. Pronouns and possessives, second-person verbs,
# and the imperatives with a pronoun attached that allauth's catalogue has
# used (with its misspelt "regítrate"). Plain imperatives such as "introduce" or "utiliza" are also the
# third person ("la aplicación utiliza..."): listed, and a false positive
# goes in ALLOWED with a reason.
TU_FORMS = [
    "tú", "tu", "tus", "te", "ti", "contigo", "tuyo", "tuya", "tuyos", "tuyas",
    "eres", "estás", "has", "tienes", "puedes", "quieres", "deseas", "debes",
    "necesitas", "decides", "sabes", "recibes", "vas", "inicies", "confíes",
    "introduce", "introdúcelo", "ingresa", "utiliza", "selecciona", "ten", "vete",
    "confía", "regístrate", "regítrate", "guárdalos", "envíame", "olvidaste",
]  # fmt: skip
TU_OR_EMAIL = re.compile(rf"\b(?:{'|'.join(TU_FORMS)}|e-?mails?)\b", re.IGNORECASE)
# Placeholders and HTML are not words the reader sees: "%(email)s", "{email}",
# href="mailto:...".
NOT_WORDS = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}|<[^>]*>")

# (context, msgid) whose Spanish trips the check although it is usted.
# Empty: every hit so far was a real tú or "email".
ALLOWED: set[tuple[str, str]] = set()

# Strings that stay the same in Spanish: names of things, not words.
SAME_IN_SPANISH = {"MFA", "WebAuthn", "Passkey"}


def read_po(path: Path) -> list[dict[str, Any]]:
    """The live entries of a .po file: references, context, msgid, plural, msgstr.

    Enough of the format for gettext's own output; obsolete (#~) entries are
    left out.
    """
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] | None = None
    field = ("msgid", 0)  # the keyword the next continuation line belongs to
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None and entry.get("msgid"):
                entries.append(entry)
            entry = None
            continue
        if line.startswith("#~"):
            continue
        if entry is None:
            entry = {"references": [], "msgctxt": "", "msgid_plural": None, "msgstr": {}}
        if line.startswith("#:"):
            entry["references"] += line[2:].split()
        elif line.startswith("#"):
            continue
        elif keyword := re.match(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])? ", line):
            name, index = keyword.group(1), keyword.group(2)
            text = ast.literal_eval(line[keyword.end() :])
            field = (name, int(index or 0))
            if name == "msgstr":
                entry["msgstr"][field[1]] = text
            else:
                entry[name] = text
        else:  # a continuation line of the last keyword's string
            text = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += text
            else:
                entry[field[0]] += text
    return entries


def shown_by_penpals(entry: dict[str, Any]) -> bool:
    return any(reference.startswith(INSTALLED_PARTS) for reference in entry["references"])


ALLAUTH_STRINGS = [entry for entry in read_po(ALLAUTH_PO) if shown_by_penpals(entry)]


def key(entry: dict[str, Any]) -> tuple[str, str]:
    return entry["msgctxt"], entry["msgid"]


def in_spanish(entry: dict[str, Any]) -> list[str]:
    """The entry as Django translates it in Spanish, every plural form of it
    (0, 1, 2 and a million pick each form of ours and of allauth's)."""
    context, msgid, plural = entry["msgctxt"], entry["msgid"], entry["msgid_plural"]
    with translation.override("es"):
        if plural is None:
            return [translation.pgettext(context, msgid) if context else translation.gettext(msgid)]
        return [
            translation.npgettext(context, msgid, plural, n)
            if context
            else translation.ngettext(msgid, plural, n)
            for n in (0, 1, 2, 1_000_000)
        ]


def test_it_reads_the_allauth_strings_penpals_shows():
    assert len(ALLAUTH_STRINGS) > 200, "allauth's catalogue moved or changed its format"
    msgids = {entry["msgid"] for entry in ALLAUTH_STRINGS}
    assert "Your email has been changed from %(from_email)s to %(to_email)s." in msgids
    assert "Connect %(provider)s" not in msgids  # socialaccount: not installed


@pytest.mark.parametrize("entry", ALLAUTH_STRINGS, ids=lambda entry: entry["msgid"][:60])
def test_every_allauth_string_speaks_usted_and_says_correo_electronico(entry):
    if key(entry) in ALLOWED:
        return
    for spanish in in_spanish(entry):
        found = TU_OR_EMAIL.findall(NOT_WORDS.sub(" ", spanish))
        assert not found, f"{spanish!r} says {found}: add our wording to {WORDING}"


@pytest.mark.parametrize("entry", ALLAUTH_STRINGS, ids=lambda entry: entry["msgid"][:60])
def test_every_allauth_string_is_translated(entry):
    if entry["msgid"] in SAME_IN_SPANISH:
        return
    english = [entry["msgid"], entry["msgid_plural"]]
    for spanish in in_spanish(entry):
        assert spanish not in english, f"no Spanish for {entry['msgid']!r}: add it to {WORDING}"


def test_every_override_is_a_string_allauth_has():
    """A msgid that differs from allauth's by a space overrides nothing."""
    ours = [entry for entry in read_po(OUR_PO) if WORDING in " ".join(entry["references"])]
    assert ours, f"no entry of our catalogue comes from {WORDING}"
    allauth_keys = {key(entry) for entry in ALLAUTH_STRINGS}
    strays = [key(entry) for entry in ours if key(entry) not in allauth_keys]
    assert not strays, f"not in allauth's catalogue (or not in a part we install): {strays}"


# --- The first email a Spanish-speaking person receives ---------------------------------------

SIGN_UP = {
    "display_name": "Nuevo",
    "password1": "a-long-and-unusual-passphrase-42",
    "password2": "a-long-and-unusual-passphrase-42",
}
# Words of an English sentence that no Spanish sentence uses.
ENGLISH = re.compile(
    r"\b(?:the|you|your|this|that|please|if|to|for|and|is|was|email|link|account|thank|hello)\b",
    re.IGNORECASE,
)
ADDRESSES = re.compile(r"\S+://\S+|\S+@\S+")


def verification_email(address: str, language: str) -> mail.EmailMessage:
    Client().post(
        reverse("account_signup"),
        {**SIGN_UP, "email": address},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    (message,) = [message for message in mail.outbox if message.to == [address]]
    return message


def texts_of(message: mail.EmailMessage) -> list[str]:
    alternatives = getattr(message, "alternatives", [])
    return [message.body, *(content for content, _mimetype in alternatives)]


def prose_lines(text: str) -> set[str]:
    lines = (ADDRESSES.sub("", line).strip() for line in text.splitlines())
    return {line for line in lines if re.search(r"[A-Za-z]{3}", line)}


@pytest.mark.django_db
def test_the_verification_email_of_a_spanish_sign_up_is_all_spanish():
    spanish = verification_email("nuevo@example.org", "es-MX,es;q=0.9")
    english = verification_email("new@example.org", "en")
    with translation.override("es"):
        subject = translation.gettext("Confirm your email address")
        opening = translation.gettext("Hello from %(site_name)s!") % {
            "site_name": settings.SITE_NAME
        }
        warning = translation.gettext(
            "If it was not you, ignore this email: nobody can log in with this address "
            "until it is confirmed."
        )
    assert subject != "Confirm your email address"
    assert ENGLISH.search(english.body), "the check for English finds none in English"
    assert subject in spanish.subject
    assert not ENGLISH.search(spanish.subject), spanish.subject
    for text in texts_of(spanish):
        assert opening in text
        assert warning in text
        without_addresses = ADDRESSES.sub("", text)
        assert not ENGLISH.search(without_addresses), without_addresses
        # Nor a sentence of the English email, word for word.
        assert not prose_lines(text) & prose_lines(english.body)
