"""The Content Security Policy stops injected script in a real browser.

A profile bio and a letter hold a payload that would run if it reached the
page as markup: an inline <script> and an <img> whose onerror handler fires
(its src is a missing page). Chromium opens the pages that show them:

1. as served, the payload is text on the page and nothing runs;
2. with the escaping undone in flight (as if a template forgot it), the
   policy still stops both, and Chromium reports each violation;
3. the same undone page without the policy header does run the payload: the
   check in 1 and 2 would catch a script that ran.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils.html import escape

from tests.factories import CorrespondenceFactory, InmateProfileFactory, LetterFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PAYLOAD = '<script>window.__pwned = "script"</script><img src="missing" onerror="window.__pwned = \'onerror\'">'
# Runs before the page's own scripts (Playwright injects it outside the page's
# policy): every violation Chromium reports is kept for the test to read.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push({directive: event.effectiveDirective, sample: event.sample});
});
"""
WAIT_MS = 10_000


@pytest.fixture
def profile(transactional_db):
    return InmateProfileFactory.published(display_name="Marcus", bio=f"Hello. {PAYLOAD} Bye.")


@pytest.fixture
def thread_url(page, live_server, alice, profile) -> str:
    """A thread whose letter holds the payload, in a browser logged in as its writer."""
    correspondence = CorrespondenceFactory(pen_pal=alice, profile=profile)
    LetterFactory(correspondence=correspondence, body=f"Dear Marcus,\n{PAYLOAD}\nAlice")
    client = Client()
    client.force_login(alice)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return f"/letters/{correspondence.pk}/"


def pwned(page) -> str | None:
    return page.evaluate("window.__pwned === undefined ? null : String(window.__pwned)")


def undo_escaping(page, url: str, *, keep_policy: bool) -> None:
    """Serve `url` as the server sends it, with the payload's escaping undone
    and, unless `keep_policy`, the Content-Security-Policy header dropped."""

    def handle(route) -> None:
        response = route.fetch()
        body = response.text()
        assert escape(PAYLOAD) in body, "the payload is not on the page to be unescaped"
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() != "content-length"
            and (keep_policy or name.lower() != "content-security-policy")
        }
        route.fulfill(
            response=response, body=body.replace(escape(PAYLOAD), PAYLOAD), headers=headers
        )

    page.route(re.compile(re.escape(url) + r"(\?.*)?$"), handle)


def test_the_served_pages_show_the_payload_as_text_and_run_nothing(page, profile, thread_url):
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(f"/inmates/{profile.slug}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert PAYLOAD in page.locator(".profile-bio").inner_text()
    assert pwned(page) is None
    assert page.locator(".profile-bio img").count() == 0

    page.goto(thread_url)
    assert PAYLOAD in page.locator("main").inner_text()
    assert pwned(page) is None
    assert page.locator("main script, main img[onerror]").count() == 0


@pytest.mark.parametrize("which", ["profile", "thread"])
def test_the_policy_blocks_the_payload_even_when_escaping_fails(page, profile, thread_url, which):
    url = f"/inmates/{profile.slug}/" if which == "profile" else thread_url
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    undo_escaping(page, url, keep_policy=True)
    page.goto(url)
    # The markup is live now: an element, not text.
    assert page.locator("main img[onerror]").count() == 1
    # The inline script is refused while parsing; the handler when the image fails.
    page.wait_for_function(
        "new Set(window.__violations.map((v) => v.directive)).size >= 2", timeout=WAIT_MS
    )
    directives = {v["directive"] for v in page.evaluate("window.__violations")}
    assert directives == {"script-src-elem", "script-src-attr"}
    assert pwned(page) is None
    assert any("Content Security Policy" in text for text in console)


def test_without_the_policy_the_same_payload_runs(page, profile):
    """The control: proves the checks above would see a script that ran."""
    url = f"/inmates/{profile.slug}/"
    undo_escaping(page, url, keep_policy=False)
    page.goto(url)
    page.wait_for_function("window.__pwned === 'onerror'", timeout=WAIT_MS)
    assert pwned(page) == "onerror"
