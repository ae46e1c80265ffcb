"""CSV import of profiles: valid rows, re-import, malformed rows, encodings,
formula cells, limits, duplicates, and never a half-written import."""

from __future__ import annotations

import codecs
import csv
import io
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone

from moderation.models import ModerationItem
from profiles import csv_import, services
from profiles.models import InmateProfile, LiaisonAction
from tests.factories import InmateProfileFactory

pytestmark = pytest.mark.django_db

Kind = LiaisonAction.Kind
HEADER = list(csv_import.COLUMN_NAMES)


def row(**cells) -> dict:
    base = {
        "inmate_number": "A-1",
        "legal_name": "Alan Able",
        "display_name": "Alan",
        "date_of_birth": "1980-05-17",
        "gender": "male",
        "release_kind": "",
        "release_date": "",
        "bio": "I like chess.",
        "interests": "chess; reading",
        "seeking": "friendship; education",
        "languages": "en",
        "accepting_letters": "yes",
    }
    base.update(cells)
    return base


def csv_text(rows: list[dict], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def upload(text: str | bytes, name: str = "profiles.csv") -> SimpleUploadedFile:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, content, content_type="text/csv")


def run_import(liaison, facility, text, *, is_dry_run: bool = False):
    rows = csv_import.read_rows(upload(text))
    return csv_import.import_profiles(liaison, facility, rows, is_dry_run=is_dry_run)


def post_import(client, facility, text, **extra):
    return client.post(
        reverse("liaison:csv_import", args=[facility.slug]), {"csv_file": upload(text), **extra}
    )


THREE_ROWS = [
    row(),
    row(
        inmate_number="B-2",
        display_name="Bea",
        legal_name="Beatrice Bell",
        gender="female",
        release_kind="date",
        release_date="2031-01-01",
        languages="en; es",
        accepting_letters="no",
    ),
    row(inmate_number="C-3", display_name="Cy", legal_name="Cyrus Cole", release_kind="life"),
]


# --- Valid files -------------------------------------------------------------------


def test_it_creates_draft_profiles_from_valid_rows(liaison_client, liaison, facility):
    response = post_import(liaison_client, facility, csv_text(THREE_ROWS))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.counts() == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert [outcome.number for outcome in report.created] == [2, 3, 4]
    bea = InmateProfile.objects.get(facility=facility, inmate_number="B-2")
    assert bea.status == InmateProfile.Status.DRAFT
    assert bea.legal_name == "Beatrice Bell"
    assert bea.gender == "female"
    assert str(bea.release_date) == "2031-01-01"
    assert bea.languages == ["en", "es"]
    assert bea.is_accepting_letters is False
    alan = InmateProfile.objects.get(facility=facility, inmate_number="A-1")
    assert alan.interests == ["chess", "reading"]
    assert alan.seeking == ["friendship", "education"]
    assert alan.release_kind == "unknown"
    page = response.content.decode()
    assert reverse("liaison:profile_detail", args=[bea.pk]) in page


def test_it_records_one_import_action_with_counts(liaison, facility):
    run_import(liaison, facility, csv_text([*THREE_ROWS, row(inmate_number="", display_name="X")]))
    action = LiaisonAction.objects.get(kind=Kind.CSV_IMPORTED)
    assert action.actor == liaison
    assert action.facility == facility
    assert action.detail == {
        "filename": "",
        "rows": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert LiaisonAction.objects.filter(kind=Kind.PROFILE_CREATED).count() == 3


def test_it_accepts_utf8_with_a_byte_order_mark_and_any_column_order(liaison, facility):
    header = list(reversed(HEADER))
    text = csv_text([row(display_name="José", bio="Café ☕")], header=header)
    report = run_import(liaison, facility, codecs.BOM_UTF8 + text.encode("utf-8"))
    assert report.counts()["created"] == 1
    profile = InmateProfile.objects.get(facility=facility)
    assert (profile.display_name, profile.bio) == ("José", "Café ☕")


def test_it_skips_empty_rows_and_keeps_spreadsheet_row_numbers(liaison, facility):
    text = (
        csv_text([row()])
        + ",,,,,,,,,,,\r\n\r\n"
        + csv_text([row(inmate_number="", display_name="Bad")]).split("\r\n", 1)[1]
    )
    report = run_import(liaison, facility, text)
    assert report.counts()["created"] == 1
    assert [outcome.number for outcome in report.rejected] == [5]


# --- Re-import -----------------------------------------------------------------------


def test_it_matches_rows_by_inmate_number_so_reimporting_changes_nothing(liaison, facility):
    text = csv_text(THREE_ROWS)
    run_import(liaison, facility, text)
    actions = LiaisonAction.objects.exclude(kind=Kind.CSV_IMPORTED).count()
    report = run_import(liaison, facility, text)
    assert report.counts() == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 0}
    assert InmateProfile.objects.filter(facility=facility).count() == 3
    assert LiaisonAction.objects.exclude(kind=Kind.CSV_IMPORTED).count() == actions


def test_it_updates_changed_rows(liaison, facility):
    run_import(liaison, facility, csv_text(THREE_ROWS))
    changed = [row(bio="A new bio.", languages="en; fr"), *THREE_ROWS[1:]]
    report = run_import(liaison, facility, csv_text(changed))
    assert report.counts() == {"created": 0, "updated": 1, "unchanged": 2, "rejected": 0}
    assert report.updated[0].changed == ["bio", "languages"]
    alan = InmateProfile.objects.get(facility=facility, inmate_number="A-1")
    assert alan.bio == "A new bio."
    assert alan.languages == ["en", "fr"]


def test_it_holds_new_public_text_of_a_published_profile_for_review(liaison, facility):
    profile = InmateProfileFactory.published(
        facility=facility,
        inmate_number="A-1",
        display_name="Alan",
        legal_name="Alan Able",
        bio="Approved bio.",
    )
    text = csv_text([row(bio="Unreviewed bio.")])
    report = run_import(liaison, facility, text)
    assert report.counts()["updated"] == 1
    assert report.updated[0].is_waiting_for_review
    profile.refresh_from_db()
    assert profile.bio == "Approved bio."
    assert profile.pending_changes == {"bio": "Unreviewed bio."}
    assert profile.status == InmateProfile.Status.PUBLISHED
    item = ModerationItem.objects.for_object(profile).get()
    assert item.kind == ModerationItem.Kind.PROFILE_CHANGE
    # Importing the same file again: the change is already waiting, nothing new.
    assert run_import(liaison, facility, text).counts()["unchanged"] == 1


def test_it_matches_inmate_numbers_within_the_facility_only(liaison, facility):
    elsewhere = InmateProfileFactory(inmate_number="A-1", bio="Not yours.")
    report = run_import(liaison, facility, csv_text([row()]))
    assert report.counts()["created"] == 1
    elsewhere.refresh_from_db()
    assert elsewhere.bio == "Not yours."
    assert InmateProfile.objects.filter(inmate_number="A-1").count() == 2


def test_it_rejects_rows_for_profiles_that_can_no_longer_change(liaison, facility):
    InmateProfileFactory(facility=facility, inmate_number="A-1", status="released")
    report = run_import(liaison, facility, csv_text([row()]))
    assert report.rejected[0].reasons == ["This profile is released; it can no longer be changed."]


# --- Malformed rows --------------------------------------------------------------------


def test_it_rejects_malformed_rows_with_their_row_number_and_reason(liaison, facility):
    rows = [
        row(inmate_number="OK-1"),
        row(inmate_number="D-1", date_of_birth="17/05/1980"),
        row(inmate_number="D-2", gender="robot"),
        row(inmate_number="D-3", display_name=""),
        row(inmate_number="D-4", languages="en; klingon"),
        row(inmate_number="D-5", accepting_letters="maybe"),
        row(inmate_number="D-6", release_kind="date"),
        row(inmate_number="D-7", date_of_birth=str(timezone.localdate())),
        row(inmate_number="D-8", interests="; ".join(f"i{n}" for n in range(21))),
        row(inmate_number="D-9", bio="x" * 4001),
    ]
    report = run_import(liaison, facility, csv_text(rows))
    assert report.counts()["created"] == 1
    reasons = {outcome.number: " ".join(outcome.reasons) for outcome in report.rejected}
    assert reasons == {
        3: "date_of_birth: Enter a valid date.",
        4: "gender: Select a valid choice. robot is not one of the available choices.",
        5: "display_name: This field is required.",
        6: "languages: Select a valid choice. klingon is not one of the available choices.",
        7: "accepting_letters: use yes or no.",
        8: "release_date: Enter the release date, or choose another release kind.",
        9: "date_of_birth: Only adults can be listed: the person must be at least 18 years old.",
        10: "interests: List at most 20 interests (there are 21).",
        11: "bio: Ensure this value has at most 4000 characters (it has 4001).",
    }
    assert list(InmateProfile.objects.values_list("inmate_number", flat=True)) == ["OK-1"]


def test_it_rejects_rows_with_the_wrong_number_of_cells(liaison, facility):
    text = csv_text([row()]) + "B-2,Bea\r\n" + ",".join(["x"] * 13) + "\r\n"
    report = run_import(liaison, facility, text)
    assert [(outcome.number, outcome.reasons) for outcome in report.rejected] == [
        (3, ["This row has 2 cells; the header has 12 columns."]),
        (4, ["This row has 13 cells; the header has 12 columns."]),
    ]


def test_it_rejects_every_row_of_an_inmate_number_that_appears_twice(liaison, facility):
    rows = [
        row(),
        row(inmate_number="B-2"),
        row(display_name="Alan again"),
        row(inmate_number="C-3"),
    ]
    report = run_import(liaison, facility, csv_text(rows))
    assert report.counts() == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert report.rejected[0].number == 2
    assert "A-1 is also on row 4" in report.rejected[0].reasons[0]
    assert "A-1 is also on row 2" in report.rejected[1].reasons[0]
    assert not InmateProfile.objects.filter(inmate_number="A-1").exists()


def test_it_shows_rejected_rows_on_the_report_page(liaison_client, facility):
    response = post_import(
        liaison_client, facility, csv_text([row(gender="<script>alert(1)</script>")])
    )
    page = response.content.decode()
    assert "Rejected rows" in page
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;" in page


# --- The file as a whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (csv_text([row(display_name="José")]).encode("latin-1"), "not UTF-8"),
        (csv_text([row()]).encode("utf-16"), "UTF-16"),
        (
            csv_text([row()]).encode("utf-16-le"),
            "This file is in UTF-16, not UTF-8 (its text is full of NUL",
        ),
        (csv_text([row()]).encode("utf-16-be"), "This file is in UTF-16, not UTF-8"),
        # UTF-32's mark starts with UTF-16's: named for what it is.
        (csv_text([row()]).encode("utf-32"), "This file is in UTF-32, not UTF-8."),
        (codecs.BOM_UTF32_BE + csv_text([row()]).encode("utf-32-be"), "This file is in UTF-32"),
        (csv_text([row()]).encode("utf-32-le"), "This file is in UTF-32, not UTF-8 (its text"),
        (csv_text([row()]).encode("utf-32-be"), "This file is in UTF-32, not UTF-8 (its text"),
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        (csv_text([]).encode(), "no profiles"),
        (
            csv_text([row()], header=[*HEADER[:-1], "accepting"]).encode(),
            "unknown columns: accepting; missing columns: accepting_letters",
        ),
        (csv_text([row()], header=HEADER[1:]).encode(), "missing columns: inmate_number"),
        (
            csv_text([row()]).replace(",", ";").encode(),
            "separated by commas, not semicolons",
        ),
        (csv_text([row()]).replace(",", "\t").encode(), "separated by commas, not tabs"),
        (csv_text([row()]).replace(",", "|").encode(), "separated by commas, not vertical bars"),
        # Saved twice with a byte-order mark: the second one sticks to the first cell.
        (
            codecs.BOM_UTF8 * 2 + csv_text([row()]).encode(),
            "Header cell 1 (“inmate_number”) contains a byte-order mark, which cannot be "
            "seen in a spreadsheet (the file has more than one byte-order mark)",
        ),
        (
            csv_text([row()], header=[*HEADER[:2], "display_\u200bname", *HEADER[3:]]).encode(),
            "Header cell 3 (“display_name”) contains U+200B (zero width space)",
        ),
        (
            csv_text([row()], header=[*HEADER[:-1], "accepting_letters\u2060\u00a0x"]).encode(),
            "contains U+2060 (word joiner), a no-break space",
        ),
        (b'inmate_number,legal_name\r\n"A-1,unterminated\x00', "NUL"),
    ],
)
def test_it_refuses_a_file_it_cannot_read(liaison_client, facility, content, message):
    response = post_import(liaison_client, facility, content)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["csv_file"])
    assert response.context["report"] is None
    assert not InmateProfile.objects.exists()
    assert not LiaisonAction.objects.exists()


def test_it_refuses_more_than_the_row_limit(liaison_client, facility):
    rows = [row(inmate_number=f"N-{number}") for number in range(csv_import.MAX_ROWS + 1)]
    response = post_import(liaison_client, facility, csv_text(rows))
    assert (
        f"more than {csv_import.MAX_ROWS:,} rows" in response.context["form"].errors["csv_file"][0]
    )
    assert not InmateProfile.objects.exists()


def test_it_accepts_exactly_the_row_limit(facility):
    rows = [row(inmate_number=f"N-{number}") for number in range(csv_import.MAX_ROWS)]
    assert len(csv_import.read_rows(upload(csv_text(rows)))) == csv_import.MAX_ROWS


def test_it_refuses_a_file_over_the_size_limit(liaison_client, facility, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_BYTES", 1000)
    response = post_import(liaison_client, facility, csv_text([row(bio="x" * 1000)]))
    assert "larger than" in response.context["form"].errors["csv_file"][0]


# --- Formulas ---------------------------------------------------------------------------------


def test_it_stores_formula_looking_cells_as_plain_text(liaison, facility):
    rows = [
        row(
            display_name='=HYPERLINK("http://evil.example","Click")',
            bio="+1 555 0100 is not a formula",
            interests="@SUM(A1); -2+3",
            legal_name="-Dash Name",
        )
    ]
    assert run_import(liaison, facility, csv_text(rows)).counts()["created"] == 1
    profile = InmateProfile.objects.get(facility=facility)
    assert profile.display_name == '=HYPERLINK("http://evil.example","Click")'
    assert profile.bio == "+1 555 0100 is not a formula"
    assert profile.interests == ["@SUM(A1)", "-2+3"]
    assert profile.legal_name == "-Dash Name"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_it_neutralises_formulas_in_every_csv_it_writes(value, written):
    out = io.StringIO()
    csv_import.write_csv(out, ["bio"], [{"bio": value}])
    assert list(csv.reader(io.StringIO(out.getvalue())))[1] == [written]


def test_it_offers_a_template_that_imports_cleanly(liaison_client, liaison, facility):
    response = liaison_client.get(reverse("liaison:csv_template", args=[facility.slug]))
    assert response["Content-Disposition"].startswith("attachment;")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(HEADER)
    assert run_import(liaison, facility, text).counts()["created"] == 1


def test_it_documents_every_column_on_the_page_and_in_the_module(liaison_client, facility):
    page = liaison_client.get(reverse("liaison:csv_import", args=[facility.slug])).content.decode()
    for name in csv_import.COLUMN_NAMES:
        assert f"<code>{name}</code>" in page
        assert f"\n    {name} " in csv_import.__doc__
    assert "written together" in page


# --- Nothing half-written ------------------------------------------------------------------


def test_it_writes_nothing_when_the_database_fails_mid_import(liaison_client, liaison, facility):
    InmateProfileFactory(facility=facility, inmate_number="B-2", bio="Before.")
    real_create = services.do_create_profile
    calls = []

    def create_then_fail(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise DatabaseError("connection lost")
        return real_create(*args, **kwargs)

    rows = [
        row(),
        THREE_ROWS[1] | {"bio": "After."},
        row(inmate_number="C-3"),
        row(inmate_number="D-4"),
    ]
    with mock.patch.object(services, "do_create_profile", side_effect=create_then_fail):
        response = post_import(liaison_client, facility, csv_text(rows))
    assert len(calls) == 2  # the first row was written before the failure...
    assert response.status_code == 200
    assert "nothing was written" in response.content.decode()
    # ...and rolled back with everything else.
    assert list(InmateProfile.objects.values_list("inmate_number", "bio")) == [("B-2", "Before.")]
    assert not LiaisonAction.objects.exists()


def test_it_writes_nothing_on_a_check_only_run(liaison_client, facility):
    InmateProfileFactory(facility=facility, inmate_number="B-2", bio="Before.")
    rows = [row(), THREE_ROWS[1] | {"bio": "After."}, row(inmate_number="", display_name="Bad")]
    response = post_import(liaison_client, facility, csv_text(rows), is_dry_run="on")
    report = response.context["report"]
    assert report.is_dry_run
    assert report.counts() == {"created": 1, "updated": 1, "unchanged": 0, "rejected": 1}
    assert "nothing was written" in response.content.decode()
    assert list(InmateProfile.objects.values_list("inmate_number", "bio")) == [("B-2", "Before.")]
    assert not LiaisonAction.objects.exists()
