"""Every page template at 1280x800, 1024x768 and 375x812, checked for what a
person can see and reach:

- no horizontal overflow: the document is no wider than the viewport;
- every visible form control and button lies inside the page horizontally and
  takes a normal click (Playwright's actionability checks, by a trial click
  that checks without acting: visible, stable, enabled, not covered);
- no text column narrower than a readable width that breaks words mid-word.

The pages and their data come from tests/browser/pages.py (shared with the
axe-core checks). Admin pages must be fully usable from 1024 px wide; on a
phone they are photographed but not checked. Each page is loaded once and
resized; a screenshot of each page at each size goes to SCREENSHOTS (git
ignores it) so a person can look at them. Each test reports every failure of
its role at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import pages

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

SIZES = [(1280, 800), (1024, 768), (375, 812)]
PHONE_WIDTH = 375
# Narrower than this, a column of text holds a word or two per line.
READABLE_WIDTH = 120
# How long a trial click may wait for a control to become clickable.
CLICK_TIMEOUT_MS = 1_000

CONTROLS = (
    "input:not([type=hidden]), select, textarea, button, [role=button], a.button, "
    "input[type=submit]"
)

# Runs in the page: the document's width, the visible controls outside the
# page horizontally, and narrow blocks of text whose words break mid-word.
MEASURE_JS = """([controlsSelector, readableWidth]) => {
    const root = document.documentElement;
    const viewportWidth = root.clientWidth;
    const describe = (element) => {
        const name = (element.getAttribute("aria-label") || element.innerText
                      || element.value || element.name || "").trim().replace(/\\s+/g, " ");
        const id = element.id ? "#" + element.id : "";
        const classes = typeof element.className === "string" && element.className.trim()
            ? "." + element.className.trim().split(/\\s+/).join(".") : "";
        return `<${element.tagName.toLowerCase()}${id}${classes}> "${name.slice(0, 40)}"`;
    };
    const isShown = (element) => {
        const rect = element.getBoundingClientRect();
        // 1 px boxes are visually hidden on purpose (labels for screen readers).
        if (rect.width <= 1 || rect.height <= 1) return false;
        // False inside a closed <details> (content-visibility) and under display: none.
        return element.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true});
    };
    const outside = [];
    let shown = 0;
    for (const element of document.querySelectorAll(controlsSelector)) {
        delete element.dataset.layoutCheck;
        if (!isShown(element)) continue;
        // Marks the controls a person can see, for the trial clicks.
        element.dataset.layoutCheck = String(shown++);
        const rect = element.getBoundingClientRect();
        const left = rect.left + window.scrollX;
        const right = rect.right + window.scrollX;
        if (left < -1 || right > viewportWidth + 1) {
            outside.push(`${describe(element)} spans x=${Math.round(left)}..${Math.round(right)}`);
        }
    }
    // A word is broken when its letters lie on more than one line.
    const blockOf = (element) => {
        while (element && getComputedStyle(element).display.startsWith("inline")) {
            element = element.parentElement;
        }
        return element;
    };
    const narrow = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const block = blockOf(node.parentElement);
        if (!block || narrow.has(block) || !isShown(block)) continue;
        const width = block.getBoundingClientRect().width;
        if (width >= readableWidth) continue;
        // Hyphens and slashes are places a word may wrap; they split words here.
        for (const match of node.data.matchAll(/[^\\s\\-\\u2010-\\u2014\\/]+/g)) {
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            const tops = new Set([...range.getClientRects()]
                .filter(rect => rect.width > 0).map(rect => Math.round(rect.top)));
            if (tops.size > 1) {
                narrow.add(block);
                break;
            }
        }
    }
    return {
        scrollWidth: root.scrollWidth,
        viewportWidth,
        outside,
        narrow: [...narrow].map(block =>
            `${describe(block)} is ${Math.round(block.getBoundingClientRect().width)} px wide`),
    };
}"""


@dataclass
class LayoutCheck:
    """The failures found on the pages one test visits."""

    role: str
    failures: list[str] = field(default_factory=list)

    def check(self, page, entry: pages.Page, size: tuple[int, int]) -> None:
        width, height = size
        where = f"{self.role}/{entry.label} at {width}x{height} ({page.url})"
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        self.photograph(page, entry, size)
        if entry.is_admin and width <= PHONE_WIDTH:
            return
        measured = page.evaluate(MEASURE_JS, [CONTROLS, READABLE_WIDTH])
        if measured["scrollWidth"] > measured["viewportWidth"]:
            self.failures.append(
                f"{where}: the page is {measured['scrollWidth']} px wide, the window "
                f"{measured['viewportWidth']} px (it scrolls sideways)"
            )
        for control in measured["outside"]:
            self.failures.append(f"{where}: outside the page: {control}")
        for block in measured["narrow"]:
            self.failures.append(f"{where}: words broken in a narrow column: {block}")
        for control in page.locator("[data-layout-check]").all():
            self.check_clickable(control, where)
        page.evaluate("window.scrollTo(0, 0)")

    def check_clickable(self, control, where: str) -> None:
        try:
            if control.is_disabled():
                return
            control.click(trial=True, timeout=CLICK_TIMEOUT_MS)
        except PlaywrightError as error:
            summary = control.evaluate(
                "element => element.outerHTML.slice(0, 120)", timeout=CLICK_TIMEOUT_MS
            )
            reason = next(
                (line.strip() for line in str(error).splitlines() if "intercepts" in line),
                str(error).splitlines()[0],
            )
            self.failures.append(f"{where}: not clickable: {summary} ({reason})")

    def photograph(self, page, entry: pages.Page, size: tuple[int, int]) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.role}-{entry.label}-{size[0]}x{size[1]}.png"
        page.screenshot(path=path, full_page=True)

    def walk(self, page, entries: list[pages.Page], world) -> None:
        for entry in entries:
            pages.visit(page, entry, world)
            for size in SIZES:
                self.check(page, entry, size)

    def assert_clean(self) -> None:
        assert not self.failures, (
            f"{len(self.failures)} layout failures (screenshots in {SCREENSHOTS}):\n"
            + "\n".join(self.failures)
        )


@pytest.fixture
def new_page(browser, live_server):
    """Opens a page in a fresh browser context (its own cookies), closed after the test."""
    contexts = []

    def open_page():
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def test_it_walks_every_page_template():
    """A template under templates/ is either walked by the browser checks or
    listed as not a page, with the reason."""
    walked = {entry.template for entries in pages.ROLES.values() for entry in entries}
    templates = {
        path.relative_to(TEMPLATES).as_posix() for path in TEMPLATES.rglob("*") if path.is_file()
    }
    full_pages = {name for name in templates if not pages.is_part_of_a_page(name)}
    missing = full_pages - walked - set(pages.NOT_WALKED)
    assert not missing, f"page templates no browser check visits: {sorted(missing)}"
    stale = (walked | set(pages.NOT_WALKED)) - templates - {None}
    assert not stale, f"listed templates that no longer exist: {sorted(stale)}"


def test_it_finds_overflow_hidden_controls_and_broken_words(page, live_server):
    """The check fails on a page that scrolls sideways, a button off the page
    or under another element, and a narrow column breaking words."""
    page.goto("/about/")
    page.evaluate(
        """() => {
            const main = document.querySelector("main");
            const wide = document.createElement("button");
            wide.textContent = "Far right";
            wide.style.cssText = "position: relative; left: 1400px";
            const covered = document.createElement("button");
            covered.textContent = "Covered";
            const cover = document.createElement("div");
            cover.style.cssText = "position: fixed; inset: 0; z-index: 10";
            const column = document.createElement("p");
            column.style.cssText = "width: 60px";
            column.textContent = "Correspondence acknowledgement";
            main.append(wide, covered, column);
            document.body.append(cover);
        }"""
    )
    layout = LayoutCheck(role="self-test")
    layout.check(page, pages.Page("about-broken", "/about/", None), (1280, 800))
    found = "\n".join(layout.failures)
    assert "scrolls sideways" in found
    assert 'outside the page: <button> "Far right"' in found
    assert "not clickable" in found and "Covered" in found
    assert "words broken in a narrow column: <p>" in found


def test_public_pages_fit_every_size(page, live_server):
    layout = LayoutCheck(role="visitor")
    layout.walk(page, pages.VISITOR_PAGES, pages.set_up_visitor())

    world = pages.set_up_staff_without_mfa()
    pages.log_in_staff_without_mfa(page, world)
    layout.role = "staff-without-mfa"
    layout.walk(page, pages.STAFF_WITHOUT_MFA_PAGES, world)
    layout.assert_clean()


def test_pen_pal_pages_fit_every_size(page, live_server):
    world = pages.set_up_pen_pal()
    pages.log_in_pen_pal(page, world)
    layout = LayoutCheck(role="pen-pal")
    layout.walk(page, pages.PEN_PAL_PAGES, world)
    layout.assert_clean()


def test_liaison_portal_pages_fit_every_size(new_page):
    world = pages.set_up_liaison()
    page = new_page()
    pages.log_in_liaison(page, world)
    layout = LayoutCheck(role="liaison")
    layout.walk(page, pages.LIAISON_PAGES, world)
    layout.assert_clean()


def test_admin_pages_we_customised_fit_1024_and_up(new_page, default_screening_rules):
    world = pages.set_up_staff()
    page = new_page()
    pages.log_in_staff(page, world)
    layout = LayoutCheck(role="staff")
    layout.walk(page, pages.STAFF_PAGES, world)

    page = new_page()
    pages.log_in_moderator(page, world)
    layout.role = "moderator"
    layout.walk(page, pages.MODERATOR_PAGES, world)
    layout.assert_clean()
