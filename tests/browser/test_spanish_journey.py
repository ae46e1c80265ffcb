"""A Spanish speaker's whole journey, in a browser set to Spanish, with the
real worker screening the letter and sending the email it sends later:

the home page in Spanish → sign-up → the verification email in Spanish → log
in → a directory search with a Spanish word → a profile → a letter → the
thread, and the approval email the worker sends in Spanish → the liaison's
print view, whose sheet for a Spanish reader is in Spanish while the portal
stays in the liaison's English → settings (the language saved, switched to
English and back) → the data export → deleting the account. The home and
settings pages are also checked at phone, laptop and desktop widths, since
Spanish runs longer than English.

What a page should say comes from the catalogue (`Catalogue`), never from a
guess at the translation. What the journey does (pages reached, the language
Django chose, emails sent, rows saved) is checked as it happens; what the
pages and emails say is collected and checked at the end, so one run lists
every string still in English: those the catalogue has no Spanish for (not
compiled yet, or never marked for translation), and those the catalogue
translates but a page or email still shows in English, and any layout
failure of the Spanish pages.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import formats, timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext
from playwright.sync_api import expect

from messaging.models import Letter, Notification
from moderation.models import ModerationItem
from moderation.services import current_version, do_decide
from penpals.models import User
from tests.browser import pages
from tests.browser.test_layout import SIZES, LayoutCheck
from tests.browser.test_profile_flow import log_in, wait_for
from tests.factories import (
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    activate_totp,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.xdist_group("worker")]

EMAIL = "lucia.journey@example.org"
NAME = "Lucía"
PASSWORD = "una-frase-larga-y-poco-comun-42"
SPANISH_BIO = "Me gusta el ajedrez, la jardinería y escribir cartas largas sobre la vida diaria."
# A word of the bio, typed without its accent (as on a keyboard without one).
SEARCH_WORD = "jardineria"
LETTER = "Querida Dolores: me encantó leer sobre tu jardín. ¿Qué flores cultivas este año?"
# Desktop width, where the header's links are not folded into the menu.
DESKTOP = {"width": 1280, "height": 800}

HOW_TO_REPLY = (
    "<strong>How to reply.</strong> Write your reply on the reply sheet that comes with this "
    "letter, and on more paper if you need it, with the reply reference %(code)s at the top of "
    "every extra page. Give it to the staff member who handles Penpals mail at "
    "%(facility_name)s: they scan it and send it to Penpals. Every reply is read by a Penpals "
    "moderator before %(pen_pal_name)s receives it. Do not ask for money, gifts, phone numbers "
    "or addresses; such replies are not passed on."
)
# The file email backend's separator between messages (django.core.mail.backends.filebased).
MESSAGE_SEPARATOR = "\n" + "-" * 79 + "\n"


def without_tags(text: str) -> str:
    """A translation with markup in it, as the page's text reads."""
    return re.sub(r"<[^>]+>", "", text)


def exactly(text: str) -> re.Pattern:
    """A label's text, with or without the colon a form puts after it."""
    return re.compile(rf"^{re.escape(text)}:?$")


class Catalogue:
    """What the site's catalogue says for an msgid in one language, and
    where the journey found something else.

    `untranslated`: the msgids it hands back unchanged (the page shows them
    in English). `not_shown`: translations a page or email did not show.
    """

    def __init__(self, language: str):
        self.language = language
        self.untranslated: list[str] = []
        self.not_shown: list[str] = []

    def __call__(self, msgid: str, *, context: str | None = None, **values) -> str:
        with translation.override(self.language):
            text = pgettext(context, msgid) if context else gettext(msgid)
        if text == msgid and msgid not in self.untranslated:
            self.untranslated.append(msgid)
        return text % values if values else text

    def shown(self, locator, msgid: str, *, where: str, **values) -> None:
        """`locator`'s text contains the translation of `msgid` (tags left out)."""
        text = without_tags(self(msgid, **values))
        try:
            expect(locator).to_contain_text(text)
        except AssertionError:
            self.not_shown.append(f"{where}: {text!r} (for {msgid!r})")

    def written(self, text: str, msgid: str, *, where: str, **values) -> None:
        """`text` (an email's subject or body) contains the translation of `msgid`."""
        expected = self(msgid, **values)
        if expected not in text:
            self.not_shown.append(f"{where}: {expected!r} (for {msgid!r})")

    def field(self, scope, msgid: str, *, where: str, is_verbose_name: bool = False):
        """The form field labelled with the translation of `msgid` (a model
        field's verbose name is capitalised, as a ModelForm labels it). A
        field labelled otherwise (a label never marked for translation) is
        recorded, and found by its English label so the journey goes on."""
        shape = capfirst if is_verbose_name else str
        label = shape(self(msgid))
        labelled = scope.get_by_label(exactly(label))
        if labelled.count() == 0:
            self.not_shown.append(f"{where}: the label {label!r} (for {msgid!r})")
            labelled = scope.get_by_label(exactly(shape(msgid)))
        return labelled

    def problems(self) -> list[str]:
        return [
            *(
                f"no {self.language!r} in the catalogue for {msgid!r}"
                for msgid in self.untranslated
            ),
            *(f"not shown in {self.language!r}: {where}" for where in self.not_shown),
        ]


def assert_page_in(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)


def layout_failures(page, label: str, template: str) -> list[str]:
    """The page as it is, at every width: no sideways scrolling, every
    control inside the page and clickable (tests/browser/test_layout.py).
    Back at desktop width after."""
    layout = LayoutCheck(role="spanish")
    entry = pages.Page(label, page.url, template)
    for size in SIZES:
        layout.check(page, entry, size)
    page.set_viewport_size(DESKTOP)
    return layout.failures


def emails_sent_by_the_worker_to(address: str) -> list[email.message.EmailMessage]:
    """The messages the worker wrote to EMAIL_FILE_PATH for `address`."""
    messages = []
    for path in sorted(Path(settings.EMAIL_FILE_PATH).glob("*")):
        for chunk in path.read_text(errors="replace").split(MESSAGE_SEPARATOR):
            if chunk.strip():
                message = email.message_from_string(chunk, policy=email.policy.default)
                if address in str(message["To"]):
                    messages.append(message)
    return messages


def test_a_spanish_speaker_signs_up_writes_a_letter_and_leaves(
    browser, live_server, celery_worker_process, default_screening_rules
):
    spanish = Catalogue("es")
    layout = []
    profile = InmateProfileFactory.published(
        display_name="Dolores",
        legal_name="Dolores Ramírez-Privado",
        inmate_number="TX-20931",
        bio=SPANISH_BIO,
        interests=["ajedrez", "jardinería"],
        languages=["es"],
        facility__name="Northgate Correctional",
        facility__slug="northgate",
    )
    # Writes in English: the Spanish word must not find him.
    InmateProfileFactory.published(display_name="Terrence", facility=profile.facility)
    facility = profile.facility
    liaison = LiaisonFactory(facility=facility, user__email="liaison.es@example.org").user
    liaison_secret = activate_totp(liaison)
    moderator = ModeratorFactory(email="moderador.es@example.org")

    context = browser.new_context(
        base_url=live_server.url, locale="es-ES", accept_downloads=True, viewport=DESKTOP
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    main_nav = page.get_by_role("navigation", name=spanish("Main", context="navigation landmark"))
    heading = page.get_by_role("heading", level=1)
    flash = page.get_by_role("status")

    # 1. A browser set to Spanish gets the home page in Spanish.
    response = page.goto("/")
    assert response is not None and response.headers["content-language"] == "es"
    assert_page_in(page, "es")
    spanish.shown(heading, "A letter can change someone’s week. Write one safely.", where="home")
    layout += layout_failures(page, "home", "pages/home.html")

    # 2. Signs up.
    main_nav.get_by_role("link", name=spanish("Sign up"), exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/signup/$"))
    assert_page_in(page, "es")
    spanish.field(page, "Email", where="sign-up").fill(EMAIL)
    spanish.field(page, "Display name", where="sign-up").fill(NAME)
    spanish.field(page, "Password", where="sign-up").fill(PASSWORD)
    spanish.field(page, "Password (again)", where="sign-up").fill(PASSWORD)
    page.get_by_role("button", name=spanish("Sign up"), exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert_page_in(page, "es")
    spanish.shown(heading, "Verify your email address", where="verification sent")
    # A new account keeps the language it signed up in.
    assert User.objects.get(email=EMAIL).language == "es"

    # 3. The verification email is in Spanish; its link confirms the address.
    [message] = [m for m in mail.outbox if m.to == [EMAIL]]
    assert message.extra_headers["Content-Language"] == "es"
    where = "verification email"
    spanish.written(message.subject, "Confirm your email address", where=where)
    spanish.written(
        message.body, "Hello from %(site_name)s!", site_name=settings.SITE_NAME, where=where
    )
    spanish.written(
        message.body,
        "Someone (we hope you) used this email address for an account on %(site_name)s. "
        "To confirm the address, open this link:",
        site_name=settings.SITE_NAME,
        where=where,
    )
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    page.goto(link)
    assert_page_in(page, "es")
    page.get_by_role("button", name=spanish("Confirm"), exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/login/"))

    spanish.field(page, "Email", where="log in").fill(EMAIL)
    spanish.field(page, "Password", where="log in").fill(PASSWORD)
    page.get_by_role("button", name=spanish("Log in"), exact=True).click()
    # A new writer with no letters yet starts in the directory.
    page.wait_for_url(re.compile(r"/inmates/$"))

    # 4. Searches the directory with a Spanish word and opens the profile.
    assert_page_in(page, "es")
    spanish.shown(heading, "Find a pen pal", where="directory")
    spanish.field(page, "Search profiles", where="directory").fill(SEARCH_WORD)
    page.get_by_role("button", name=spanish("Search"), exact=True).click()
    page.wait_for_url(re.compile(rf"q={SEARCH_WORD}"))
    results = page.locator(".directory-results")
    expect(results.get_by_role("link", name=re.compile("Terrence"))).to_have_count(0)
    results.get_by_role("link", name=re.compile("Dolores")).first.click()
    page.wait_for_url(re.compile(rf"/inmates/{profile.slug}/$"))
    assert_page_in(page, "es")
    spanish.shown(page.locator("main"), "About %(name)s", name="Dolores", where="profile")
    expect(page.get_by_text(SPANISH_BIO)).to_be_visible()

    # 5. Writes a letter, and sees it in the thread.
    page.get_by_role("link", name=spanish("Write a letter")).click()
    page.wait_for_url(re.compile(rf"/letters/write/{profile.slug}/$"))
    assert_page_in(page, "es")
    spanish.shown(heading, "Write to %(name)s", name="Dolores", where="write")
    spanish.field(page, "Your letter", where="write").fill(LETTER)
    page.get_by_role("button", name=spanish("Send letter")).click()
    page.wait_for_url(re.compile(r"/letters/\d+/$"))
    assert_page_in(page, "es")
    spanish.shown(
        flash,
        "Your letter to %(name)s was sent. Our team reads it before the facility "
        "prints it; you can follow it here.",
        name="Dolores",
        where="thread",
    )
    spanish.shown(heading, "Letters with %(name)s", name="Dolores", where="thread")
    expect(page.get_by_text(LETTER)).to_be_visible()
    letter = Letter.objects.get(created_by__email=EMAIL)

    # 6. The worker screens it; a moderator approves it; the worker emails
    # the writer in their language, and the thread says it was approved.
    wait_for(
        lambda: ModerationItem.objects.for_object(letter).pending().exists(),
        what="the worker to screen the letter",
    )
    item = ModerationItem.objects.for_object(letter).pending().get()
    do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
    wait_for(
        lambda: Notification.objects.filter(
            recipient__email=EMAIL, kind=Notification.Kind.LETTER_APPROVED, state="sent"
        ).exists(),
        what="the worker to send the approval email",
    )
    [approval] = emails_sent_by_the_worker_to(EMAIL)
    assert approval["Content-Language"] == "es"
    spanish.written(str(approval["Subject"]), "Your letter was approved", where="approval email")
    page.reload()
    spanish.shown(
        page.locator(f"#letter-{letter.pk} .status-badge"),
        "Approved",
        where="thread after approval",
    )

    # 7. The liaison, whose portal is in English, prints it: the sheet for
    # Dolores, who reads Spanish, is in Spanish.
    portal_context = browser.new_context(base_url=live_server.url, locale="en-US")
    portal_context.set_default_timeout(15_000)
    portal = portal_context.new_page()
    log_in(
        portal,
        liaison.email,
        next_url=f"/liaison/letters/{facility.slug}/queue/",
        totp_secret=liaison_secret,
    )
    portal.get_by_role("button", name=re.compile("^Print all")).click()
    portal.wait_for_url(re.compile(rf"/liaison/letters/{facility.slug}/batches/\d+/$"))
    portal.get_by_role("link", name="Print view").click()
    portal.wait_for_url(re.compile(r"/print/$"))
    assert_page_in(portal, "en")
    expect(portal.locator(".print-toolbar")).to_contain_text("Download PDF")
    sheet = portal.locator("article.printed-letter")
    expect(sheet).to_have_attribute("lang", "es")
    expect(sheet).to_contain_text(LETTER)
    code = letter.correspondence.code
    with translation.override("es"):
        # As Spanish writes a date: "7 de diciembre de 2026".
        written = formats.date_format(timezone.localtime(letter.created_at))
    where = "printed sheet"
    spanish.shown(sheet, "Inmate number %(inmate_number)s", inmate_number="TX-20931", where=where)
    spanish.shown(sheet, "Written %(date)s", date=written, where=where)
    spanish.shown(
        sheet,
        'Reply reference: <span class="reply-reference">%(code)s</span> — write it on your reply.',
        code=code,
        where=where,
    )
    spanish.shown(
        sheet,
        "From your pen pal <strong>%(pen_pal_name)s</strong>, through Penpals.",
        pen_pal_name=NAME,
        where=where,
    )
    spanish.shown(
        sheet,
        HOW_TO_REPLY,
        code=code,
        facility_name=facility.name,
        pen_pal_name=NAME,
        where=where,
    )
    # The reply sheet after the letter is in Spanish too.
    reply_sheet = sheet.locator("section.reply-sheet")
    spanish.shown(reply_sheet, "Reply sheet", where=where)
    spanish.shown(
        reply_sheet,
        "Write your reply on this sheet. If you need more room, use more pages and write the "
        "reply reference at the top of each one.",
        where=where,
    )
    portal_context.close()

    # 8. Settings: the language saved is Spanish; switched to English there,
    # and back with the switcher at the foot of the page.
    main_nav.get_by_role("link", name=spanish("My account")).click()
    page.wait_for_url(re.compile(r"/account/settings/$"))
    assert_page_in(page, "es")
    spanish.shown(heading, "Account settings", where="settings")
    main = page.locator("main")
    language_field = spanish.field(main, "language", where="settings", is_verbose_name=True)
    expect(language_field).to_have_value("es")
    display_name_field = spanish.field(main, "display name", where="settings", is_verbose_name=True)
    expect(display_name_field).to_have_value(NAME)
    layout += layout_failures(page, "settings", "penpals/settings.html")

    language_field.select_option("en")
    page.get_by_role("button", name=spanish("Save settings")).click()
    page.wait_for_url(re.compile(r"/account/settings/$"))
    assert_page_in(page, "en")
    assert User.objects.get(email=EMAIL).language == "en"

    footer = page.get_by_role("contentinfo")
    footer.get_by_label("Language").select_option("es")
    footer.get_by_role("button", name="Change language").click()
    page.wait_for_url(re.compile(r"/account/settings/$"))
    assert_page_in(page, "es")
    expect(language_field).to_have_value("es")
    # The switcher saved the choice on the account, for the emails too.
    assert User.objects.get(email=EMAIL).language == "es"

    # 9. Downloads the data export (the password is asked again first).
    page.get_by_role("link", name=spanish("Download my data")).click()
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    assert_page_in(page, "es")
    spanish.field(page, "Password", where="reauthentication").fill(PASSWORD)
    with page.expect_download() as download_info:
        page.get_by_role("button", name=spanish("Confirm"), exact=True).click()
    page.wait_for_url(re.compile(r"/account/settings/\?export=ready$"))
    spanish.shown(
        flash,
        "Password confirmed. Your data is downloading; if it does not start, "
        "choose “Download my data” again.",
        where="settings after the export",
    )
    export = json.loads(Path(download_info.value.path()).read_text())
    assert export["penpals"]["email"] == EMAIL
    assert export["penpals"]["display_name"] == NAME

    # 10. Deletes the account.
    page.goto("/account/settings/")
    page.get_by_role("link", name=spanish("Delete my account")).click()
    page.wait_for_url(re.compile(r"/account/delete/$"))
    assert_page_in(page, "es")
    spanish.shown(heading, "Delete my account", where="delete account")
    spanish.field(
        page,
        "I understand that my account and personal data will be deleted and cannot be restored.",
        where="delete account",
    ).check()
    page.get_by_role("button", name=spanish("Delete my account")).click()
    page.wait_for_url(live_server.url + "/")
    # Signed out, the language cookie keeps the site in Spanish.
    assert_page_in(page, "es")
    spanish.shown(
        flash, "Your account was deleted. We are sorry to see you go.", where="home after deletion"
    )
    expect(main_nav.get_by_role("link", name=spanish("Log in"), exact=True)).to_be_visible()
    assert not User.objects.filter(email=EMAIL).exists()
    context.close()

    problems = spanish.problems() + layout
    assert not problems, "The Spanish journey:\n" + "\n".join(problems)
