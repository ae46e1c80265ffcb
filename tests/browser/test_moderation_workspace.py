"""A moderator's shift in the admin workspace, in a real browser.

The moderator signs in with TOTP, finds a flagged letter at the top of the
queue, reads its highlighted hits and rejects it with a reason and a note,
then bulk-approves three clean letters through the confirmation page; the
writer of the rejected letter reads the reason and the note in the thread.

Letters are written and screened through the real services (in-process,
without a worker), so the hits come from the default screening rules.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from messaging.models import Letter
from messaging.services import screen_letter
from moderation.models import ModerationDecision, ModerationItem
from tests.browser.test_profile_flow import log_in
from tests.factories import (
    InmateProfileFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
    write_letter,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

QUEUE_URL = "/admin/moderation/moderationitem/"
FLAGGED_BODY = (
    "Dear Dolores, things are hard out here. Do you use cash app? I could use a friend. "
    "Call me at 614-555-0199 when you can."
)
CLEAN_BODIES = [
    "Dear Dolores, the garden is full of tomatoes this year. What do you grow inside?",
    "Hello Marcus, I finished the chess book you mentioned. The endgame chapter is great.",
    "Hi Theo, thank you for the drawing of the lighthouse. It hangs above my desk now.",
]
# Clean and pending too, but left out of the selection: a bulk action must not reach it.
UNSELECTED_BODY = "Hi Theo, my sister says hello. We watched the geese fly south on Sunday."
NOTE = "Please don't ask for money or share phone numbers; write about your days instead."


def written_and_screened(pen_pal, profile, body: str) -> Letter:
    letter = write_letter(pen_pal, profile, body)
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    return letter


def queue_row(page, body: str):
    # The preview shows the start of the letter: its first words pick the row.
    return page.locator("#result_list tbody tr", has_text=body[:40])


def test_a_moderator_rejects_a_flagged_letter_and_bulk_approves_clean_ones(
    browser, page, live_server, default_screening_rules
):
    dolores = InmateProfileFactory.published(display_name="Dolores")
    marcus = InmateProfileFactory.published(display_name="Marcus")
    theo = InmateProfileFactory.published(display_name="Theo")
    robin = PenPalFactory(email="robin.workspace@example.org", display_name="Robin")
    sam = PenPalFactory(email="sam.workspace@example.org", display_name="Sam")

    # The clean letters are older: only the risk ordering can put the flagged one first.
    clean = [
        written_and_screened(sam, profile, body)
        for profile, body in zip([dolores, marcus, theo], CLEAN_BODIES, strict=True)
    ]
    unselected = written_and_screened(sam, theo, UNSELECTED_BODY)
    flagged = written_and_screened(robin, dolores, FLAGGED_BODY)
    assert {"money", "contact"} <= set(flagged.screening["categories"])
    assert all(not letter.screening["hits"] for letter in [*clean, unselected])

    moderator = ModeratorFactory(email="moderator.workspace@example.org")
    secret = activate_totp(moderator)
    log_in(page, moderator.email, next_url=QUEUE_URL, totp_secret=secret)

    # 1. The queue: the flagged letter first, with its flag chips.
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 5
    top = rows.first
    assert FLAGGED_BODY[:40] in top.inner_text()
    chips = [chip.lower() for chip in top.locator(".queue-flag").all_inner_texts()]
    assert any("money" in chip for chip in chips), chips
    assert any("contact" in chip for chip in chips), chips
    # The preview highlights the flagged words too.
    assert "cash app" in top.locator(".queue-preview mark").all_inner_texts()

    # 2. The item page: every hit highlighted and labelled with its category.
    top.get_by_role("link", name=re.compile("Letter out")).click()
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/\d+/change/$"))
    marks = page.locator("mark.screening-hit")
    marked = marks.all_inner_texts()
    assert "cash app" in [text.lower() for text in marked], marked
    assert any("614-555-0199" in text for text in marked), marked
    assert page.locator("mark.screening-money", has_text=re.compile("cash app", re.I)).count()
    assert page.locator("mark.screening-contact", has_text="614-555-0199").count()
    labels = [label.lower() for label in page.locator(".screening-label").all_inner_texts()]
    assert any(label.startswith("money") for label in labels), labels
    assert any(label.startswith("contact") for label in labels), labels

    # 3. Reject it with a reason from the list and a note for the writer; the
    # next item opens, and the message says what was decided.
    decision = page.locator("form.decision-form")
    decision.get_by_role("radio", name=re.compile("Money request")).check()
    decision.get_by_label("Note").fill(NOTE)
    decision.get_by_role("button", name="Reject and go to next item").click()
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/\d+/change/\?from=\d+$"))
    assert (
        page.locator("ul.messagelist li.success").inner_text()
        == "Letter to Dolores rejected: Money request."
    )
    page.get_by_role("link", name="Back to the queue").click()
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/(\?.*)?$"))
    assert queue_row(page, FLAGGED_BODY).count() == 0  # out of the pending queue

    flagged.refresh_from_db()
    assert (flagged.status, flagged.rejection_reason, flagged.rejection_note) == (
        Letter.Status.REJECTED,
        "money",
        NOTE,
    )
    flagged_item = ModerationItem.objects.for_object(flagged).get()
    assert list(
        flagged_item.decisions.values_list("moderator", "status", "reason_code", "note")
    ) == [(moderator.pk, ModerationItem.Status.REJECTED, "money", NOTE)]

    # 4. Bulk approval of three clean letters, through the confirmation page.
    for letter in clean:
        queue_row(page, letter.body).get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option(label="Approve selected items…")
    page.get_by_role("button", name="Go", exact=True).click()
    assert page.get_by_role("heading", name="Approve these items?").is_visible()
    listed = page.locator("ul.bulk-items li").all_inner_texts()
    assert len(listed) == 3, listed
    for letter in clean:
        assert any(letter.body[:40] in line for line in listed), listed
    assert not any(UNSELECTED_BODY[:40] in line for line in listed), listed
    # Nothing is decided before the moderator confirms.
    assert not Letter.objects.filter(status=Letter.Status.APPROVED).exists()

    page.get_by_role("button", name="Yes, approve 3").click()
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/(\?.*)?$"))
    assert page.locator("ul.messagelist li.success").inner_text() == "Approved 3 item(s)."
    assert page.locator("#result_list tbody tr").count() == 1
    assert queue_row(page, UNSELECTED_BODY).count() == 1

    for letter in clean:
        letter.refresh_from_db()
        assert letter.status == Letter.Status.APPROVED
        item = ModerationItem.objects.for_object(letter).get()
        assert (item.status, item.decided_by_id) == (ModerationItem.Status.APPROVED, moderator.pk)
    assert (
        ModerationDecision.objects.filter(
            item__object_id__in=[letter.pk for letter in clean],
            item__kind=ModerationItem.Kind.LETTER_OUT,
            moderator=moderator,
            status=ModerationItem.Status.APPROVED,
        ).count()
        == 3
    )
    unselected.refresh_from_db()
    assert unselected.status == Letter.Status.IN_REVIEW
    assert ModerationDecision.objects.count() == 4  # one rejection, three approvals

    # 5. The writer of the rejected letter reads why, in plain words, with the note.
    writer = browser.new_context(base_url=live_server.url)
    writer.set_default_timeout(15_000)
    try:
        thread = writer.new_page()
        thread_url = f"/letters/{flagged.correspondence_id}/"
        log_in(thread, robin.email, next_url=thread_url)
        progress = thread.locator(".letter-progress").inner_text()
        assert "Not delivered" in progress
        assert "did not pass this letter on because of: Money request." in progress
        assert NOTE in thread.locator("blockquote.moderator-note").inner_text()
    finally:
        writer.close()


# --- Keyboard only, mouse only ----------------------------------------------------------


def three_items(liaison):
    """A flagged letter to Dolores (first by risk), a new profile of Marcus with
    its consent form, a clean letter to Theo; the clean items in that order."""
    from profiles.services import do_submit_profile
    from tests.profiles.test_liaison_portal import with_consent

    dolores = InmateProfileFactory.published(display_name="Dolores")
    theo = InmateProfileFactory.published(display_name="Theo")
    robin = PenPalFactory(email="robin.keys@example.org", display_name="Robin")
    flagged = written_and_screened(robin, dolores, FLAGGED_BODY)
    facility = liaison.facility_memberships.get().facility
    marcus = with_consent(
        InmateProfileFactory(facility=facility, display_name="Marcus", bio="I like chess."),
        liaison,
    )
    do_submit_profile(liaison, marcus)
    clean = written_and_screened(robin, theo, CLEAN_BODIES[2])
    return flagged, marcus, clean


def signed_in_moderator(page, width: int, height: int):
    moderator = ModeratorFactory(email="moderator.keys@example.org", display_name="Kim")
    secret = activate_totp(moderator)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, moderator.email, next_url=QUEUE_URL, totp_secret=secret)
    return moderator


def success_message(page) -> str:
    return page.locator("ul.messagelist li.success").inner_text()


def test_it_decides_items_with_the_keyboard_only(page, default_screening_rules, liaison):
    flagged, marcus, clean = three_items(liaison)
    signed_in_moderator(page, 1280, 800)
    h1 = page.locator("#content h1")

    # The admin focuses the queue's search box: Esc leaves it, N opens the top item.
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/change/$"))
    assert h1.inner_text() == "Letter to Dolores"
    assert "A approve" in page.locator("#decision-keys").inner_text()

    # A flagged letter: R, the reason's number, Enter. What the keys say comes
    # from the page (its data-*-text attributes), in the page's language.
    status = page.locator("#decision-status")
    page.keyboard.press("r")
    reasons = page.locator("input[name=reason_code]").count()
    expect(status).to_have_text(
        status.get_attribute("data-reject-text").replace("{reasons}", str(reasons))
    )
    page.keyboard.press("1")
    assert "Money request" in status.inner_text()
    assert "{reason}" not in status.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?from=\d+$"))
    assert success_message(page) == "Letter to Dolores rejected: Money request."

    # A clean new profile (a versioned kind): A, Enter.
    assert h1.inner_text() == "New profile of Marcus"
    page.keyboard.press("a")
    # The next item's URL has the same shape as this one's: wait for the load.
    with page.expect_navigation(url=re.compile(r"\?from=\d+$")):
        page.keyboard.press("Enter")
    assert success_message(page) == "New profile of Marcus approved."
    assert h1.inner_text() == "Letter to Theo"

    # P goes back to what was just decided; N comes back to the open item.
    page.keyboard.press("p")
    page.wait_for_url(re.compile(r"/change/$"))
    assert h1.inner_text() == "New profile of Marcus"
    assert "This item was approved." in page.locator(".workspace-decision").inner_text()
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"\?from=\d+$"))
    assert h1.inner_text() == "Letter to Theo"

    # Escalate: E, type the note, Ctrl+Enter, Enter. The queue is then empty.
    page.keyboard.press("e")
    page.keyboard.type("Is the lighthouse a code?")
    page.keyboard.press("Control+Enter")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/(\?.*)?$"))
    assert success_message(page) == "Letter to Theo escalated to an admin."

    flagged.refresh_from_db()
    clean.refresh_from_db()
    marcus.refresh_from_db()
    assert (flagged.status, flagged.rejection_reason) == (Letter.Status.REJECTED, "money")
    assert marcus.status == marcus.Status.PUBLISHED
    assert ModerationItem.objects.for_object(clean).get().status == ModerationItem.Status.ESCALATED


def assert_inside_the_page(page, locators) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for locator in locators:
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768)])
def test_it_decides_items_with_the_mouse_only(
    page, default_screening_rules, liaison, width, height
):
    flagged, marcus, clean = three_items(liaison)
    signed_in_moderator(page, width, height)

    if width == 1280:
        # The queue: every column readable, the filters above the list.
        headers = page.locator("#result_list thead th")
        assert_inside_the_page(page, headers.all())
        preview = page.locator("#result_list th.column-preview").bounding_box()
        assert preview["width"] >= 200, preview
        for name in ("Age", "Claimed by", "Status"):
            assert page.locator("#result_list thead th", has_text=name).is_visible()
        filters = page.locator("#changelist-filter").bounding_box()
        table = page.locator("#result_list").bounding_box()
        assert filters["y"] + filters["height"] <= table["y"]

    page.get_by_role("button", name="Next item").click()
    page.wait_for_url(re.compile(r"/change/$"))
    decision = page.locator("form.decision-form")
    controls = [
        decision.get_by_role("button", name="Approve and go to next item"),
        *decision.get_by_role("radio").all(),
        decision.get_by_label("Note"),
        decision.get_by_role("button", name="Reject and go to next item"),
        decision.get_by_role("button", name="Escalate to an admin"),
    ]
    assert_inside_the_page(page, controls)
    decision.get_by_text("Contact details").click()
    decision.get_by_role("button", name="Reject and go to next item").click()
    page.wait_for_url(re.compile(r"\?from=\d+$"))
    assert success_message(page) == "Letter to Dolores rejected: Contact details."

    # With the sidebar collapsed too.
    page.locator("#toggle-nav-sidebar").click()
    decision = page.locator("form.decision-form")
    approve = decision.get_by_role("button", name="Approve and go to next item")
    assert_inside_the_page(page, [approve, decision.get_by_label("Note")])
    with page.expect_navigation(url=re.compile(r"\?from=\d+$")):
        approve.click()
    assert success_message(page) == "New profile of Marcus approved."
    page.locator("form.decision-form").get_by_role(
        "button", name="Approve and go to next item"
    ).click()
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/(\?.*)?$"))
    assert success_message(page) == "Letter to Theo approved."

    marcus.refresh_from_db()
    clean.refresh_from_db()
    assert marcus.status == marcus.Status.PUBLISHED
    assert clean.status == Letter.Status.APPROVED
