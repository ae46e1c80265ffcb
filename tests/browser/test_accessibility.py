"""axe-core on every page template: public, pen pal, liaison portal and the admin
pages we customised. No "serious" or "critical" violation is allowed; the
others are printed (`pytest -s`) so they can be worked down.

axe-core comes from the npm registry, pinned in package-lock.json and installed
by `ensure_node_modules` (scripts/lib.sh). Each test visits every page of one
role (the lists in tests/browser/pages.py, shared with the layout check) and
reports the violations of all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import pytest

from messaging import printing
from tests.browser import pages
from tests.browser.pages import visit

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


def walk(page, audit: Audit, entries, world, *, exclude: tuple[str, ...] = ()) -> None:
    for entry in entries:
        visit(page, entry, world)
        audit.check(page, label=entry.label, exclude=exclude if entry.is_admin else ())


def test_public_pages_have_no_serious_violations(page, live_server, audit):
    walk(page, audit, pages.VISITOR_PAGES, pages.set_up_visitor())

    world = pages.set_up_staff_without_mfa()
    pages.log_in_staff_without_mfa(page, world)
    walk(page, audit, pages.STAFF_WITHOUT_MFA_PAGES, world)
    audit.assert_clean()


def test_pen_pal_pages_have_no_serious_violations(page, live_server, audit):
    world = pages.set_up_pen_pal()
    pages.log_in_pen_pal(page, world)
    walk(page, audit, pages.PEN_PAL_PAGES, world)
    audit.assert_clean()


def test_liaison_portal_pages_have_no_serious_violations(browser, live_server, audit):
    world = pages.set_up_liaison()
    page = new_page(browser, live_server)
    pages.log_in_liaison(
        page, world, on_second_factor=lambda page: audit.check(page, label="two-factor code page")
    )
    walk(page, audit, pages.LIAISON_PAGES, world)

    # The PDF pending page has no meta refresh (it moved screen readers to the
    # top every few seconds); its script starts the download once the PDF exists.
    pending = next(entry for entry in pages.LIAISON_PAGES if entry.label == "pdf-pending")
    pages.visit(page, pending, world)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert printing.render_and_store_batch_pdf(world.batch.pk) == "rendered"
    with page.expect_download(timeout=20_000) as download_info:
        pass
    assert download_info.value.suggested_filename == f"batch-{world.batch.pk}.pdf"
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
    world = pages.set_up_staff()
    page = new_page(browser, live_server)
    pages.log_in_staff(page, world)
    walk(page, audit, pages.STAFF_PAGES, world, exclude=ADMIN_EXCLUDE)

    page = new_page(browser, live_server)
    pages.log_in_moderator(page, world)
    walk(page, audit, pages.MODERATOR_PAGES, world, exclude=ADMIN_EXCLUDE)
    audit.assert_clean()
