"""Keyboard-only walk-throughs in Chromium: Tab, Shift+Tab, Enter and Space, and
typing into whatever has focus; never a mouse click or a fill by selector.

At every Tab stop the focused element must show a focus indicator (an outline
or a box shadow) and be on screen: a keyboard user who cannot see where they
are cannot use the page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from messaging.models import Letter, PrintBatch
from tests.factories import (
    PASSWORD,
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
    screen_and_decide,
    totp_code,
    write_letter,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# What has focus, and whether a sighted keyboard user can see that it has.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== "" && style.boxShadow !== "none";
  const rect = el.getBoundingClientRect();
  const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
  return {
    tag: el.tagName.toLowerCase(),
    type: el.type || "",
    name: el.name || "",
    text: (el.getAttribute("aria-label") || label || el.innerText || el.value || "").trim(),
    indicator: outline || shadow,
    onScreen: rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.right > 0,
  };
}"""

MAX_TABS = 60


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def assert_focus_visible(page) -> dict:
    """The focused element shows an indicator and is on screen, allowing for a
    short CSS transition (the skip link slides in over 0.15 s)."""
    try:
        page.wait_for_function(
            f"() => {{ const el = ({FOCUSED})(); return el && el.indicator && el.onScreen; }}",
            timeout=2_000,
        )
    except PlaywrightTimeoutError:
        element = focused(page)
        pytest.fail(f"focus is not visible at {page.url}: {element}")
    return focused(page)


def tab_to(page, matches, *, what: str) -> dict:
    """Press Tab until the focused element `matches` (a predicate on FOCUSED's
    dict), checking the focus indicator at every stop on the way."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        element = assert_focus_visible(page)
        if matches(element):
            return element
    pytest.fail(f"{what} not reached in {MAX_TABS} Tab presses on {page.url}")


def named(pattern: str):
    return lambda element: re.search(pattern, element["text"]) is not None


def field(name: str):
    return lambda element: element["name"] == name


def press_and_wait(page, key: str, url_pattern: str) -> None:
    with page.expect_navigation(url=re.compile(url_pattern)):
        page.keyboard.press(key)


def sign_in_by_keyboard(page, email: str, *, totp_secret: str | None = None) -> None:
    """On the login page: email, password, Log in; then the TOTP code if asked."""
    page.wait_for_url(re.compile(r"/accounts/login/"))
    tab_to(page, field("login"), what="the email field")
    page.keyboard.type(email)
    tab_to(page, field("password"), what="the password field")
    page.keyboard.type(PASSWORD)
    tab_to(page, named(r"^Log in$"), what="the Log in button")
    if totp_secret is None:
        with page.expect_navigation():
            page.keyboard.press("Enter")
        return
    press_and_wait(page, "Enter", r"/accounts/2fa/authenticate/")
    tab_to(page, field("code"), what="the code field")
    page.keyboard.type(totp_code(totp_secret))
    with page.expect_navigation():
        page.keyboard.press("Enter")  # submits the form from the field


def test_a_pen_pal_writes_a_letter_with_the_keyboard_alone(page, live_server):
    profile = InmateProfileFactory.published(display_name="Dolores")
    pen_pal = PenPalFactory(email="keys@example.org")

    page.goto(f"/inmates/{profile.slug}/")
    # The skip link comes first and takes focus to the content.
    skip = tab_to(page, named("Skip to main content"), what="the skip link")
    assert skip["tag"] == "a"
    page.keyboard.press("Enter")
    tab_to(page, named(r"^Write a letter$"), what="the Write a letter link")
    press_and_wait(page, "Enter", r"/accounts/login/")

    sign_in_by_keyboard(page, pen_pal.email)
    page.wait_for_url(re.compile(rf"/letters/write/{profile.slug}/$"))
    tab_to(page, field("body"), what="the letter box")
    page.keyboard.type("Dear Dolores, I loved your story about the library.")
    tab_to(page, named(r"^Send letter$"), what="the Send letter button")
    press_and_wait(page, "Enter", r"/letters/\d+/$")

    letter = Letter.objects.get(created_by=pen_pal)
    assert letter.body == "Dear Dolores, I loved your story about the library."
    assert letter.correspondence.profile == profile
    assert page.get_by_text("Dear Dolores, I loved your story").first.is_visible()


def test_a_liaison_prints_a_batch_with_the_keyboard_alone(page, live_server):
    profile = InmateProfileFactory.published(display_name="Benito")
    facility = profile.facility
    liaison = LiaisonFactory(facility=facility).user
    secret = activate_totp(liaison)
    moderator = ModeratorFactory()
    first = screen_and_decide(write_letter(PenPalFactory(), profile, "First letter."), moderator)
    second = screen_and_decide(write_letter(PenPalFactory(), profile, "Second one."), moderator)
    queue_url = f"/liaison/letters/{facility.slug}/queue/"

    page.goto(f"/accounts/login/?next={queue_url}")
    sign_in_by_keyboard(page, liaison.email, totp_secret=secret)
    page.wait_for_url(re.compile(re.escape(queue_url) + "$"))

    # Tick only the first letter (Space), then "Print selected" (Enter).
    code = first.correspondence.code
    tab_to(page, named(re.escape(code)), what="the first letter's checkbox")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked") is True
    tab_to(page, named(r"^Print selected$"), what="the Print selected button")
    press_and_wait(page, "Enter", rf"/liaison/letters/{facility.slug}/batches/\d+/$")

    batch = PrintBatch.objects.get(facility=facility)
    assert list(batch.letters.values_list("pk", flat=True)) == [first.pk]
    second.refresh_from_db()
    assert second.status == Letter.Status.APPROVED  # not selected, still in the queue

    # Open the print view and come back, then mark the batch delivered (Space).
    tab_to(page, named(r"^Print view$"), what="the Print view link")
    press_and_wait(page, "Enter", rf"/batches/{batch.pk}/print/$")
    assert code in page.content()
    page.go_back()
    page.wait_for_url(re.compile(rf"/batches/{batch.pk}/$"))
    tab_to(page, named(r"^Mark all delivered$"), what="the Mark all delivered button")
    with page.expect_navigation():
        page.keyboard.press("Space")
    first.refresh_from_db()
    assert first.status == Letter.Status.DELIVERED


def test_the_focus_check_fails_without_an_indicator(page, live_server):
    """The check above is only worth something if it can fail."""
    page.goto("/about/")
    tab_to(page, named("Skip to main content"), what="the skip link")
    # CSSOM changes are not inline style markup: the CSP allows them.
    page.evaluate("document.activeElement.style.outline = 'none'")
    assert focused(page)["indicator"] is False
    with pytest.raises(pytest.fail.Exception, match="focus is not visible"):
        assert_focus_visible(page)
