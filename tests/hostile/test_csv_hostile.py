"""Hostile CSV files through the liaison portal's import, and formula cells in
every CSV the service writes.

A file is refused as a whole with a message naming the problem, or imported
with a report naming each rejected row and why; never a 500, never a
half-written import, and the work (memory) stays bounded whatever the file.
tests/profiles/test_csv_import.py covers the everyday rules; this covers
what a careless spreadsheet or a hostile liaison account could send.
"""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from profiles import csv_import
from profiles.models import InmateProfile, LiaisonAction
from tests.factories import activate_totp

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HEADER = list(csv_import.COLUMN_NAMES)
Kind = LiaisonAction.Kind


@pytest.fixture
def facility(liaison):
    return liaison.facility_memberships.get().facility


@pytest.fixture
def liaison_client(client, liaison):
    activate_totp(liaison)
    client.force_login(liaison)
    return client


def row(**cells) -> dict:
    return {
        "inmate_number": "A-1",
        "legal_name": "Alan Able",
        "display_name": "Alan",
        "date_of_birth": "1980-05-17",
        "gender": "male",
        "release_kind": "",
        "release_date": "",
        "bio": "I like chess.",
        "interests": "chess; reading",
        "seeking": "friendship",
        "languages": "en",
        "accepting_letters": "yes",
        **cells,
    }


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def header_line() -> str:
    return ",".join(HEADER) + "\r\n"


def post_import(client, facility, content: bytes, **fields):
    return client.post(
        reverse("liaison:csv_import", args=[facility.slug]),
        {"csv_file": SimpleUploadedFile("profiles.csv", content, "text/csv"), **fields},
    )


def file_errors(response) -> str:
    return " ".join(response.context["form"].errors.get("csv_file", []))


# --- Files refused as a whole ----------------------------------------------------------------

VALID = csv_text([row()])
MB = 1_000_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            VALID.encode()[:-20] + b"\xc3\x28" + VALID.encode()[-20:],
            "This file is not UTF-8 text (the first problem is at byte",
            id="invalid-utf8-mid-file",
        ),
        pytest.param(VALID.encode("utf-16-be"), "NUL characters", id="utf-16-be-without-bom"),
        pytest.param(
            b"\xfe\xff" + VALID.encode("utf-16-be"), "This file is in UTF-16", id="utf-16-be-bom"
        ),
        pytest.param(VALID.encode("utf-32"), "This file is in UTF-32, not UTF-8.", id="utf-32"),
        pytest.param(
            csv_text([row(bio="a NUL \x00 in the middle")]).encode(),
            "it contains NUL characters",
            id="nul-in-a-cell",
        ),
        pytest.param(
            csv_text([row()]).encode() + b'B-2,"Bea,never closed\r\nC-3,Cy\r\nD-4,Di\r\n',
            "Row 3 could not be read as CSV (unexpected end of data). Check for a stray "
            "quotation mark",
            id="quote-never-closed",
        ),
        pytest.param(
            (header_line() + 'A-1,"' + "x" * 200_000 + '"\r\n').encode(),
            "Row 2 could not be read as CSV (field larger than field limit",
            id="cell-over-the-csv-field-limit",
        ),
        pytest.param(
            ("x," * (2 * MB)).encode(),
            "The header row has 2,000,000 cells; it must name the 12 documented columns.",
            id="two-million-column-header",
        ),
        pytest.param(
            (",".join(f"column {n} {'y' * 80}" for n in range(60)) + "\r\n").encode(),
            f"unknown columns: {('column 0 ' + 'y' * 80)[:40]}, ",
            id="sixty-long-unknown-columns",
        ),
        pytest.param(
            (header_line() + "\n" * 300_000).encode(),
            "The file has a header row but no profiles.",
            id="300k-empty-lines",
        ),
        pytest.param(
            (header_line() + "a\n" * (2 * MB)).encode(),
            f"This file has more than {csv_import.MAX_ROWS:,} rows.",
            id="two-million-one-cell-rows",
        ),
    ],
)
def test_it_refuses_a_hostile_file_with_a_message_and_bounded_work(
    liaison_client, facility, content, message
):
    assert len(content) <= csv_import.MAX_BYTES  # refused for what it holds, not its size
    tracemalloc.start()
    try:
        response = post_import(liaison_client, facility, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    errors = file_errors(response)
    assert message in errors
    assert len(errors) < 1000  # a message to read, not the file echoed back
    assert response.context["report"] is None
    assert not InmateProfile.objects.exists()
    assert not LiaisonAction.objects.exists()
    # Parsing is bounded by the file's size. Before rows were read one at a time
    # (and the header's width checked first), 300,000 empty lines took 49 MB,
    # two million one-cell rows 398 MB and a two-million-cell header 189 MB.
    assert peak < 25 * MB + 15 * len(content), f"{peak / MB:.0f} MB"


# --- Rows: a report of each rejected one, the rest written together -------------------------

FORMULAS = {
    "display_name": "=cmd|' /C calc'!A0",
    "legal_name": "+SUM(1+1)*cmd|' /C calc'!A0",
    "bio": "-2+3+cmd|' /C calc'!A0",
    "interests": '@SUM(1+1); =HYPERLINK("http://evil.example","x")',
}


def hostile_rows() -> list[dict]:
    return [
        row(inmate_number="OK-1", display_name="Ann"),
        row(inmate_number="F-1", **FORMULAS),
        row(inmate_number="F-2", display_name="\t=1+2", bio="\r=1+2 after a carriage return"),
        row(inmate_number="BAD-1", date_of_birth="=NOW()"),
        row(inmate_number="BAD-2", gender="<img src=x onerror=alert(1)>"),
        row(inmate_number="=cmd|' /C calc'!A0"),
        row(inmate_number="BAD-4", languages="en; \u202ees"),
    ]


def test_it_reports_each_hostile_row_and_writes_the_rest_in_one_import(
    liaison_client, liaison, facility
):
    response = post_import(liaison_client, facility, csv_text(hostile_rows()).encode())
    assert response.status_code == 200
    report = response.context["report"]
    assert report.counts() == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 4}
    reasons = {outcome.number: " ".join(outcome.reasons) for outcome in report.rejected}
    assert reasons == {
        5: "date_of_birth: Enter a valid date.",
        6: "gender: Select a valid choice. <img src=x onerror=alert(1)> is not one of the "
        "available choices.",
        7: "inmate_number: Use letters, digits, spaces, dots, slashes and hyphens only.",
        8: "languages: Select a valid choice. \u202ees is not one of the available choices.",
    }
    page = response.content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    # Formula-looking cells are text: stored as written, never evaluated.
    stored = InmateProfile.objects.get(facility=facility, inmate_number="F-1")
    assert stored.display_name == FORMULAS["display_name"]
    assert stored.legal_name == FORMULAS["legal_name"]
    assert stored.bio == FORMULAS["bio"]
    assert stored.interests == ["@SUM(1+1)", '=HYPERLINK("http://evil.example","x")']
    assert InmateProfile.objects.get(inmate_number="F-2").display_name == "=1+2"
    # Written together, with one record of the import.
    action = LiaisonAction.objects.get(kind=Kind.CSV_IMPORTED)
    assert action.detail["created"] == 3 and action.detail["rejected"] == 4
    assert InmateProfile.objects.count() == 3
    # The same file again changes nothing.
    again = post_import(liaison_client, facility, csv_text(hostile_rows()).encode())
    assert again.context["report"].counts() == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "rejected": 4,
    }


def test_a_check_only_run_of_a_hostile_file_writes_nothing(liaison_client, facility):
    response = post_import(
        liaison_client, facility, csv_text(hostile_rows()).encode(), is_dry_run="on"
    )
    assert response.context["report"].counts()["rejected"] == 4
    assert not InmateProfile.objects.exists()
    assert not LiaisonAction.objects.exists()


# --- Every CSV the service writes -------------------------------------------------------------

# Where the service writes CSV. A new export must be added here and tested below.
CSV_WRITERS = {
    ("profiles/csv_import.py", "csv.writer("),
    ("profiles/csv_import.py", ".writerow("),
    ("profiles/liaison_views.py", 'content_type="text/csv'),
}
CSV_MARKERS = re.compile(
    r"csv\.writer\(|csv\.DictWriter\(|\.writerows?\(|content_type\s*=\s*[\"']text/csv"
)
APP_FOLDERS = ("penpals", "profiles", "messaging", "moderation")


def test_every_csv_the_service_writes_is_known():
    found = set()
    for folder in APP_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for marker in CSV_MARKERS.findall(path.read_text()):
                found.add((str(path.relative_to(ROOT)), marker))
    # The one writer is write_csv (the import's template goes through it) and
    # the one response is the template download.
    assert found == CSV_WRITERS


# What a spreadsheet would run as a formula, and what it must see instead.
FORMULA_CELLS = [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1+2", "'\t=1+2"),
    ("\r=1+2", "'\r=1+2"),
    ("plain = text", "plain = text"),
]


def test_the_template_download_neutralises_every_formula_cell(
    liaison_client, facility, monkeypatch
):
    # The template is the one CSV served; give it hostile cells to see them handled.
    header = [f"column {n}" for n in range(len(FORMULA_CELLS))]
    monkeypatch.setattr(csv_import, "COLUMN_NAMES", tuple(["=header", *header]))
    monkeypatch.setattr(
        csv_import,
        "EXAMPLE_ROW",
        {
            "=header": "=1",
            **{name: cell for name, (cell, _) in zip(header, FORMULA_CELLS, strict=True)},
        },
    )
    response = liaison_client.get(reverse("liaison:csv_template", args=[facility.slug]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    written = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert written == [
        ["'=header", *header],
        ["'=1", *[neutral for _, neutral in FORMULA_CELLS]],
    ]
