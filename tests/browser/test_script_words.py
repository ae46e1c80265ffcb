"""What our scripts write on a page comes from the page, in its language.

The scripts in static/js/ carry no words of their own (only an English
fallback): each reads them from data-* attributes its template translated,
with {name} where a number or a reason goes, since the strict Content
Security Policy allows no inline script to hand them over. Each test checks
the script's words against those attributes, so it holds whatever the
catalogue says, and the numbers against the page's language.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from messaging import printing
from tests.browser import pages
from tests.factories import InmateProfileFactory, PenPalFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def new_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    return context.new_page()


def test_it_counts_a_letters_characters_in_spanish(page, live_server):
    profile = InmateProfileFactory.published(display_name="Dolores")
    pen_pal = PenPalFactory(email="count.es@example.org", display_name="Robin", language="es")
    pages.log_in(page, pen_pal.email, next_url="/letters/")
    page.goto(f"/letters/write/{profile.slug}/")
    assert page.locator("html").get_attribute("lang") == "es"
    form = page.locator("form.letter-form")
    box = form.locator("textarea[data-letter-count]")
    count_text = form.get_attribute("data-count-text")
    left_text = form.get_attribute("data-left-text")
    assert count_text and "{used}" in count_text and "{limit}" in count_text
    assert left_text and "{left}" in left_text

    limit = settings.LETTER_MAX_LENGTH
    assert limit >= 10_000  # grouped in Spanish too ("13.000")
    spanish_limit = f"{limit:,}".replace(",", ".")
    box.fill("Querida Dolores")
    counter = page.locator(".letter-count")
    expect(counter).to_have_text(
        count_text.replace("{used}", "15").replace("{limit}", spanish_limit)
    )

    # Near the limit, the words said to screen readers.
    box.fill("a" * (limit - 10))
    expect(page.locator(".letter-count + [aria-live]")).to_have_text(
        left_text.replace("{left}", "10")
    )


def test_it_says_the_batch_pdf_is_ready_in_the_pages_words(browser, live_server):
    world = pages.set_up_liaison()
    page = new_page(browser, live_server)
    pages.log_in_liaison(page, world)
    page.goto(f"/liaison/letters/northgate/batches/{world.batch.pk}/")
    status = page.locator("p[data-ready-text]")
    ready_text = status.get_attribute("data-ready-text")
    assert ready_text
    assert status.get_attribute("data-pdf-status-url")  # being prepared: no worker here
    assert printing.render_and_store_batch_pdf(world.batch.pk) == "rendered"
    expect(status).to_have_text(ready_text, timeout=20_000)


def test_it_says_the_download_starts_in_the_pages_words(browser, live_server):
    world = pages.set_up_liaison()
    page = new_page(browser, live_server)
    pages.log_in_liaison(page, world)
    page.goto(f"/liaison/letters/northgate/batches/{world.batch.pk}/pdf/")
    status = page.locator("p[data-pdf-url]")
    ready_text = status.get_attribute("data-ready-text")
    assert ready_text and status.get_attribute("data-slow-text")
    assert printing.render_and_store_batch_pdf(world.batch.pk) == "rendered"
    with page.expect_download(timeout=20_000) as download_info:
        pass
    assert download_info.value.suggested_filename == f"batch-{world.batch.pk}.pdf"
    expect(status).to_have_text(ready_text)
