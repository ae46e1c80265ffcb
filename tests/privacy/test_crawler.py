"""The crawler's own checks: a leak in any spelling is found, and the crawl
stays on the site."""

from __future__ import annotations

from datetime import date

from django.utils import dateformat, formats, translation

from tests.privacy.crawler import Needle, date_spellings, find_needles, normalise


def test_it_spells_a_birth_date_every_way_a_template_could():
    spellings = date_spellings(date(1971, 3, 9))
    for text in ("1971-03-09", "March 9, 1971", "Mar. 9, 1971", "9 March 1971", "03/09/1971"):
        assert text in spellings


def test_it_spells_a_birth_date_in_spanish_too_whatever_the_active_language():
    day = date(1980, 12, 7)
    with translation.override("es"):
        spanish = {
            formats.date_format(day),  # "7 de diciembre de 1980"
            formats.date_format(day, "SHORT_DATE_FORMAT"),  # "07/12/1980"
            dateformat.format(day, "j F Y"),  # the templates' "7 diciembre 1980"
        }
    assert "7 de diciembre de 1980" in {text.casefold() for text in spanish}
    for language in ("en", "es"):
        with translation.override(language):
            assert spanish <= date_spellings(day), language


def test_it_finds_a_fact_escaped_or_in_another_case():
    needles = [
        Needle("legal name", "Seán O'Brien", "inmate 1"),
        Needle("inmate number", "DEMO-0042", "inmate 1"),
    ]
    page = "<p>Se&aacute;n O&#x27;Brien</p><!-- demo-0042 -->"
    found = find_needles(page, needles, "/x/")
    assert [finding.needle.kind for finding in found] == ["legal name", "inmate number"]
    assert not find_needles(page, needles, "/x/", allowed=lambda needle: True)


def test_it_stays_on_the_site():
    assert normalise("?page=2&gender=male", "/inmates/") == "/inmates/?gender=male&page=2"
    assert normalise("/letters/#main", "/") == "/letters/"
    for link in ("https://example.org/", "mailto:a@example.org", "javascript:alert(1)"):
        assert normalise(link, "/") is None
