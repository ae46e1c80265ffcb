"""axe-core on every page template: public, pen pal, liaison portal and the admin
pages we customised. No "serious" or "critical" violation is allowed; the
others are printed (`pytest -s`) so they can be worked down.

axe-core comes from the npm registry, pinned in package-lock.json and installed
by `ensure_node_modules` (scripts/lib.sh). Each test visits every page of one
role and reports the violations of all of them at once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from messaging import printing
from messaging.models import PrintBatch
from messaging.services import check_create_print_batch, screen_letter
from moderation.models import ModerationItem, Report
from moderation.reports import check_report
from tests.browser.test_profile_flow import PASSWORD_LABEL, log_in
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

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# A URL the site never serves: the test browser answers it (see inject_axe).
AXE_URL_PATH = "/__test__/axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}


@dataclass
class Audit:
    """The violations found on the pages one test visits."""

    blocking: list[str] = field(default_factory=list)
    pages: int = 0

    def check(self, page, *, label: str, exclude: tuple[str, ...] = (), skip_rules=()) -> None:
        """Run axe on the page as it is now. `exclude` (CSS selectors) and
        `skip_rules` are for markup that Django's admin owns, not us: each use
        says why."""
        inject_axe(page)
        results = page.evaluate(
            """([exclude, skipRules]) => axe.run(
                {include: [document], exclude: exclude.map(selector => [selector])},
                {resultTypes: ["violations"],
                 rules: Object.fromEntries(skipRules.map(rule => [rule, {enabled: false}]))}
            )""",
            [list(exclude), list(skip_rules)],
        )
        self.pages += 1
        for violation in results["violations"]:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
            line = (
                f"{label} ({page.url}): [{violation['impact']}] {violation['id']}: "
                f"{violation['help']} -> {targets[:5]}"
            )
            print(line)
            if violation["impact"] in BLOCKING_IMPACTS:
                # The first node's summary says what to fix (contrast ratio, missing name...).
                self.blocking.append(f"{line}\n    {violation['nodes'][0]['failureSummary']}")

    def visit(self, page, url: str, *, label: str | None = None, status: int = 200, **kwargs):
        response = page.goto(url)
        assert response is not None and response.status == status, (
            f"{url}: {response.status if response else 'no response'}"
        )
        self.check(page, label=label or url, **kwargs)

    def assert_clean(self) -> None:
        assert not self.blocking, (
            f"{len(self.blocking)} serious or critical accessibility violations:\n"
            + "\n".join(self.blocking)
        )


def inject_axe(page) -> None:
    """Load axe into the page as a same-origin script.

    The CSP (script-src 'self') blocks the inline script that
    `add_script_tag(path=...)` writes, and bypassing the CSP would also let
    through inline styles the real site never gets. So the page loads axe from
    its own origin, and the test browser answers that one URL from node_modules.
    """
    if not AXE_JS.exists():
        pytest.fail("axe-core is missing: run `make test` (it runs npm ci) first.")
    if not getattr(page, "_axe_routed", False):
        page.route(
            f"**{AXE_URL_PATH}",
            lambda route: route.fulfill(path=AXE_JS, content_type="text/javascript"),
        )
        page._axe_routed = True
    page.add_script_tag(url=urljoin(page.url, AXE_URL_PATH))


@pytest.fixture
def audit() -> Audit:
    return Audit()


def new_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    return context.new_page()


def test_axe_runs_under_the_real_content_security_policy(page, live_server):
    """The pages keep their CSP in these tests: inline script is refused, and
    axe still loads (from the page's own origin)."""
    response = page.goto("/about/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    with pytest.raises(Exception, match="Content Security Policy"):
        page.add_script_tag(content="window.inlineRan = true;")
    assert page.evaluate("window.inlineRan") is None
    inject_axe(page)
    assert page.evaluate("typeof axe.run") == "function"

    # And it finds a violation when there is one: a button with no name.
    page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    audit = Audit()
    audit.check(page, label="about with a nameless button")
    assert any("button-name" in line for line in audit.blocking)


def test_public_pages_have_no_serious_violations(page, live_server, audit):
    profile = InmateProfileFactory.published(display_name="Marisol")
    add_public_photo(profile)
    InmateProfileFactory.published(display_name="Terrence", facility=profile.facility)

    for url in ["/", "/inmates/", "/inmates/?q=chess", "/about/", "/safety/", "/privacy/",
                "/terms/", "/safety/request/", "/accounts/login/", "/accounts/signup/",
                "/accounts/password/reset/"]:  # fmt: skip
        audit.visit(page, url)
    audit.visit(page, f"/inmates/{profile.slug}/")
    audit.visit(page, "/no-such-page/", label="404 page", status=404)

    # Forms shown again with their errors.
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label(PASSWORD_LABEL).fill("wrong-password")
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_selector(".form-errors, .errorlist, [role=alert]")
    audit.check(page, label="login with errors")
    page.goto("/safety/request/")
    page.locator("main form [type=submit]").last.click()
    page.wait_for_load_state()
    audit.check(page, label="protection request with errors")

    page.goto("/accounts/password/reset/")
    page.get_by_label(re.compile("Email")).fill("nobody@example.org")
    page.locator("main form [type=submit]").last.click()
    page.wait_for_url(re.compile(r"/accounts/password/reset/done/$"))
    audit.check(page, label="password reset sent")

    # A form posted without its CSRF cookie: the 403 page for that case.
    page.goto("/accounts/login/")
    page.context.clear_cookies()
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label(PASSWORD_LABEL).fill("wrong-password")
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_selector("text=Error 403")
    audit.check(page, label="403 CSRF page")

    # The plain 403 page: staff without MFA may not open a scan.
    moderator = ModeratorFactory()
    log_in(page, moderator.email, next_url="/")
    audit.visit(page, "/letters/scan/1/", label="403 page", status=403)
    audit.assert_clean()


def test_pen_pal_pages_have_no_serious_violations(page, live_server, audit):
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
    log_in(page, pen_pal.email, next_url="/letters/")
    audit.check(page, label="inbox")

    page.goto(f"/inmates/{profile.slug}/")
    page.get_by_role("button", name=re.compile("Save")).first.click()
    page.wait_for_load_state()
    for url in [
        f"/inmates/{profile.slug}/",
        "/inmates/saved/",
        f"/letters/{letter.correspondence_id}/",
        f"/letters/write/{other.slug}/",
        f"/letters/letter/{reply.pk}/report/",
        "/account/settings/",
        "/account/delete/",
    ]:
        audit.visit(page, url)

    # A letter sent empty comes back with its error.
    page.goto(f"/letters/write/{other.slug}/")
    page.get_by_role("button", name="Send letter").click()
    page.wait_for_load_state()
    audit.check(page, label="write with errors")

    # Exporting asks for the password first (allauth's reauthentication page).
    page.goto("/account/export/")
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    audit.check(page, label="reauthenticate")
    audit.visit(page, "/accounts/2fa/", label="two-factor settings")
    audit.visit(page, "/accounts/email/", label="email addresses")
    audit.visit(page, "/accounts/password/change/", label="password change")
    audit.assert_clean()


def test_liaison_portal_pages_have_no_serious_violations(browser, live_server, audit):
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

    page = new_page(browser, live_server)
    page.goto("/accounts/login/?next=/liaison/")
    page.get_by_label("Email").fill(liaison.email)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    audit.check(page, label="two-factor code page")
    page.get_by_label(re.compile(r"^Code")).fill(totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/liaison/$"))
    audit.check(page, label="choose facility")

    for url in [
        "/liaison/northgate/",
        "/liaison/northgate/profiles/",
        "/liaison/northgate/profiles/new/",
        f"/liaison/profiles/{draft.pk}/",
        f"/liaison/profiles/{draft.pk}/edit/",
        f"/liaison/profiles/{draft.pk}/photos/",
        f"/liaison/profiles/{draft.pk}/consent/",
        f"/liaison/profiles/{published.pk}/",
        f"/liaison/profiles/{published.pk}/status/",
        "/liaison/northgate/import/",
        "/liaison/northgate/activity/",
        "/liaison/letters/northgate/queue/",
        "/liaison/letters/northgate/batches/",
        f"/liaison/letters/northgate/batches/{batch.pk}/",
        f"/liaison/letters/northgate/batches/{batch.pk}/print/",
        "/liaison/letters/northgate/replies/",
        "/liaison/letters/northgate/replies/new/",
        f"/liaison/safety/profiles/{published.pk}/no-contact/",
    ]:
        audit.visit(page, url)
    audit.visit(
        page, f"/liaison/letters/northgate/batches/{batch.pk}/pdf/", label="PDF pending", status=202
    )
    # The pending page has no meta refresh (it moved screen readers to the top
    # every few seconds); its script starts the download once the PDF exists.
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert printing.render_and_store_batch_pdf(batch.pk) == "rendered"
    with page.expect_download(timeout=20_000) as download_info:
        pass
    assert download_info.value.suggested_filename == f"batch-{batch.pk}.pdf"

    # Forms shown again with their errors.
    page.goto("/liaison/northgate/profiles/new/")
    page.get_by_role("button", name="Create draft profile").click()
    page.wait_for_load_state()
    audit.check(page, label="profile form with errors")
    page.goto("/liaison/letters/northgate/replies/new/")
    page.get_by_label("Reply reference").fill("NOPE-0000")
    page.locator("main form [type=submit]").last.click()
    page.wait_for_load_state()
    audit.check(page, label="reply upload with errors")
    audit.assert_clean()


# Django's own admin markup, not ours (axe 4.14 on Django 5.2's admin):
# - its changelist search box (admin/search_form.html) is labelled only by a
#   magnifier image's alt text, which axe does not count as a visible label;
# - its breadcrumbs (admin/base.html, and ours that copy its markup so the
#   admin looks the same throughout) style links by colour alone.
ADMIN_EXCLUDE = ("#searchbar", ".breadcrumbs")


def test_admin_pages_we_customised_have_no_serious_violations(
    browser, live_server, audit, default_screening_rules
):
    # A superuser in the Moderators group: the queue as moderators see it, and
    # the screening rules, which only admins may open.
    moderator = ModeratorFactory(email="staff.a11y@example.org", is_superuser=True)
    secret = activate_totp(moderator)
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

    page = new_page(browser, live_server)
    log_in(page, moderator.email, next_url="/admin/", totp_secret=secret)
    audit.check(page, label="admin index with the queue dashboard", exclude=ADMIN_EXCLUDE)
    for url in [
        "/admin/moderation/moderationitem/",
        "/admin/moderation/moderationitem/?status__exact=pending",
        f"/admin/moderation/moderationitem/{item.pk}/change/",
        "/admin/moderation/screeningrule/",
        "/admin/moderation/screeningrule/try/",
        "/admin/moderation/report/",
        f"/admin/moderation/report/{report.pk}/change/",
        "/admin/messaging/letter/",
    ]:
        audit.visit(page, url, exclude=ADMIN_EXCLUDE)

    page.goto("/admin/moderation/screeningrule/try/")
    page.locator("textarea").first.fill("Send me money on cashapp, call 555-201-3344.")
    page.locator("#content form [type=submit]").first.click()
    page.wait_for_load_state()
    audit.check(page, label="try the rules, with hits", exclude=ADMIN_EXCLUDE)

    # The bulk confirmation page: select two items, choose the action, Go.
    page.goto("/admin/moderation/moderationitem/")
    for checkbox in page.locator("input.action-select").all()[:2]:
        checkbox.check()
    page.locator("select[name=action]").select_option("reject_selected")
    page.locator("button[name=index]").click()
    page.wait_for_selector(".bulk-decision-form")
    audit.check(page, label="bulk confirmation", exclude=ADMIN_EXCLUDE)
    audit.assert_clean()
