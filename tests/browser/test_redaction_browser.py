"""A moderator reads a scanned reply's highlights and blacks out a region of
its page, in a real browser, on a phone, a laptop and a desktop.

The moderator signs in with TOTP, opens the reply's item, sees the hits OCR
found drawn on the page image (on their words at every width), drags a
rectangle over the page with the mouse (static/js/redact.js fills in the
form), presses "Redact", and the copy the pen pal will get has black pixels
there and nowhere else it should not.
"""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import expect

from messaging.models import LetterScan
from moderation.models import ModerationItem
from tests.browser.test_profile_flow import log_in
from tests.factories import ModeratorFactory, activate_totp
from tests.messaging.test_redaction import BACKGROUND, reply_in_review

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PAGE_SIZE = (800, 600)
# Where OCR read "cash app": pixels of the 800 × 600 page image, so 50 % in,
# 20 % down, 20 % wide and 10 % high.
HIT_BOX = [400, 120, 160, 60]
HIT_PERCENT = (0.5, 0.2, 0.2, 0.1)
# The region dragged over the page, in fractions of it: from (20 %, 40 %) to (60 %, 70 %).
DRAG_FROM, DRAG_TO = (0.2, 0.4), (0.6, 0.7)
SIZES = {"phone": (375, 812), "laptop": (1024, 768), "desktop": (1280, 800)}


def reply_with_a_hit():
    letter = reply_in_review(
        machine_transcription="Dear Robin, do you use cash app? Write soon.",
        ocr={1: {"text": "", "mean_confidence": 64.0, "languages": ["en", "es"], "words": []}},
        size=PAGE_SIZE,
    )
    scan = letter.scans.get()
    letter.screening = {
        **letter.screening,
        "ocr_hits": [
            {
                "scan": scan.pk,
                "page": 1,
                "category": "money",
                "rule": "Payment apps",
                "match": "cash app",
                "confidence": 58.0,
                "boxes": [HIT_BOX],
            }
        ],
    }
    letter.save(update_fields=["screening"])
    return letter, scan


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_a_moderator_sees_the_highlights_and_drags_a_region_to_black_out(page, size):
    letter, scan = reply_with_a_hit()
    item = ModerationItem.objects.for_object(letter).get()
    moderator = ModeratorFactory(email=f"moderator.redact.{size}@example.org")
    secret = activate_totp(moderator)
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    item_url = reverse("admin:moderation_moderationitem_change", args=[item.pk])
    log_in(page, moderator.email, next_url=item_url, totp_secret=secret)

    # 1. The page image, with the hit's box where OCR read its words.
    canvas = page.locator("#scan-page-1 .scan-canvas")
    image = canvas.locator("img")
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    box = canvas.locator(".scan-hit rect").first
    expect(box).to_be_visible()
    shown, drawn = image.bounding_box(), box.bounding_box()
    assert shown and drawn
    expected = (
        shown["x"] + HIT_PERCENT[0] * shown["width"],
        shown["y"] + HIT_PERCENT[1] * shown["height"],
        HIT_PERCENT[2] * shown["width"],
        HIT_PERCENT[3] * shown["height"],
    )
    # The stroke is drawn on the rectangle's edge: half of it lies outside.
    actual = (drawn["x"], drawn["y"], drawn["width"], drawn["height"])
    for got, wanted in zip(actual, expected, strict=True):
        assert abs(got - wanted) <= 2.5, (size, actual, expected)
    expect(canvas.locator(".scan-hit text").first).to_have_text("1. Money request · OCR 58%")
    expect(page.locator("#scan-page-1 .scan-hits li").first).to_contain_text("cash app")
    expect(page.locator("#scan-page-1 .scan-confidence")).to_have_text(
        "OCR's mean confidence on this page: 64%"
    )

    # 2. A real drag with the mouse fills in the form.
    shown = image.bounding_box()
    assert shown
    start = (
        shown["x"] + DRAG_FROM[0] * shown["width"],
        shown["y"] + DRAG_FROM[1] * shown["height"],
    )
    end = (shown["x"] + DRAG_TO[0] * shown["width"], shown["y"] + DRAG_TO[1] * shown["height"])
    assert end[1] < height, "the region must be on screen to drag it"
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    form = page.locator(f"#redact-form-{scan.pk}")
    expect(canvas.locator(".scan-selection")).to_be_visible()
    filled = [
        float(form.get_by_label(label).input_value())
        for label in (
            "From the left edge (%)",
            "From the top edge (%)",
            "Width (%)",
            "Height (%)",
        )
    ]
    wanted_percent = [20, 40, 40, 30]
    for got, wanted in zip(filled, wanted_percent, strict=True):
        assert abs(got - wanted) <= 1.0, (size, filled)
    expect(form.locator(".redact-status")).to_contain_text("Region marked:")

    # 3. "Redact", a normal button: back on the item, the region blacked out.
    form.get_by_role("button", name="Redact", exact=True).click()
    page.wait_for_url(re.compile(re.escape(item_url) + r"#scan-page-1$"))
    expect(page.locator("ul.messagelist li.success")).to_contain_text(
        "Region blacked out on page 1."
    )
    expect(page.locator("#scan-page-1 .scan-redaction")).to_have_count(1)

    scan = LetterScan.objects.get(pk=scan.pk)
    [region] = scan.redactions
    for got, wanted in zip(region, (0.2, 0.4, 0.4, 0.3), strict=True):
        assert abs(got - wanted) <= 0.01, (size, region)

    # 4. What the pen pal will get: black inside the region, the page elsewhere.
    link = page.get_by_role("link", name="See the page as the pen pal will get it")
    expect(link).to_be_visible()
    response = page.request.get(link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "image/png"
    redacted = Image.open(io.BytesIO(response.body())).convert("RGB")
    assert redacted.size == PAGE_SIZE
    page_width, page_height = PAGE_SIZE
    for fx, fy in [(0.25, 0.45), (0.4, 0.55), (0.55, 0.65)]:
        assert redacted.getpixel((int(fx * page_width), int(fy * page_height))) == (0, 0, 0)
    # Outside the region the page is as it was (paper colour at its margin).
    assert redacted.getpixel((5, 5)) == BACKGROUND
    assert redacted.getpixel((page_width - 5, page_height - 5)) == BACKGROUND
