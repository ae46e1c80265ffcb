"""Every page template, per role, with the data it needs: one list that the
browser checks walk (axe-core in test_accessibility.py, layout in
test_layout.py), so a page added to one is checked by all.

A `Page` names its URL as a format string over the objects its role's
`set_up_*` function creates (`"/inmates/{profile.slug}/"`), the template it
renders from templates/ (checked on every visit: see `visit`), and, for states
only a person's actions reach (a form shown again with its errors, a bulk
confirmation), the steps that reach it. `NOT_WALKED` lists the templates that
are not pages, each with the reason; test_layout.py asserts that every
template under templates/ is in one or the other, so a new page template
cannot be silently skipped.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from django.core.files.base import ContentFile
from django.test.signals import template_rendered
from django.utils import timezone
from PIL import Image, ImageDraw

from messaging.models import PrintBatch, ScanPage, ScanRun
from messaging.services import check_create_print_batch, screen_letter
from moderation.models import ModerationItem, Report
from moderation.reports import check_report
from profiles.models import Favorite
from tests.factories import (
    PASSWORD,
    FacilityFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
    add_public_photo,
    screen_and_decide,
    totp_code,
    write_letter,
)
from tests.messaging.test_redaction import reply_in_review

PASSWORD_LABEL = re.compile(r"^Password:?$")
# allauth's wording of the log-in button, before and after it was made one.
LOG_IN_BUTTON = re.compile(r"^(Sign In|Log in)$", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """One page as a person sees it. `label` names it in reports and
    screenshot files; `template` is the file under templates/ it renders
    (None for pages rendered only from Django's or allauth's own templates);
    `steps`, when given, run after the page at `url` loaded and lead to the
    state to check."""

    label: str
    url: str
    template: str | None
    status: int = 200
    steps: Callable | None = None
    is_admin: bool = False


def log_in(
    page, email: str, *, next_url: str, totp_secret: str | None = None, on_second_factor=None
):
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name=LOG_IN_BUTTON).click()
    if totp_secret:
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        if on_second_factor:
            on_second_factor(page)
        page.get_by_label(re.compile(r"^Code")).fill(totp_code(totp_secret))
        page.get_by_role("button", name=LOG_IN_BUTTON).click()
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


# --- Steps that reach a page state ------------------------------------------------------


def submit_main_form(page) -> None:
    """Send the page's main form as it is (empty: it comes back with errors)."""
    page.locator("main form [type=submit]").last.click()
    page.wait_for_load_state()


def log_in_wrongly(page) -> None:
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label(PASSWORD_LABEL).fill("wrong-password")
    page.get_by_role("button", name=LOG_IN_BUTTON).click()
    page.wait_for_selector(".form-errors, .errorlist, [role=alert]")


def log_in_without_csrf_cookie(page) -> None:
    page.context.clear_cookies()
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label(PASSWORD_LABEL).fill("wrong-password")
    page.get_by_role("button", name=LOG_IN_BUTTON).click()
    page.wait_for_selector("text=Error 403")


def ask_for_password_reset(page) -> None:
    page.get_by_label(re.compile("Email")).fill("nobody@example.org")
    submit_main_form(page)
    page.wait_for_url(re.compile(r"/accounts/password/reset/done/$"))


def send_empty_letter(page) -> None:
    page.get_by_role("button", name="Send letter").click()
    page.wait_for_load_state()


def wait_for_reauthentication(page) -> None:
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))


def confirm_password_to_delete(page) -> None:
    """Deleting an account asks for the password again, however recent the login."""
    wait_for_reauthentication(page)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    submit_main_form(page)
    page.wait_for_url(re.compile(r"/account/delete/$"))


def create_empty_profile(page) -> None:
    page.get_by_role("button", name="Create draft profile").click()
    page.wait_for_load_state()


def upload_reply_to_unknown_reference(page) -> None:
    page.get_by_label("Reply reference").fill("NOPE-0000")
    submit_main_form(page)


def find_return_by_unknown_reference(page) -> None:
    page.get_by_label("Reply reference").fill("PP-2222-2222")
    submit_main_form(page)


def try_rules_with_hits(page) -> None:
    page.locator("textarea").first.fill("Send me money on cashapp, call 555-201-3344.")
    page.locator("#content form [type=submit]").first.click()
    page.wait_for_load_state()


def run_admin_action(action: str, *, rows: int, wait_for: str) -> Callable:
    def steps(page) -> None:
        for checkbox in page.locator("input.action-select").all()[:rows]:
            checkbox.check()
        page.locator("select[name=action]").select_option(action)
        page.locator("button[name=index]").click()
        page.wait_for_selector(wait_for)

    return steps


# --- Visitors ----------------------------------------------------------------------------


def set_up_visitor() -> SimpleNamespace:
    profile = InmateProfileFactory.published(display_name="Marisol")
    add_public_photo(profile)
    InmateProfileFactory.published(display_name="Terrence", facility=profile.facility)
    return SimpleNamespace(profile=profile)


VISITOR_PAGES = [
    Page("home", "/", "pages/home.html"),
    Page("directory", "/inmates/", "profiles/directory.html"),
    Page("directory-search", "/inmates/?q=chess", "profiles/directory.html"),
    Page("profile", "/inmates/{profile.slug}/", "profiles/profile_detail.html"),
    # A visitor is asked to log in, or pointed to the protection request.
    Page("report-profile", "/inmates/{profile.slug}/report/", "profiles/report_profile.html"),
    Page("about", "/about/", "pages/about.html"),
    Page("safety", "/safety/", "pages/safety.html"),
    Page("privacy", "/privacy/", "pages/privacy.html"),
    Page("terms", "/terms/", "pages/terms.html"),
    Page("protection-request", "/safety/request/", "moderation/protection_request.html"),
    Page(
        "protection-request-errors",
        "/safety/request/",
        "moderation/protection_request.html",
        steps=submit_main_form,
    ),
    Page(
        "protection-request-sent",
        "/safety/request/sent/",
        "moderation/protection_request_sent.html",
    ),
    Page("login", "/accounts/login/", None),
    Page("login-errors", "/accounts/login/", None, steps=log_in_wrongly),
    Page("signup", "/accounts/signup/", None),
    Page("password-reset", "/accounts/password/reset/", None),
    Page(
        "resend-verification",
        "/accounts/resend-verification/",
        "account/resend_verification.html",
    ),
    Page("password-reset-sent", "/accounts/password/reset/", None, steps=ask_for_password_reset),
    Page("not-found", "/no-such-page/", "404.html", status=404),
    # A form posted without its CSRF cookie: the 403 page for that case.
    Page("csrf-failure", "/accounts/login/", "403_csrf.html", steps=log_in_without_csrf_cookie),
]


def set_up_staff_without_mfa() -> SimpleNamespace:
    return SimpleNamespace(moderator=ModeratorFactory())


def log_in_staff_without_mfa(page, world) -> None:
    log_in(page, world.moderator.email, next_url="/")


# The plain 403 page: staff without MFA may not open a scan.
STAFF_WITHOUT_MFA_PAGES = [Page("forbidden", "/letters/scan/1/", "403.html", status=403)]


# --- Pen pals ----------------------------------------------------------------------------


def set_up_pen_pal() -> SimpleNamespace:
    pen_pal = PenPalFactory(email="reader@example.org", display_name="Robin")
    moderator = ModeratorFactory()
    profile = InmateProfileFactory.published(display_name="Dolores")
    add_public_photo(profile)
    other = InmateProfileFactory.published(display_name="Wendell")
    letter = screen_and_decide(write_letter(pen_pal, profile), moderator)
    reply = LetterFactory(
        correspondence=letter.correspondence,
        direction="in",
        status="approved",
        created_by=None,
        approved_at=timezone.now(),
        body="Thank you for your letter. Today I read a book about ships.",
    )
    write_letter(pen_pal, other, "Hello Wendell, I read your profile and loved it.")
    Favorite.objects.create(user=pen_pal, profile=profile)
    return SimpleNamespace(
        pen_pal=pen_pal, profile=profile, other=other, letter=letter, reply=reply
    )


def log_in_pen_pal(page, world) -> None:
    log_in(page, world.pen_pal.email, next_url="/letters/")


PEN_PAL_PAGES = [
    Page("inbox", "/letters/", "messaging/inbox.html"),
    Page("profile-saved", "/inmates/{profile.slug}/", "profiles/profile_detail.html"),
    Page("saved", "/inmates/saved/", "profiles/saved.html"),
    Page("thread", "/letters/{letter.correspondence_id}/", "messaging/thread.html"),
    Page("write", "/letters/write/{other.slug}/", "messaging/write.html"),
    Page(
        "write-errors",
        "/letters/write/{other.slug}/",
        "messaging/write.html",
        steps=send_empty_letter,
    ),
    Page("report-letter", "/letters/letter/{reply.pk}/report/", "messaging/report.html"),
    Page("report-profile", "/inmates/{other.slug}/report/", "profiles/report_profile.html"),
    Page("settings", "/account/settings/", "penpals/settings.html"),
    # Exporting asks for the password first (allauth's reauthentication page).
    Page("reauthenticate", "/account/export/", None, steps=wait_for_reauthentication),
    Page(
        "delete-account",
        "/account/delete/",
        "penpals/delete_account.html",
        steps=confirm_password_to_delete,
    ),
    Page("two-factor-settings", "/accounts/2fa/", None),
    Page("email-addresses", "/accounts/email/", None),
    Page("password-change", "/accounts/password/change/", None),
]


# --- Liaisons ----------------------------------------------------------------------------


def set_up_liaison() -> SimpleNamespace:
    facility = FacilityFactory(name="Northgate Correctional", slug="northgate")
    second = FacilityFactory(name="Riverside Unit", slug="riverside")
    liaison = LiaisonFactory(facility=facility).user
    LiaisonFactory(facility=second, user=liaison)
    secret = activate_totp(liaison)
    moderator = ModeratorFactory()
    draft = InmateProfileFactory(facility=facility, display_name="Ana")
    published = InmateProfileFactory.published(facility=facility, display_name="Benito")
    add_public_photo(published)
    pen_pal = PenPalFactory(display_name="Sam")
    for body in ["Dear Benito, how is the garden?", "Dear Benito, I have a new book."]:
        screen_and_decide(write_letter(pen_pal, published, body), moderator)
    other_pen_pal = PenPalFactory()
    screen_and_decide(write_letter(other_pen_pal, published), moderator)
    batch = check_create_print_batch(liaison, facility, None, uuid.uuid4())
    assert PrintBatch.objects.filter(pk=batch.pk).exists()
    printed = batch.letters.order_by("pk").first()
    run = scanning_run(facility, liaison, printed.correspondence)
    return SimpleNamespace(
        liaison=liaison,
        totp_secret=secret,
        draft=draft,
        published=published,
        batch=batch,
        printed=printed,
        run=run,
    )


def scanned_page(number: int) -> bytes:
    """A page image as intake stores it (greyscale JPEG), with a few lines of "writing"."""
    image = Image.new("L", (425, 550), 245)
    draw = ImageDraw.Draw(image)
    for line in range(6):
        draw.line((40, 80 + 40 * line, 380, 80 + 40 * line), fill=60, width=3)
    draw.text((40, 30), f"Page {number}", fill=30)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def scanning_run(facility, liaison, correspondence) -> ScanRun:
    """A run read to the end: a reply to `correspondence` (page 1), a page
    nobody could match (page 2, in triage) and a blank page (page 3)."""
    run = ScanRun.objects.create(
        facility=facility,
        uploaded_by=liaison,
        idempotency_key=uuid.uuid4(),
        state=ScanRun.State.DONE,
        pages_total=3,
        pages_done=3,
        replies_made=1,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    reply = LetterFactory(
        correspondence=correspondence, direction="in", status="in_review", created_by=liaison
    )
    states = [
        (ScanPage.State.REPLY, "", reply),
        (ScanPage.State.TRIAGE, ScanPage.TriageReason.UNREADABLE, None),
        (ScanPage.State.BLANK, "", None),
    ]
    for number, (state, reason, letter) in enumerate(states, start=1):
        content = scanned_page(number)
        page = ScanPage(
            run=run,
            facility=facility,
            number=number,
            content_hash=hashlib.sha256(content).hexdigest(),
            width=425,
            height=550,
            state=state,
            triage_reason=reason,
            letter=letter,
            mark_code=correspondence.code if letter else "",
        )
        page.image.save("page.jpg", ContentFile(content))
    return run


def log_in_liaison(page, world, *, on_second_factor=None) -> None:
    log_in(
        page,
        world.liaison.email,
        next_url="/liaison/",
        totp_secret=world.totp_secret,
        on_second_factor=on_second_factor,
    )


LIAISON_PAGES = [
    Page("choose-facility", "/liaison/", "profiles/liaison/choose_facility.html"),
    Page("dashboard", "/liaison/northgate/", "profiles/liaison/dashboard.html"),
    Page("profiles", "/liaison/northgate/profiles/", "profiles/liaison/profile_list.html"),
    Page("profile-new", "/liaison/northgate/profiles/new/", "profiles/liaison/profile_form.html"),
    Page(
        "profile-new-errors",
        "/liaison/northgate/profiles/new/",
        "profiles/liaison/profile_form.html",
        steps=create_empty_profile,
    ),
    Page("profile-draft", "/liaison/profiles/{draft.pk}/", "profiles/liaison/profile_detail.html"),
    Page(
        "profile-edit", "/liaison/profiles/{draft.pk}/edit/", "profiles/liaison/profile_form.html"
    ),
    Page("photos", "/liaison/profiles/{draft.pk}/photos/", "profiles/liaison/photo_upload.html"),
    Page(
        "consent", "/liaison/profiles/{draft.pk}/consent/", "profiles/liaison/consent_upload.html"
    ),
    Page(
        "profile-published",
        "/liaison/profiles/{published.pk}/",
        "profiles/liaison/profile_detail.html",
    ),
    Page(
        "lifecycle", "/liaison/profiles/{published.pk}/status/", "profiles/liaison/lifecycle.html"
    ),
    Page("csv-import", "/liaison/northgate/import/", "profiles/liaison/csv_import.html"),
    Page("activity", "/liaison/northgate/activity/", "profiles/liaison/activity.html"),
    Page("print-queue", "/liaison/letters/northgate/queue/", "messaging/liaison/print_queue.html"),
    Page("batches", "/liaison/letters/northgate/batches/", "messaging/liaison/batch_list.html"),
    Page(
        "batch",
        "/liaison/letters/northgate/batches/{batch.pk}/",
        "messaging/liaison/batch_detail.html",
    ),
    Page(
        "batch-print",
        "/liaison/letters/northgate/batches/{batch.pk}/print/",
        "messaging/print_batch.html",
    ),
    Page("replies", "/liaison/letters/northgate/replies/", "messaging/liaison/reply_list.html"),
    Page(
        "reply-upload",
        "/liaison/letters/northgate/replies/new/",
        "messaging/liaison/reply_upload.html",
    ),
    Page(
        "reply-upload-errors",
        "/liaison/letters/northgate/replies/new/",
        "messaging/liaison/reply_upload.html",
        steps=upload_reply_to_unknown_reference,
    ),
    Page(
        "no-contact-orders",
        "/liaison/safety/profiles/{published.pk}/no-contact/",
        "moderation/liaison/no_contact_orders.html",
    ),
    Page(
        "scan-runs",
        "/liaison/letters/northgate/scan-runs/",
        "messaging/liaison/scan_run_upload.html",
    ),
    Page(
        "scan-run-errors",
        "/liaison/letters/northgate/scan-runs/",
        "messaging/liaison/scan_run_upload.html",
        steps=submit_main_form,
    ),
    Page(
        "scan-run",
        "/liaison/letters/northgate/scan-runs/{run.pk}/",
        "messaging/liaison/scan_run_detail.html",
    ),
    Page("triage", "/liaison/letters/northgate/triage/", "messaging/liaison/triage.html"),
    Page(
        "return-letter",
        "/liaison/letters/northgate/letters/{printed.pk}/return/",
        "messaging/liaison/return_letter.html",
    ),
    Page(
        "return-find", "/liaison/letters/northgate/returns/", "messaging/liaison/return_find.html"
    ),
    Page(
        "return-find-errors",
        "/liaison/letters/northgate/returns/",
        "messaging/liaison/return_find.html",
        steps=find_return_by_unknown_reference,
    ),
    Page(
        "return-choose",
        "/liaison/letters/northgate/returns/{printed.correspondence_id}/",
        "messaging/liaison/return_choose.html",
    ),
    # Its script starts the download once the PDF exists; no worker makes it here.
    Page(
        "pdf-pending",
        "/liaison/letters/northgate/batches/{batch.pk}/pdf/",
        "messaging/liaison/pdf_pending.html",
        status=202,
    ),
]


# --- Staff in the admin ------------------------------------------------------------------


def set_up_staff() -> SimpleNamespace:
    """A superuser in the Moderators group (the queue as moderators see it,
    and the screening rules, which only admins may open), and a moderator
    who is not a superuser (the history pages with private facts left out).
    Needs the default screening rules in the database."""
    staff = ModeratorFactory(email="staff.pages@example.org", is_superuser=True)
    secret = activate_totp(staff)
    moderator = ModeratorFactory(email="moderator.pages@example.org")
    moderator_secret = activate_totp(moderator)
    profile = InmateProfileFactory.published(display_name="Gustavo")
    pen_pal = PenPalFactory()
    flagged = write_letter(
        pen_pal, profile, "Please send money by cashapp to $gustavo99 and call 555-201-3344."
    )
    screen_letter(flagged.pk)
    item = ModerationItem.objects.for_object(flagged).pending().get()
    other = write_letter(PenPalFactory(), profile, "Hello Gustavo, tell me about chess.")
    screen_letter(other.pk)
    report = check_report(pen_pal, profile, "other", "This profile asks for money.")
    assert Report.objects.filter(pk=report.pk).exists()
    # A reply read by OCR, waiting for a moderator (its page, its transcription).
    reply = reply_in_review(
        machine_transcription="Dear friend, thank you for the letter about chess."
    )
    reply_item = ModerationItem.objects.for_object(reply).pending().get()
    # A printed letter, which the facility may send back, and a scanning run.
    liaison = LiaisonFactory(facility=profile.facility).user
    screen_and_decide(write_letter(PenPalFactory(), profile, "Dear Gustavo, hello."), staff)
    batch = check_create_print_batch(liaison, profile.facility, None, uuid.uuid4())
    printed = batch.letters.get()
    run = scanning_run(profile.facility, liaison, printed.correspondence)
    return SimpleNamespace(
        staff=staff,
        totp_secret=secret,
        moderator=moderator,
        moderator_totp_secret=moderator_secret,
        profile=profile,
        item=item,
        report=report,
        reply=reply,
        reply_item=reply_item,
        scan=reply.scans.get(),
        printed=printed,
        run=run,
    )


def log_in_staff(page, world) -> None:
    log_in(page, world.staff.email, next_url="/admin/", totp_secret=world.totp_secret)


def log_in_moderator(page, world) -> None:
    log_in(page, world.moderator.email, next_url="/admin/", totp_secret=world.moderator_totp_secret)


def admin_page(label: str, url: str, template: str | None, **kwargs) -> Page:
    return Page(label, url, template, is_admin=True, **kwargs)


STAFF_PAGES = [
    admin_page("admin-index", "/admin/", "admin/index.html"),
    admin_page(
        "queue",
        "/admin/moderation/moderationitem/",
        "admin/moderation/moderationitem/change_list.html",
    ),
    admin_page(
        "queue-pending",
        "/admin/moderation/moderationitem/?status__exact=pending",
        "admin/moderation/moderationitem/change_list.html",
    ),
    admin_page(
        "item",
        "/admin/moderation/moderationitem/{item.pk}/change/",
        "admin/moderation/moderationitem/change_form.html",
    ),
    admin_page(
        "bulk-decide",
        "/admin/moderation/moderationitem/",
        "admin/moderation/moderationitem/bulk_decide.html",
        steps=run_admin_action("reject_selected", rows=2, wait_for=".bulk-decision-form"),
    ),
    admin_page(
        "screening-rules",
        "/admin/moderation/screeningrule/",
        "admin/moderation/screeningrule/change_list.html",
    ),
    admin_page(
        "try-rules",
        "/admin/moderation/screeningrule/try/",
        "admin/moderation/screeningrule/try_rules.html",
    ),
    admin_page(
        "try-rules-hits",
        "/admin/moderation/screeningrule/try/",
        "admin/moderation/screeningrule/try_rules.html",
        steps=try_rules_with_hits,
    ),
    admin_page("reports", "/admin/moderation/report/", None),
    admin_page("report", "/admin/moderation/report/{report.pk}/change/", None),
    admin_page(
        "suspend-writer",
        "/admin/moderation/report/",
        "admin/moderation/report/suspend_writer.html",
        steps=run_admin_action("suspend_target_writer", rows=1, wait_for="textarea[name=reason]"),
    ),
    admin_page("no-contact-orders", "/admin/moderation/nocontactorder/", None),
    admin_page("no-contact-order-new", "/admin/moderation/nocontactorder/add/", None),
    admin_page("protection-requests", "/admin/moderation/protectionrequest/", None),
    admin_page("letters", "/admin/messaging/letter/", "messaging/admin/letter_change_list.html"),
    admin_page(
        "upload-postal-reply",
        "/admin/messaging/letter/upload-postal-reply/",
        "messaging/admin/upload_postal_reply.html",
    ),
    admin_page(
        "letter",
        "/admin/messaging/letter/{printed.pk}/change/",
        "messaging/admin/letter_change_form.html",
    ),
    admin_page(
        "record-return",
        "/admin/messaging/letter/{printed.pk}/record-return/",
        "messaging/admin/record_return.html",
    ),
    admin_page(
        "scan-runs",
        "/admin/messaging/scanrun/",
        "messaging/liaison/scan_run_admin_change_list.html",
    ),
    admin_page(
        "scan-run-upload",
        "/admin/messaging/scanrun/upload/",
        "messaging/liaison/scan_run_admin_upload.html",
    ),
    admin_page("scan-run", "/admin/messaging/scanrun/{run.pk}/change/", None),
]

# What a moderator who is not a superuser sees: history without private facts.
MODERATOR_PAGES = [
    admin_page(
        "queue",
        "/admin/moderation/moderationitem/",
        "admin/moderation/moderationitem/change_list.html",
    ),
    admin_page(
        "item",
        "/admin/moderation/moderationitem/{item.pk}/change/",
        "admin/moderation/moderationitem/change_form.html",
    ),
    admin_page(
        "item-history",
        "/admin/moderation/moderationitem/{item.pk}/history/",
        "admin/privacy_object_history.html",
    ),
    admin_page(
        "profile-history",
        "/admin/profiles/inmateprofile/{profile.pk}/history/",
        "admin/privacy_object_history.html",
    ),
    # A reply's scans: its page with OCR's hits, blacking out a region, its transcription.
    admin_page(
        "reply-item",
        "/admin/moderation/moderationitem/{reply_item.pk}/change/",
        "admin/moderation/includes/reply_scans.html",
    ),
    admin_page(
        "redact-page",
        "/admin/messaging/letter/scans/{scan.pk}/redact/?item={reply_item.pk}",
        "admin/moderation/moderationitem/redact_page.html",
    ),
    admin_page(
        "transcription",
        "/admin/messaging/letter/{reply.pk}/transcription/?item={reply_item.pk}",
        "admin/moderation/moderationitem/transcription_page.html",
    ),
]


# --- Templates that are not pages ---------------------------------------------------------

# Under an includes/ or email/ folder, or named with a leading underscore: a
# part of a page or an email, never walked on its own. The others here are
# listed with the reason they are not walked.
NOT_WALKED = {
    "base.html": "the layout every site page extends",
    "allauth/layouts/base.html": "the layout allauth's pages extend (walked through them)",
    "errors/standalone.html": "the layout of the 500 and 503 pages",
    "profiles/liaison/layout.html": "the layout the liaison portal's pages extend",
    "admin/moderation/moderationitem/queue_filter.html": "a filter panel of the queue (walked there)",
    "admin/search_form.html": "the search box of the admin's lists (walked on the queue)",
    "400.html": "rendered only for a request too large to read (tests/penpals)",
    "500.html": "rendered only when a view fails (tests/faults)",
    "503.html": "rendered only when the database is down (tests/faults)",
    "messaging/liaison/return_letter_facts.html": (
        "which letter came back, on the return pages (walked through them)"
    ),
}


# allauth's own pages, overridden here: each is rendered by allauth's views,
# and the lists above walk them by URL (log in, sign up, password reset,
# reauthentication, two-factor and email settings) with `template` None.
ALLAUTH_FOLDERS = {"account", "mfa", "socialaccount", "allauth"}


def is_part_of_a_page(template: str) -> bool:
    parts = template.split("/")
    return (
        parts[0] in ALLAUTH_FOLDERS
        or bool({"includes", "email"} & set(parts[:-1]))
        or parts[-1].startswith("_")
        or not template.endswith(".html")
    )


ROLES = {
    "visitor": VISITOR_PAGES,
    "staff-without-mfa": STAFF_WITHOUT_MFA_PAGES,
    "pen-pal": PEN_PAL_PAGES,
    "liaison": LIAISON_PAGES,
    "staff": STAFF_PAGES,
    "moderator": MODERATOR_PAGES,
}


# --- Visiting ----------------------------------------------------------------------------


@contextmanager
def recording_templates() -> Iterator[list[str]]:
    """The names of the templates rendered meanwhile (the live server runs in
    this process, and pytest-django's test environment sends the signal)."""
    names: list[str] = []

    def record(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(record, weak=False)
    try:
        yield names
    finally:
        template_rendered.disconnect(record)


def visit(page, entry: Page, world) -> None:
    """Open `entry` and take its steps; fail unless it answers its status and
    renders its template (so the page lists stay true as views change).
    A page served from the page cache renders nothing: tests/conftest.py
    clears the cache before each test, and each list visits a URL once."""
    url = entry.url.format(**vars(world))
    with recording_templates() as rendered:
        response = page.goto(url)
        assert response is not None and response.status == entry.status, (
            f"{entry.label} ({url}): {response.status if response else 'no response'}"
        )
        if entry.steps:
            entry.steps(page)
    if entry.template:
        assert entry.template in rendered, f"{entry.label} ({url}) rendered {rendered}"
