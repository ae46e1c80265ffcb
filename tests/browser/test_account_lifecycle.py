"""A new visitor signs up, verifies, logs in, edits, exports, and deletes the account."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail

from penpals.models import User

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD = "a-long-and-unusual-passphrase-42"
PASSWORD_LABEL = re.compile(r"^Password:?$")


def test_it_takes_a_visitor_from_sign_up_to_account_deletion(page, live_server):
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()

    page.get_by_label("Email").fill("newcomer@example.org")
    page.get_by_label("Display name").fill("New Friend")
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label(re.compile(r"^Password \(again\)")).fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert page.get_by_role("heading", name="Verify your email address").is_visible()

    # Unverified: login is refused until the link in the email is opened.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newcomer@example.org"]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill("newcomer@example.org")
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    # A new writer with no letters yet starts in the directory.
    page.wait_for_url(re.compile(r"/inmates/$"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My account").click()
    page.get_by_label("Display name").fill("Pat")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_text("Your settings were saved.").is_visible()
    assert page.get_by_label("Display name").input_value() == "Pat"

    # Exporting personal data asks for the password again first, then the
    # person is back on the settings page while the file downloads.
    page.get_by_role("link", name="Download my data").click()
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/account/settings/\?export=ready$"))
    assert page.get_by_text("Your data is downloading").is_visible()
    assert page.get_by_role("heading", name="Account settings").is_visible()
    export = json.loads(open(download_info.value.path()).read())
    assert export["penpals"]["email"] == "newcomer@example.org"
    assert export["penpals"]["display_name"] == "Pat"

    page.goto("/account/settings/")
    page.get_by_role("link", name="Delete my account").click()
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_text("Your account was deleted.").is_visible()
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").is_visible()
    )

    user = User.objects.get(display_name="", deleted_at__isnull=False)
    assert not user.is_active
    assert not User.objects.filter(email="newcomer@example.org").exists()


def test_it_does_not_run_injected_inline_script(page, live_server):
    """The Content Security Policy blocks inline script even if markup slipped through."""
    page.goto("/")
    violations = []
    page.on("console", lambda msg: violations.append(msg.text))
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.__injected = true';
            document.body.appendChild(s);
        }"""
    )
    assert page.evaluate("() => window.__injected === true") is False
    assert any("Content Security Policy" in text for text in violations)
