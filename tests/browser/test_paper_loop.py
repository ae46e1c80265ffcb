"""The paper path, whole, in a real browser, with the real worker, Postgres,
Redis and Tesseract:

a pen pal writes → a moderator approves → the liaison prints a batch with its
reply sheets (print view and PDF) → the sheets are written on and scanned
(devtools.scanrun: typed replies, turned, skewed, JPEG, one code torn) into
one PDF → the liaison uploads it once and watches the run being read → the
replies are matched and the torn page waits in triage, where the liaison
types its reference → a moderator sees OCR's hit outlined on the page image,
confirms the transcription and approves → the pen pal reads the scan, then
the transcription below it.

The run page, the triage page and the pen pal's thread are checked at a
phone's, a laptop's and a desktop's width on the way.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pypdfium2
import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from devtools.scanrun import (
    SCAN_DPI,
    blank_page,
    continuation_page,
    images_to_pdf,
    scan_like,
    write_on,
)
from messaging.models import Letter, LetterScan, PrintBatch, ScanPage, ScanRun
from messaging.reply_sheets import parse_reply_mark
from messaging.scanpages import QR_CODES
from moderation.models import ModerationItem
from tests.browser import pages
from tests.browser.test_layout import LayoutCheck
from tests.browser.test_profile_flow import log_in, wait_for
from tests.factories import (
    CorrespondenceFactory,
    FacilityFactory,
    InmateProfileFactory,
    LetterFactory,
    LiaisonFactory,
    ModeratorFactory,
    PenPalFactory,
    activate_totp,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.xdist_group("worker")]

SIZES = {"phone": (375, 812), "laptop": (1024, 768), "desktop": (1280, 800)}
# Ceilings, not speed targets: a loaded two-core machine renders, reads and
# OCRs slowly, and the worker does one task at a time.
WORKER_SECONDS = 300
WORKER_MS = WORKER_SECONDS * 1000

# What is written on each reply sheet (typed, so Tesseract reads it), by the
# display name of the person writing back.
FLAGGED_WORDS = "Cash App"
REPLIES = {
    "Benito": (
        "Dear Sam, thank you for your letter. The garden crew planted beans this week "
        "and I thought of your tomatoes."
    ),
    "Dolores": (
        "Dear Robin, thank you for the story about the library. Things are hard here "
        f"this month. Could you send money to my {FLAGGED_WORDS} so I can buy stamps? "
        "Write soon, Dolores."
    ),
    "Marcus": (
        "Dear Ada, your letter made my week. I am reading the book you named and I like it."
    ),
    "Luis": (
        "Querida Lena, muchas gracias por tu carta. Aquí ya hace frío y el patio está "
        "cerrado casi todas las mañanas."
    ),
}
BENITO_PAGE_TWO = (
    "The library cart comes on Fridays and I always take two novels. "
    "Write soon, your friend Benito."
)


# --- The mail run ---------------------------------------------------------------------------


def reply_sheets_in(pdf: bytes) -> dict[str, Image.Image]:
    """The reply sheets of a printed batch's PDF, as a scanner sees paper
    (greyscale at SCAN_DPI), by the reply reference their QR code carries."""
    document = pypdfium2.PdfDocument(pdf)
    sheets: dict[str, Image.Image] = {}
    try:
        for page in document:
            image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
            for barcode in zxingcpp.read_barcodes(image, formats=QR_CODES):
                mark = parse_reply_mark(barcode.text)
                if mark is not None:
                    sheets[mark.code] = image
    finally:
        document.close()
    return sheets


def scanned(image: Image.Image, rng, *, rotation: int, skew: float, tear: str = "") -> bytes:
    """`image` through a mailroom scanner (turned, skewed, blurred, noisy,
    JPEG quality 40), as the JPEG a PDF page embeds."""
    page = scan_like(image, rng, rotation=rotation, skew=skew, tear=tear or False)
    buffer = io.BytesIO()
    # Kept as the scanner left it: a second JPEG at this quality changes nothing visible.
    page.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def mail_run(sheets: dict[str, Image.Image], codes: dict[str, str]) -> bytes:
    """One PDF of the day's replies, in the order the mailroom scanned them:

    1. Benito's sheet, turned a quarter;  2. his second page (plain paper);
    3. a blank page;  4. Dolores's sheet, upside down (the money request);
    5. Marcus's sheet with its code torn;  6. Luis's sheet, in Spanish.
    """
    rng = np.random.default_rng(18)

    def sheet(name: str) -> Image.Image:
        return write_on(sheets[codes[name]], REPLIES[name], "typed", rng=rng)

    jpegs = [
        scanned(sheet("Benito"), rng, rotation=90, skew=2.0),
        scanned(continuation_page(BENITO_PAGE_TWO, "typed", rng=rng), rng, rotation=90, skew=1.0),
        scanned(blank_page(), rng, rotation=0, skew=0.5),
        scanned(sheet("Dolores"), rng, rotation=180, skew=-1.5),
        scanned(sheet("Marcus"), rng, rotation=270, skew=2.5, tear="marker"),
        scanned(sheet("Luis"), rng, rotation=0, skew=-3.0),
    ]
    return images_to_pdf(jpegs)


# --- Helpers --------------------------------------------------------------------------------


def new_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(30_000)
    return context.new_page()


def pending_item_for(letter: Letter) -> ModerationItem:
    wait_for(
        lambda: ModerationItem.objects.for_object(letter).pending().exists(),
        seconds=WORKER_SECONDS,
        what=f"the worker to read and screen letter {letter.pk}",
    )
    return ModerationItem.objects.for_object(letter).pending().get()


def open_queue_item(staff, search: str, kind: str, flags: str = "") -> None:
    """Find an item in the moderation queue by its correspondence code (its
    row showing `flags`), and open it."""
    staff.goto("/admin/moderation/moderationitem/")
    staff.locator("#searchbar").fill(search)
    staff.locator("#changelist-search").get_by_role("button", name="Search").click()
    rows = staff.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(flags)
    rows.get_by_role("link", name=kind).click()
    staff.wait_for_url(re.compile(r"/admin/moderation/moderationitem/\d+/change/"))


def check_layout(page, label: str, template: str | None, layout: LayoutCheck, keys) -> None:
    """The page at each size: no sideways scrolling, every control on the
    page and clickable (tests/browser/test_layout.py), and `keys` (locators
    of what a person came to this page for) visible within the window's width."""
    entry = pages.Page(label, page.url, template)
    for size_name, size in SIZES.items():
        layout.check(page, entry, size)
        for key in keys:
            key.scroll_into_view_if_needed()
            expect(key).to_be_visible()
            box = key.bounding_box()
            assert box is not None, (label, size_name, key)
            assert box["x"] >= -1 and box["x"] + box["width"] <= size[0] + 1, (
                label,
                size_name,
                key,
                box,
            )
    page.set_viewport_size({"width": 1280, "height": 800})


def follow_run(page) -> tuple[list[tuple[int, str]], list[dict]]:
    """Watch a run page as the worker reads the run, until it shows the
    result by itself. Returns each (bar value, status words) the page showed
    on the way, and each answer its script had from the server (the last
    one, which says the run is read, is followed at once by the reload)."""
    answers: list[dict] = []

    def record(route) -> None:
        response = route.fetch()
        answers.append(response.json())
        route.fulfill(response=response)

    status_url = re.compile(r"/scan-runs/\d+/status/$")
    page.route(status_url, record)
    box = page.locator("[data-run-status-url]")
    result = page.get_by_role("heading", name="Replies made")
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + WORKER_SECONDS
    while not result.is_visible():
        assert time.monotonic() < deadline, f"timed out waiting for the run: {seen}, {answers}"
        try:
            shown = (
                int(box.locator("progress").evaluate("bar => bar.value", timeout=1_000)),
                box.get_by_role("status").inner_text(timeout=1_000).strip(),
            )
        except PlaywrightError:
            continue  # the page reloading to show the result
        if not seen or seen[-1] != shown:
            seen.append(shown)
        time.sleep(0.1)
    page.unroute(status_url, record)
    return seen, answers


def image_loaded(image) -> None:
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()
    image.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )


def words_read(scan: LetterScan, *wanted: str) -> list[dict]:
    """The OCR words of `scan` that are `wanted`, in order (case and
    punctuation aside): one run of consecutive words."""
    bare = [re.sub(r"\W", "", word).casefold() for word in wanted]
    words = scan.ocr["words"]
    for index in range(len(words) - len(bare) + 1):
        run = words[index : index + len(bare)]
        if [re.sub(r"\W", "", word["text"]).casefold() for word in run] == bare:
            return run
    raise AssertionError(f"OCR did not read {wanted!r} on scan {scan.pk}: {scan.ocr['text']!r}")


# --- The loop -------------------------------------------------------------------------------


def test_a_batch_goes_out_on_paper_and_its_replies_come_back_in_one_run(
    browser, live_server, celery_worker_process, default_screening_rules, tmp_path
):
    # 1. A facility, its liaison and a moderator (both with MFA), four people
    #    inside and four pen pals. Three letters are approved already; Robin
    #    writes the fourth now.
    facility = FacilityFactory(name="Northgate Correctional", slug="northgate")
    liaison = LiaisonFactory(facility=facility, user__email="liaison.paper@example.org").user
    liaison_secret = activate_totp(liaison)
    moderator = ModeratorFactory(email="moderator.paper@example.org")
    moderator_secret = activate_totp(moderator)
    people = {
        name: InmateProfileFactory.published(
            facility=facility,
            display_name=name,
            languages=["es" if name == "Luis" else "en"],
        )
        for name in REPLIES
    }
    robin = PenPalFactory(email="robin.paper@example.org", display_name="Robin")
    for name, pen_pal_name in (("Benito", "Sam"), ("Marcus", "Ada"), ("Luis", "Lena")):
        LetterFactory(
            correspondence=CorrespondenceFactory(
                profile=people[name], pen_pal=PenPalFactory(display_name=pen_pal_name)
            ),
            status=Letter.Status.APPROVED,
            approved_at=timezone.now(),
            body=f"Dear {name}, how was your week? Mine was long and quiet.",
        )

    writer = new_page(browser, live_server)
    log_in(writer, robin.email, next_url=f"/inmates/{people['Dolores'].slug}/")
    writer.get_by_role("link", name="Write a letter").click()
    writer.wait_for_url(re.compile(rf"/letters/write/{people['Dolores'].slug}/$"))
    writer.get_by_label("Your letter").fill(
        "Dear Dolores, I loved your story about the library. What are you reading now?"
    )
    writer.get_by_role("button", name="Send letter").click()
    writer.wait_for_url(re.compile(r"/letters/\d+/$"))
    outbound = Letter.objects.get(created_by=robin)
    pending_item_for(outbound)

    staff = new_page(browser, live_server)
    log_in(
        staff,
        moderator.email,
        next_url="/admin/moderation/moderationitem/",
        totp_secret=moderator_secret,
    )
    open_queue_item(staff, outbound.correspondence.code, "Letter out")
    staff.locator("form.decision-form").get_by_role(
        "button", name="Approve and go to next item"
    ).click()
    wait_for(
        lambda: Letter.objects.get(pk=outbound.pk).status == Letter.Status.APPROVED,
        what="Robin's letter to be approved",
    )
    codes = {name: people[name].correspondences.get().code for name in REPLIES}

    # 2. The liaison prints the queue as one batch, with a reply sheet per letter.
    portal = new_page(browser, live_server)
    log_in(
        portal,
        liaison.email,
        next_url=f"/liaison/letters/{facility.slug}/queue/",
        totp_secret=liaison_secret,
    )
    expect(portal.locator("main")).to_contain_text("4 letters waiting.")
    portal.get_by_role("button", name="Print all").click()
    portal.wait_for_url(re.compile(rf"/liaison/letters/{facility.slug}/batches/\d+/$"))
    batch = PrintBatch.objects.get()
    assert Letter.objects.filter(print_batch=batch).count() == 4
    portal.get_by_role("link", name="Print view").click()
    sheets_shown = portal.locator("section.reply-sheet")
    expect(sheets_shown).to_have_count(4)
    shown_codes = sorted(portal.locator(".reply-sheet-code").all_inner_texts())
    assert [code.strip() for code in shown_codes] == sorted(codes.values())
    portal.go_back()
    with portal.expect_download(timeout=WORKER_MS) as download_info:
        portal.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    download.save_as(tmp_path / "batch.pdf")
    printed = (tmp_path / "batch.pdf").read_bytes()
    sheets = reply_sheets_in(printed)
    assert sorted(sheets) == sorted(codes.values()), "a reply sheet per letter, readable"

    # 3. The sheets come back written on, and the mailroom scans them in one go.
    run_path = tmp_path / "mail-run.pdf"
    run_path.write_bytes(mail_run(sheets, codes))

    # 4. One upload; the run page follows the worker by itself.
    if "/pdf/" in portal.url:
        # The PDF was still being made: the download came from the waiting page.
        portal.get_by_role("link", name=f"← Print batch {batch.pk}").click()
    portal.get_by_role("link", name="Upload a scanning run").click()
    portal.get_by_label("Files of the scanning run").set_input_files(str(run_path))
    portal.get_by_role("button", name="Upload the run").click()
    portal.wait_for_url(re.compile(rf"/liaison/letters/{facility.slug}/scan-runs/\d+/$"))
    run = ScanRun.objects.get()
    expect(portal.locator("progress")).to_be_visible()
    shown, answers = follow_run(portal)
    run.refresh_from_db()
    assert run.state == ScanRun.State.DONE, run.error
    # The page opened part way (the bar and its words), moved as the worker
    # read, and showed the result by itself once told the run was read.
    first_value, first_words = shown[0]
    assert first_value < 6 and first_words == f"Read {first_value} of 6 pages.", shown
    assert [value for value, _words in shown] == sorted(value for value, _words in shown), shown
    read_counts = [answer["pages_done"] for answer in answers]
    assert read_counts == sorted(read_counts) and read_counts[0] >= first_value, answers
    assert answers and answers[-1]["is_finished"] and answers[-1]["state"] == "done", answers
    assert (answers[-1]["pages_done"], answers[-1]["pages_total"]) == (6, 6), answers

    stats = portal.locator(".stat-grid")
    expect(stats.locator(".stat").filter(has_text="Pages read")).to_contain_text("6")
    expect(stats.locator(".stat").filter(has_text="Replies made")).to_contain_text("3")
    expect(stats.locator(".stat").filter(has_text="Pages for a person")).to_contain_text("1")
    expect(stats.locator(".stat").filter(has_text="Blank pages")).to_contain_text("1")
    replies_table = portal.locator("table").filter(has_text="Pages of the run")
    for name, page_numbers in (("Benito", "1, 2"), ("Dolores", "4"), ("Luis", "6")):
        row = replies_table.locator("tr").filter(has_text=codes[name])
        expect(row).to_contain_text(page_numbers)
        expect(row).to_contain_text(name)
    assert codes["Marcus"] not in replies_table.inner_text()
    pages_by_number = {page.number: page for page in ScanPage.objects.filter(run=run)}
    assert pages_by_number[5].state == ScanPage.State.TRIAGE
    assert pages_by_number[3].state == ScanPage.State.BLANK

    layout = LayoutCheck(role="paper-loop")
    check_layout(
        portal,
        "scan-run",
        "messaging/liaison/scan_run_detail.html",
        layout,
        [portal.get_by_role("link", name="pages to sort", exact=True)],
    )

    # 5. The torn page: the liaison reads the reference on it and types it.
    portal.get_by_role("link", name="pages to sort", exact=True).click()
    portal.wait_for_url(re.compile(rf"/liaison/letters/{facility.slug}/triage/$"))
    item = portal.locator(f"#page-{pages_by_number[5].pk}")
    image = item.get_by_role("img", name=f"Scanned page 5 of run {run.pk}")
    image_loaded(image)
    reference = item.get_by_label("Reply reference")
    put = item.get_by_role("button", name="Put in this reply")
    check_layout(portal, "triage", "messaging/liaison/triage.html", layout, [image, reference, put])
    reference.fill(codes["Marcus"].lower())
    put.click()
    expect(portal.locator(".messages")).to_contain_text(
        f"Page 5 of run {run.pk} is in the reply for {codes['Marcus']}."
    )
    expect(portal.locator("main")).to_contain_text("No pages are waiting to be sorted.")
    marcus_reply = Letter.objects.inbound().get(correspondence__profile=people["Marcus"])
    assert marcus_reply.scans.count() == 1

    # 6. The moderator opens the flagged reply: OCR's hit outlined on the page.
    reply = Letter.objects.inbound().get(correspondence__profile=people["Dolores"])
    pending_item_for(reply)
    open_queue_item(staff, codes["Dolores"], "Letter in", flags="Money request")
    scan = reply.scans.get()
    canvas = staff.locator("#scan-page-1 .scan-canvas")
    page_image = canvas.locator("img")
    image_loaded(page_image)
    hits = staff.locator("#scan-page-1 .scan-hits li")
    hit_texts = [text.casefold() for text in hits.all_inner_texts()]
    index = next(
        (number for number, text in enumerate(hit_texts) if FLAGGED_WORDS.casefold() in text),
        None,
    )
    assert index is not None, hit_texts
    expect(hits.nth(index)).to_contain_text("Money request")
    boxes = canvas.locator(".scan-hit").nth(index).locator("rect")
    expect(boxes.first).to_be_visible()
    scan.refresh_from_db()
    words = words_read(scan, *FLAGGED_WORDS.split())
    shown = page_image.bounding_box()
    assert shown
    drawn = [boxes.nth(number).bounding_box() for number in range(boxes.count())]
    page_pixels = Image.open(scan.page_image.open("rb")).convert("L")
    for word in words:
        x, y, w, h = word["box"]
        # The box OCR gave the word lies on ink (the word as written) ...
        ink = np.asarray(page_pixels.crop((x, y, x + w, y + h)))
        assert (ink < 128).mean() > 0.05, word
        # ... and the moderator's outline is drawn on it, at the image's shown size.
        expected = (
            shown["x"] + x / scan.width * shown["width"],
            shown["y"] + y / scan.height * shown["height"],
            w / scan.width * shown["width"],
            h / scan.height * shown["height"],
        )
        assert any(
            box
            and all(
                abs(got - wanted) <= 2.5
                for got, wanted in zip(
                    (box["x"], box["y"], box["width"], box["height"]), expected, strict=True
                )
            )
            for box in drawn
        ), (word, expected, drawn)
    expect(staff.locator(".machine-transcription mark").first).to_be_visible()

    # The moderator corrects what OCR misread against the page, and confirms.
    transcription = staff.get_by_label("Transcription the pen pal reads")
    transcription.fill(REPLIES["Dolores"])
    staff.get_by_role("button", name="Confirm the transcription").click()
    expect(staff.locator("ul.messagelist li.success")).to_contain_text("confirmed")
    expect(staff.locator(".transcription-confirmed")).to_contain_text("Transcription confirmed")
    staff.locator("form.decision-form").get_by_role(
        "button", name="Approve and go to next item"
    ).click()
    wait_for(
        lambda: Letter.objects.get(pk=reply.pk).status == Letter.Status.APPROVED,
        what="the reply to be approved",
    )

    # 7. Robin reads the reply: the scan first, the confirmed transcription below it.
    writer.goto("/letters/")
    writer.get_by_role("link", name=re.compile("Dolores")).first.click()
    writer.wait_for_url(re.compile(rf"/letters/{reply.correspondence_id}/$"))
    article = writer.locator(f"#letter-{reply.pk}")
    scan_image = article.get_by_role("img", name="Scanned page 1 of the reply")
    image_loaded(scan_image)
    text = article.locator(".letter-transcription")
    expect(text).to_contain_text(f"Could you send money to my {FLAGGED_WORDS}")
    scan_box, text_box = scan_image.bounding_box(), text.bounding_box()
    assert scan_box and text_box and scan_box["y"] + scan_box["height"] <= text_box["y"]
    check_layout(writer, "thread", "messaging/thread.html", layout, [scan_image, text])
    layout.assert_clean()

    # The page sorted by hand went the same way as the others: read and screened.
    pending_item_for(marcus_reply)
