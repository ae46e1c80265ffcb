"""What people see on their first run: a liaison from login to the portal with
one password prompt, the header of each role on a phone and a laptop, and a
report made from a profile."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from moderation.models import Report
from tests.factories import (
    PASSWORD,
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
    totp_code,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD_LABEL = re.compile(r"^Password:?$")
PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1280, "height": 800}


def log_in(page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_it_takes_a_liaison_from_login_to_the_portal_asking_for_the_password_once(page):
    liaison = LiaisonFactory(facility__name="Lakeside", user__email="new.liaison@example.org")
    visited = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))

    page.goto("/accounts/login/")
    log_in(page, liaison.user.email)

    # Straight to the TOTP setup: no "Confirm access" in between.
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    assert not any("/reauthenticate/" in url for url in visited), visited
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()

    page.wait_for_url(re.compile(r"/accounts/2fa/recovery-codes/$"))
    on = page.get_by_role("link", name="I have saved my codes: continue")
    download = page.get_by_role("link", name="Download codes")
    generate = page.get_by_role("link", name="Generate new codes")
    boxes = [link.bounding_box() for link in (on, download, generate)]
    for left, right in zip(boxes, boxes[1:], strict=False):
        apart = left["x"] + left["width"] < right["x"] or left["y"] + left["height"] < right["y"]
        assert apart, f"buttons run together: {boxes}"
    on.click()

    page.wait_for_url(re.compile(r"/liaison/"))
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert not any("/reauthenticate/" in url for url in visited), visited


def sign_in_as(page, live_server, user) -> None:
    """Start the browser signed in as `user` (a session made by Django's test client)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def people() -> dict:
    moderator = ModeratorFactory(email="mod.header@example.org")
    activate_totp(moderator)
    liaison = LiaisonFactory(user__email="liaison.header@example.org").user
    activate_totp(liaison)
    return {
        "visitor": (None, ["Log in", "Sign up"], ["Letters", "Liaison portal", "Staff admin"]),
        "pen pal": (
            PenPalFactory(email="pal.header@example.org"),
            ["Letters", "Saved", "My account"],
            ["Liaison portal", "Staff admin", "Log in"],
        ),
        "liaison": (liaison, ["Liaison portal", "My account"], ["Letters", "Saved", "Staff admin"]),
        "staff": (moderator, ["Staff admin", "My account"], ["Letters", "Saved", "Liaison portal"]),
    }


def test_it_shows_each_role_its_own_places_in_a_compact_header(page, live_server):
    for role, (user, shown, hidden) in people().items():
        page.context.clear_cookies()
        if user is not None:
            sign_in_as(page, live_server, user)

        page.set_viewport_size(LAPTOP)
        page.goto("/safety/")
        nav = page.get_by_role("navigation", name="Main")
        for name in shown:
            assert nav.get_by_role("link", name=name, exact=True).is_visible(), (role, name)
        for name in hidden:
            assert nav.get_by_role("link", name=name, exact=True).count() == 0, (role, name)
        assert not page.get_by_text("Menu", exact=True).is_visible()
        assert page.locator(".site-header").bounding_box()["height"] <= 100

        page.set_viewport_size(PHONE)
        page.goto("/safety/")
        header = page.locator(".site-header").bounding_box()
        assert header["height"] <= 0.2 * PHONE["height"], (role, header)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.get_by_text("Menu", exact=True).click()
        nav = page.get_by_role("navigation", name="Main")
        for name in shown:
            assert nav.get_by_role("link", name=name, exact=True).is_visible(), (role, name)
        for name in hidden:
            assert nav.get_by_role("link", name=name, exact=True).count() == 0, (role, name)
        # The first place of the role is reached with a normal click from the menu.
        nav.get_by_role("link", name=shown[0], exact=True).click()
        page.wait_for_load_state()
        assert "/safety/" not in page.url, role


def test_it_works_the_phone_menu_without_javascript(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport=PHONE
    )
    page = context.new_page()
    page.goto("/")
    page.get_by_text("Menu", exact=True).click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    context.close()


def test_it_lets_a_visitor_log_in_and_report_a_profile_from_the_profile(page, live_server):
    PenPalFactory(email="reporter@example.org")
    profile = InmateProfileFactory.published(display_name="Marcus Q.")

    page.goto(f"/inmates/{profile.slug}/")
    page.get_by_role("link", name="Report this profile").click()
    # A visitor is asked to log in, with the way back, or pointed to protection.
    assert page.get_by_role("link", name="ask that they never be able to contact you").is_visible()
    page.get_by_role("link", name="Log in to report").click()
    log_in(page, "reporter@example.org")

    page.wait_for_url(re.compile(rf"/inmates/{profile.slug}/report/$"))
    page.get_by_label("Asks for money or gifts").check()
    page.get_by_label(re.compile("Anything else")).fill("He asked me for a money transfer.")
    page.get_by_role("button", name="Send report").click()

    page.wait_for_url(re.compile(rf"/inmates/{profile.slug}/$"))
    assert page.get_by_text("Thank you. The Penpals team will look at this profile").is_visible()
    report = Report.objects.get()
    assert report.target == profile
    assert report.details == "He asked me for a money transfer."
