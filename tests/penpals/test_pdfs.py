"""The one PDF check (penpals.pdfs.check_pdf): linear in the file's size and
bounded in time, pypdf rather than regular expressions, and refusing, with a
reason, everything that makes a viewer act by itself."""

from __future__ import annotations

import time

import pytest
from pypdf.generic import ArrayObject, DictionaryObject, NumberObject, TextStringObject

from penpals import pdfs
from penpals.pdfs import REFUSALS, PdfRefused, check_pdf
from tests.factories import MINIMAL_PDF
from tests.hostile.pdfs import (
    action,
    encrypted_pdf,
    javascript,
    link_annotation,
    name,
    open_action,
    pdf_hiding_an_object,
    pdf_with_catalog,
    pdf_with_digit_runs,
    pdf_with_form_field,
    pdf_with_page,
    pdf_with_page_annotation,
    pillow_pdf,
    pypdf_pdf,
    weasyprint_pdf,
)

# The largest upload of any path that takes PDFs (settings.SCAN_MAX_UPLOAD_BYTES).
SIZE_LIMIT = 20_000_000
# Generous: the budget is PDF_CHECK_SECONDS; the regex this replaced took 110 s
# on 401 kB, and four times as long for each doubling.
WITHIN_A_FEW_SECONDS = 10


def with_entries(dictionary: DictionaryObject, **entries) -> DictionaryObject:
    for key, value in entries.items():
        dictionary[name(f"/{key}")] = value
    return dictionary


def refusal_of(content: bytes) -> str:
    with pytest.raises(PdfRefused) as refused:
        check_pdf(content)
    assert str(refused.value) == REFUSALS[refused.value.reason]
    return refused.value.reason


# --- Ordinary PDFs pass ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "pages"),
    [
        (lambda: pypdf_pdf(3), 3),
        (pillow_pdf, 2),
        (weasyprint_pdf, 1),
        # No cross-reference table at all: every viewer repairs it, so do we.
        (lambda: MINIMAL_PDF, 1),
        # Links to web pages and "go to page" on opening are not active content.
        (
            lambda: pdf_with_page_annotation(
                link_annotation(action("/URI", URI=TextStringObject("https://example.org")))
            ),
            1,
        ),
        (lambda: open_action(ArrayObject([NumberObject(0), name("/Fit")])), 1),
    ],
)
def test_it_accepts_ordinary_pdfs(make, pages):
    assert check_pdf(make()) == pages


# --- Long runs of digits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "in_content", "with_xref"),
    [
        (40_000, True, True),
        (401_000, False, True),
        (SIZE_LIMIT, True, True),
        (SIZE_LIMIT, False, True),
        (SIZE_LIMIT, False, False),
        (SIZE_LIMIT // 2, True, False),
    ],
)
def test_it_checks_long_runs_of_digits_within_a_few_seconds(size, in_content, with_xref):
    content = pdf_with_digit_runs(size, in_content=in_content, with_xref=with_xref)
    assert abs(len(content) - size) < 1000
    started = time.monotonic()
    assert check_pdf(content) == 1
    assert time.monotonic() - started < WITHIN_A_FEW_SECONDS


def test_it_refuses_a_pdf_that_takes_longer_than_the_budget(monkeypatch):
    monkeypatch.setattr(pdfs, "PDF_CHECK_SECONDS", 0.001)
    started = time.monotonic()
    assert refusal_of(pypdf_pdf()) == "timeout"
    assert time.monotonic() - started < WITHIN_A_FEW_SECONDS
    assert "took too long to check" in REFUSALS["timeout"]


def test_it_refuses_deep_nesting_without_crashing():
    deep = b"[" * 200_000 + b"]" * 200_000
    content = pdf_hiding_an_object(deep).replace(b"/OpenAction 4 0 R", b"/Nest 4 0 R")
    # pypdf recurses into nested arrays; the refusal is a message, not a crash.
    assert refusal_of(content) in ("too_complex", "damaged")


# --- Refused: what today's check refused, and what it missed ---------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (MINIMAL_PDF[:-10], "incomplete"),
        (b"%PDF-1.4\n%%EOF\n", "no_pages"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n", "no_pages"),
        (encrypted_pdf(), "encrypted"),
        (open_action(javascript()), "javascript"),
        # Names with #xx escapes are read as what they spell.
        (
            MINIMAL_PDF.replace(
                b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/J#61vaScript/J#53(x)>>"
            ),
            "javascript",
        ),
        (
            pdf_with_catalog(
                Names=DictionaryObject(
                    {
                        name("/JavaScript"): DictionaryObject(
                            {name("/Names"): ArrayObject([TextStringObject("a"), javascript()])}
                        )
                    }
                )
            ),
            "javascript",
        ),
        (open_action(action("/Launch", F=TextStringObject("cmd.exe"))), "launch"),
        (
            pdf_with_catalog(Names=DictionaryObject({name("/EmbeddedFiles"): DictionaryObject()})),
            "embedded",
        ),
        (
            pdf_with_page_annotation(
                DictionaryObject(
                    {
                        name("/Type"): name("/Annot"),
                        name("/Subtype"): name("/FileAttachment"),
                        name("/Rect"): ArrayObject([NumberObject(0)] * 4),
                    }
                )
            ),
            "embedded",
        ),
        # Additional actions anywhere: the catalog, a page, an annotation, a form field.
        (pdf_with_catalog(AA=DictionaryObject({name("/WC"): javascript()})), "additional_actions"),
        (
            pdf_with_page(
                AA=DictionaryObject(
                    {name("/O"): action("/URI", URI=TextStringObject("https://x.example"))}
                )
            ),
            "additional_actions",
        ),
        (
            pdf_with_page_annotation(
                with_entries(
                    link_annotation(
                        action("/GoTo", D=ArrayObject([NumberObject(0), name("/Fit")]))
                    ),
                    AA=DictionaryObject({name("/E"): action("/Named", N=name("/Print"))}),
                )
            ),
            "additional_actions",
        ),
        (
            pdf_with_form_field(AA=DictionaryObject({name("/K"): action("/ResetForm")})),
            "additional_actions",
        ),
        # An /OpenAction that does more than show a page.
        (
            open_action(action("/URI", URI=TextStringObject("https://tracker.example"))),
            "open_action",
        ),
        (
            pdf_with_form_field(A=action("/SubmitForm", F=TextStringObject("https://x.example"))),
            "submit_form",
        ),
        (
            pdf_with_page_annotation(
                link_annotation(action("/ImportData", F=TextStringObject("data.fdf")))
            ),
            "import_data",
        ),
        (
            pdf_with_page_annotation(
                link_annotation(
                    action(
                        "/GoToR",
                        F=TextStringObject("other.pdf"),
                        D=ArrayObject([NumberObject(0), name("/Fit")]),
                    )
                )
            ),
            "remote_goto",
        ),
        (
            pdf_with_page_annotation(
                link_annotation(action("/GoToE", D=ArrayObject([NumberObject(0), name("/Fit")])))
            ),
            "remote_goto",
        ),
        (
            pdf_with_catalog(
                AcroForm=DictionaryObject(
                    {name("/Fields"): ArrayObject(), name("/XFA"): ArrayObject()}
                )
            ),
            "xfa",
        ),
        (
            pdf_with_page_annotation(link_annotation(action("/Rendition", OP=NumberObject(0)))),
            "media",
        ),
        # What the cross-reference table hides, a repairing viewer still finds.
        (pdf_hiding_an_object(b"<</S/JavaScript/JS(app.alert(1))>>"), "javascript"),
    ],
)
def test_it_refuses_what_makes_a_viewer_act_by_itself(content, reason):
    assert refusal_of(content) == reason
