"""The whole letter loop in a real browser, with screening and email on the real worker:

pen pal writes → the worker screens it → a moderator approves it in the admin →
the liaison prints the batch and marks it delivered → the liaison uploads a
scanned reply → a moderator approves it → the pen pal gets the email and reads
the reply (and its scan) in the inbox.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from messaging.models import Letter, Notification
from moderation.models import ModerationItem
from tests.browser.test_profile_flow import log_in, wait_for
from tests.factories import (
    InmateProfileFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
    image_bytes,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.xdist_group("worker")]


def approve_in_admin(page, item: ModerationItem) -> None:
    page.goto(f"/admin/moderation/moderationitem/{item.pk}/change/")
    page.locator("form.decision-form").get_by_role(
        "button", name="Approve and go to next item"
    ).click()
    # The only item in the queue: approving it leads back to the (empty) queue.
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/(\?.*)?$"))


def pending_item_for(letter: Letter) -> ModerationItem:
    wait_for(
        lambda: ModerationItem.objects.for_object(letter).pending().exists(),
        what="the worker to screen the letter",
    )
    return ModerationItem.objects.for_object(letter).pending().get()


def test_a_letter_goes_out_and_a_reply_comes_back(
    browser, live_server, celery_worker_process, default_screening_rules, tmp_path
):
    profile = InmateProfileFactory.published(
        display_name="Dolores",
        legal_name="Dolores Private-Legalname",
        inmate_number="OH-55120",
        facility__slug="northgate",
        facility__name="Northgate Correctional",
    )
    facility = profile.facility
    pen_pal = PenPalFactory(email="writer.e2e@example.org", display_name="Robin")
    liaison = LiaisonFactory(facility=facility, user__email="liaison.loop@example.org").user
    liaison_secret = activate_totp(liaison)
    moderator = ModeratorFactory(email="moderator.loop@example.org")
    moderator_secret = activate_totp(moderator)

    # 1. The pen pal writes from the profile page.
    writer = browser.new_context(base_url=live_server.url).new_page()
    log_in(writer, pen_pal.email, next_url=f"/inmates/{profile.slug}/")
    writer.get_by_role("link", name="Write a letter").click()
    writer.wait_for_url(re.compile(rf"/letters/write/{profile.slug}/$"))
    assert "White paper only." in writer.content()  # the facility's mail rules
    writer.get_by_label("Your letter").fill(
        "Dear Dolores, I loved your story about the library. What are you reading now?"
    )
    writer.get_by_role("button", name="Send letter").click()
    writer.wait_for_url(re.compile(r"/letters/\d+/$"))
    letter = Letter.objects.get(created_by=pen_pal)

    # 2. The worker screens it; a moderator approves it in the admin.
    item = pending_item_for(letter)
    staff = browser.new_context(base_url=live_server.url).new_page()
    log_in(
        staff,
        moderator.email,
        next_url="/admin/moderation/moderationitem/",
        totp_secret=moderator_secret,
    )
    approve_in_admin(staff, item)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.APPROVED

    # 3. The liaison prints it and marks the batch delivered.
    portal = browser.new_context(base_url=live_server.url).new_page()
    log_in(
        portal,
        liaison.email,
        next_url=f"/liaison/letters/{facility.slug}/queue/",
        totp_secret=liaison_secret,
    )
    assert letter.correspondence.code in portal.content()
    portal.get_by_role("button", name=re.compile("^Print all")).click()
    portal.wait_for_url(re.compile(rf"/liaison/letters/{facility.slug}/batches/\d+/$"))
    portal.get_by_role("link", name="Print view").click()
    printed = portal.content()
    # Addressed with the legal name and number; the pen pal only by display name.
    assert "Dolores Private-Legalname" in printed and "OH-55120" in printed
    assert letter.correspondence.code in printed and "Robin" in printed
    assert pen_pal.email not in printed
    portal.go_back()
    portal.get_by_role("button", name="Mark all delivered").click()
    wait_for(
        lambda: Letter.objects.get(pk=letter.pk).status == Letter.Status.DELIVERED,
        what="the letter to be marked delivered",
    )

    # 4. The liaison uploads the scanned reply against the correspondence code.
    scan_path = tmp_path / "reply.png"
    scan_path.write_bytes(image_bytes("PNG", size=(600, 800)))
    portal.goto(f"/liaison/letters/{facility.slug}/replies/new/")
    portal.get_by_label("Reply reference").fill(letter.correspondence.code.lower())
    portal.get_by_label("Scanned pages").set_input_files(str(scan_path))
    portal.get_by_label("Transcription (optional)").fill("Thank you Robin! I am reading Dune.")
    portal.get_by_role("button", name="Upload the reply").click()
    wait_for(
        lambda: Letter.objects.filter(direction=Letter.Direction.INBOUND).exists(),
        what="the reply to be saved",
    )
    reply = Letter.objects.get(direction=Letter.Direction.INBOUND)

    # 5. The reply is screened and approved like any letter.
    approve_in_admin(staff, pending_item_for(reply))

    # 6. The pen pal gets the email (from the worker, through the outbox)...
    wait_for(
        lambda: Notification.objects.filter(
            recipient=pen_pal, kind="reply_received", state="sent"
        ).exists(),
        what="the worker to send the reply email",
    )
    mail = "".join(
        path.read_text(errors="replace")
        for path in sorted(Path(settings.EMAIL_FILE_PATH).glob("*"))
    )
    assert "writer.e2e@example.org" in mail
    assert "Dune" not in mail  # never the letter's text

    # ... and reads the reply and its scan in the inbox.
    writer.goto("/letters/")
    writer.get_by_role("link", name=re.compile("Dolores")).first.click()
    writer.wait_for_url(re.compile(rf"/letters/{letter.correspondence_id}/$"))
    assert "I am reading Dune." in writer.content()
    scan = reply.scans.get()
    image = writer.locator(f'img[src="/letters/scan/{scan.pk}/"]')
    wait_for(
        lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"),
        what="the scan to load",
    )
    reply.refresh_from_db()
    assert reply.status == Letter.Status.READ
