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
    "Dear Dolores, things are hard out here. Please put me on your cash app list "
    "and call me at 614-555-0199 when you can."
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

    # 3. Reject it with a reason from the list and a note for the writer.
    decision = page.locator("form.decision-form")
    decision.get_by_role("radio", name="Reject").check()
    reason = decision.get_by_label("Reason (for a rejection)")
    assert "Money request" in reason.locator("option").all_inner_texts()
    reason.select_option(label="Money request")
    decision.get_by_label("Note").fill(NOTE)
    decision.get_by_role("button", name="Record decision").click()
    page.wait_for_url(re.compile(r"/admin/moderation/moderationitem/(\?.*)?$"))
    assert "rejected" in page.locator("ul.messagelist li.success").inner_text()
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
