"""A liaison lists a person; after approval a visitor finds them; a pen pal saves them.

Photo processing runs on the real Celery worker; approval is done directly
through the moderation service (the admin workspace is its own issue).
"""

from __future__ import annotations

import re
import time

import pytest

from moderation.models import ModerationItem
from moderation.services import current_version, do_decide
from profiles.models import InmateProfile, ProfilePhoto
from tests.factories import (
    MINIMAL_PDF,
    PASSWORD,
    FacilityFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
    image_bytes,
    totp_code,
)

# The real worker lives in the "worker" group's test process; the browser comes along.
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.xdist_group("worker")]

PASSWORD_LABEL = re.compile(r"^Password:?$")


def log_in(page, email: str, *, next_url: str, totp_secret: str | None = None) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    if totp_secret:
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.get_by_label(re.compile(r"^Code")).fill(totp_code(totp_secret))
        page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def wait_for(condition, *, seconds: float = 90, what: str) -> None:
    # A ceiling, not a speed target: the worker loads the screening models on
    # its first letter, which takes long on a busy two-core machine.
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_it_takes_a_profile_from_the_liaison_to_a_pen_pals_favourites(
    browser, live_server, celery_worker_process, tmp_path
):
    facility = FacilityFactory(name="Lakeside Women's Facility", slug="lakeside", state="MI")
    liaison = LiaisonFactory(facility=facility, user__email="liaison.e2e@example.org").user
    secret = activate_totp(liaison)

    liaison_context = browser.new_context(base_url=live_server.url)
    page = liaison_context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, liaison.email, next_url="/liaison/lakeside/", totp_secret=secret)

    page.get_by_role("link", name="New profile").first.click()
    page.get_by_label("Display name").fill("Marisol")
    page.get_by_label("Legal name").fill("Marisol Quintana-Private")
    page.get_by_label("Inmate number").fill("MI-48213")
    page.get_by_label("Date of birth").fill("1988-04-02")
    page.get_by_label("Gender").select_option("female")
    page.get_by_label("Bio").fill(
        "I paint watercolour birds and read every mystery novel I can find."
    )
    page.get_by_label("Interests").fill("painting, mysteries")
    page.get_by_label("Friendship").check()
    page.get_by_label("English").check()
    page.get_by_role("button", name="Create draft profile").click()
    page.wait_for_url(re.compile(r"/liaison/profiles/\d+/$"))
    profile = InmateProfile.objects.get(inmate_number="MI-48213")

    # Submitting before the consent form is confirmed is refused.
    page.get_by_role("button", name="Submit for review").click()
    assert page.get_by_text(re.compile("consent form")).first.is_visible()
    assert InmateProfile.objects.get(pk=profile.pk).status == InmateProfile.Status.DRAFT

    photo_path = tmp_path / "marisol.jpg"
    photo_path.write_bytes(image_bytes("JPEG", size=(640, 800)))
    page.get_by_role("link", name="Upload photos").click()
    page.get_by_label("Photos").set_input_files(str(photo_path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(rf"/liaison/profiles/{profile.pk}/$"))

    consent_path = tmp_path / "consent.pdf"
    consent_path.write_bytes(MINIMAL_PDF)
    page.get_by_role("link", name="Upload consent form").click()
    page.get_by_label("Signed consent form").set_input_files(str(consent_path))
    page.get_by_label(re.compile("I confirm this form is signed")).check()
    page.get_by_role("button", name="Upload and confirm").click()
    page.wait_for_url(re.compile(rf"/liaison/profiles/{profile.pk}/$"))
    page.get_by_role("button", name="Submit for review").click()
    wait_for(
        lambda: (
            InmateProfile.objects.get(pk=profile.pk).status == InmateProfile.Status.PENDING_REVIEW
        ),
        what="the profile to be submitted",
    )
    liaison_context.close()

    # The real worker processes the photo and puts it in the queue.
    wait_for(
        lambda: ProfilePhoto.objects.filter(
            profile=profile, status=ProfilePhoto.Status.READY
        ).exists(),
        what="the worker to process the photo",
    )
    moderator = ModeratorFactory()
    for item in ModerationItem.objects.pending().order_by("kind"):
        do_decide(item.pk, moderator, approve=True, seen_version=current_version(item))
    profile.refresh_from_db()
    assert profile.status == InmateProfile.Status.PUBLISHED
    assert profile.primary_photo is not None

    # A visitor finds her by search and filters, and opens her profile.
    visitor = browser.new_context(base_url=live_server.url).new_page()
    visitor.goto("/inmates/")
    visitor.get_by_label("Search profiles").fill("watercolour")
    visitor.get_by_label("Writes in").select_option("en")
    visitor.get_by_label("Looking for").select_option("friendship")
    visitor.get_by_label("Has a photo").check()
    visitor.get_by_role("button", name="Show profiles").click()
    visitor.wait_for_url(re.compile(r"q=watercolour"))
    visitor.get_by_role("link", name=re.compile("Marisol")).first.click()
    visitor.wait_for_url(re.compile(rf"/inmates/{profile.slug}/$"))
    body = visitor.content()
    assert "watercolour birds" in body
    assert "Lakeside Women" in body
    for private in ("Quintana-Private", "MI-48213", "1988"):
        assert private not in body
    visitor.context.close()

    # A pen pal saves her to favourites.
    pen_pal = PenPalFactory(email="penpal.e2e@example.org")
    pen_pal_page = browser.new_context(base_url=live_server.url).new_page()
    log_in(pen_pal_page, pen_pal.email, next_url=f"/inmates/{profile.slug}/")
    pen_pal_page.get_by_role("button", name="Save", exact=True).click()
    pen_pal_page.wait_for_url(re.compile(rf"/inmates/{profile.slug}/$"))
    pen_pal_page.goto("/inmates/saved/")
    assert pen_pal_page.get_by_role("link", name=re.compile("Marisol")).first.is_visible()
    assert pen_pal.favorites.filter(profile=profile).exists()
    pen_pal_page.context.close()
