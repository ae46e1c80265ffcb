"""CSV import of inmate profiles: the one home for the CSV rules.

A liaison uploads one file for one facility. The first row names the
columns, in any order (names are case-insensitive); every column below must
be present, and a cell may be left empty where the column is optional:

    inmate_number      required. The facility's number for the person. A row whose
                       number already has a profile at this facility updates that
                       profile; otherwise a new draft profile is created.
    legal_name         required. Private: printed on letters only.
    display_name       required. Shown in the directory.
    date_of_birth      required. YYYY-MM-DD; the person must be 18 or older.
    gender             required. female, male, nonbinary or other.
    release_kind       date, life or unknown (empty means unknown).
    release_date       YYYY-MM-DD; required when release_kind is date, empty otherwise.
    bio                At most 4,000 characters.
    interests          Separated by semicolons: chess; poetry; cooking.
    seeking            Codes separated by semicolons: friendship, romance, mentorship,
                       legal_help, faith, education.
    languages          required. Codes separated by semicolons: en, es, fr, pt, zh,
                       vi, ar, asl, other.
    accepting_letters  yes or no (empty means yes).

Rules:

- The file is UTF-8 text, with or without a byte-order mark ("CSV UTF-8" in
  spreadsheet programs); any other encoding is refused with a message, never
  guessed (UTF-16 and UTF-32 are named, with or without a byte-order mark).
  Cells are separated by commas (a header separated by semicolons, tabs or
  vertical bars is refused naming the separator); a cell that opens a
  quotation mark must close it (a stray one refuses the file, naming its
  row). A header cell holding characters a spreadsheet does not show (a
  second byte-order mark, a zero-width space, a no-break space) is refused
  naming the cell and the character, not reported as an unknown column.
- At most MAX_ROWS rows (not counting the header and empty rows) and
  MAX_BYTES bytes. Row numbers in the report count the header as row 1, as a
  spreadsheet does.
- Each row is the whole profile: every row is validated by the same
  profiles.forms.ProfileForm the portal's edit page uses, and on an update
  an empty optional cell clears that field.
- Rows are matched to existing profiles by inmate number within the facility,
  so importing the same file twice changes nothing the second time. An
  inmate number that appears on two rows rejects both rows.
- All valid rows are written in one transaction, together with one
  CSV_IMPORTED audit record; rejected rows are reported with their row number
  and reasons and are not written. An error while writing rolls everything
  back: an import is never half-written. A "check only" run validates and
  reports without writing.
- Updates of published profiles go through services.do_update_profile, so
  changed public text waits for a moderator.
- Cells starting with = + - or @ are stored as the text they are and never
  evaluated. Any CSV this service writes passes every cell through
  `spreadsheet_safe`, so such text cannot run as a formula when the file is
  opened in a spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from penpals.text import grouped, interpolate_lazy
from penpals.uploads import megabytes
from profiles import services
from profiles.forms import ProfileForm
from profiles.models import Facility, InmateProfile

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

# The import runs inside the request. Each new profile costs about 8 ms
# (insert, search vector, audit row), so 1,000 rows take some 8-10 seconds,
# well inside proxy and gunicorn timeouts; bigger files are split.
MAX_ROWS = 1000
MAX_BYTES = 5_000_000
# Far more than the columns, so a spreadsheet's extra columns still get a precise message.
MAX_HEADER_CELLS = 100

Profile = InmateProfile


@dataclass(frozen=True)
class Column:
    name: str
    is_required: bool
    description: StrOrPromise


COLUMNS = (
    Column(
        "inmate_number",
        True,
        _(
            "The facility's number for the person. Matches an existing profile at this "
            "facility (which is then updated); otherwise a new draft profile is created."
        ),
    ),
    Column("legal_name", True, _("Private: printed on letters only.")),
    Column("display_name", True, _("Shown in the directory.")),
    Column("date_of_birth", True, _("YYYY-MM-DD. The person must be 18 or older.")),
    Column(
        "gender",
        True,
        interpolate_lazy(_("One of: %(codes)s."), {"codes": ", ".join(Profile.Gender.values)}),
    ),
    Column(
        "release_kind",
        False,
        interpolate_lazy(
            _("One of: %(codes)s. Empty means unknown."),
            {"codes": ", ".join(Profile.ReleaseKind.values)},
        ),
    ),
    Column("release_date", False, _("YYYY-MM-DD. Required when release_kind is date.")),
    Column("bio", False, _("At most 4,000 characters.")),
    Column("interests", False, _("Separated by semicolons, for example: chess; poetry.")),
    Column(
        "seeking",
        False,
        interpolate_lazy(
            _("Codes separated by semicolons: %(codes)s."),
            {"codes": ", ".join(Profile.Seeking.values)},
        ),
    ),
    Column(
        "languages",
        True,
        interpolate_lazy(
            _("At least one code, separated by semicolons: %(codes)s."),
            {"codes": ", ".join(Profile.Language.values)},
        ),
    ),
    Column("accepting_letters", False, _("yes or no. Empty means yes.")),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
# Form field → CSV column, where the names differ.
FIELD_COLUMNS = {"is_accepting_letters": "accepting_letters"}

YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}

EXAMPLE_ROW = {
    "inmate_number": "A123456",
    "legal_name": "Jordan Example",
    "display_name": "Jordan",
    "date_of_birth": "1985-04-12",
    "gender": "male",
    "release_kind": "date",
    "release_date": "2031-06-01",
    "bio": "I read everything I can find and I am learning to draw.",
    "interests": "reading; drawing; basketball",
    "seeking": "friendship; mentorship",
    "languages": "en; es",
    "accepting_letters": "yes",
}


# --- Reading the file -------------------------------------------------------------


@dataclass(frozen=True)
class CsvRow:
    number: int  # spreadsheet row number: the header is row 1
    cells: dict[str, str]
    problem: str = ""  # set when the row itself is malformed


def read_rows(uploaded_file) -> list[CsvRow]:
    """Decode and parse an uploaded CSV file into rows keyed by column name.

    Raises ValidationError, with a message for the liaison, for anything
    wrong with the file as a whole: size, encoding, header, row count.
    """
    if uploaded_file.size > MAX_BYTES:
        raise ValidationError(
            gettext("This file is larger than %(size)s. Split it into smaller files.")
            % {"size": megabytes(MAX_BYTES)}
        )
    text = decode(uploaded_file.read())
    # strict: a quoted cell left open is an error, instead of silently
    # swallowing every row after it into one cell.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    first_cells: list[str] = []
    header: list[str] | None = None
    rows: list[CsvRow] = []
    try:
        # One record per spreadsheet row, empty rows included, so a record's
        # position is the row number a spreadsheet shows. Records are read one
        # at a time: a few MB of empty or one-cell lines are millions of
        # records, which the row limit must stop before they are all in memory.
        for number, cells in enumerate(reader, start=1):
            if number == 1:
                first_cells = cells
                continue
            if not any(cell.strip() for cell in cells):
                continue  # empty rows are common at the end of spreadsheets
            if header is None:
                header = read_header(first_cells)
            rows.append(_make_row(number, header, cells))
            if len(rows) > MAX_ROWS:
                raise ValidationError(
                    gettext("This file has more than %(rows)s rows. Split it into smaller files.")
                    % {"rows": grouped(MAX_ROWS)}
                )
    except csv.Error as error:
        # The record after the last one read, counted as the report counts rows.
        raise ValidationError(
            gettext(
                "Row %(row)s could not be read as CSV (%(error)s). Check for a stray "
                "quotation mark: a cell that starts with one must end with one."
            )
            % {"row": number + 1, "error": error}
        ) from None
    if number == 0 or (not rows and not any(cell.strip() for cell in first_cells)):
        raise ValidationError(gettext("The file is empty."))
    if header is None:
        read_header(first_cells)  # a wrong header is the first thing to fix
        raise ValidationError(gettext("The file has a header row but no profiles."))
    return rows


SAVE_AS_UTF8 = _(
    "In your spreadsheet program choose “Save as” → “CSV UTF-8 (comma delimited)” "
    "and upload that file."
)
# Byte-order marks of the encodings a spreadsheet may write instead of UTF-8.
# UTF-32 LE's mark starts with UTF-16 LE's, so UTF-32 is tried first.
WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# Where an encoding without a mark puts NUL bytes in text that is mostly ASCII:
# UTF-32 in three of every four bytes, UTF-16 in one of every two.
NUL_PATTERNS = (
    ("UTF-32", 4, {1, 2, 3}),
    ("UTF-32", 4, {0, 1, 2}),
    ("UTF-16", 2, {1}),
    ("UTF-16", 2, {0}),
)


def wide_encoding(raw: bytes) -> str | None:
    """'UTF-32' or 'UTF-16' when the file is evidently in one of them, else None."""
    for bom, encoding in WIDE_BOMS:
        if raw.startswith(bom):
            return encoding
    sample = raw[:4096]
    for encoding, period, nul_positions in NUL_PATTERNS:
        if len(sample) >= period and all(
            (byte == 0) == (index % period in nul_positions)
            for index, byte in enumerate(sample[: len(sample) - len(sample) % period])
        ):
            return encoding
    return None


def decode(raw: bytes) -> str:
    """UTF-8 text, with or without a byte-order mark; anything else is refused."""
    encoding = wide_encoding(raw)
    if encoding:
        how = (
            ""
            if raw.startswith(tuple(bom for bom, _ in WIDE_BOMS))
            else gettext(" (its text is full of NUL characters)")
        )
        raise ValidationError(
            gettext("This file is in %(encoding)s, not UTF-8%(how)s. %(save_as)s")
            % {"encoding": encoding, "how": how, "save_as": SAVE_AS_UTF8}
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            gettext(
                "This file is not UTF-8 text (the first problem is at byte %(byte)s). %(save_as)s"
            )
            % {"byte": grouped(error.start + 1), "save_as": SAVE_AS_UTF8}
        ) from None
    if "\x00" in text:
        raise ValidationError(
            gettext(
                "This file is not UTF-8 text (it contains NUL characters; it may be UTF-16 "
                "or UTF-32). %(save_as)s"
            )
            % {"save_as": SAVE_AS_UTF8}
        )
    return text


def read_header(cells: list[str]) -> list[str]:
    width = len(cells)
    while width and not cells[width - 1].strip():
        width -= 1  # trailing empty header cells
    if width > MAX_HEADER_CELLS:
        # Checked before anything is made of each cell: a one-row file can hold
        # millions of them.
        raise ValidationError(
            gettext(
                "The header row has %(cells)s cells; it must name the %(columns)s documented "
                "columns. Download the template to start from a correct header."
            )
            % {"cells": grouped(width), "columns": len(COLUMNS)}
        )
    names = [cell.strip().lower() for cell in cells[:width]]
    if len(names) == 1:
        for separator, separator_name in OTHER_SEPARATORS.items():
            if separator in names[0]:
                raise ValidationError(
                    gettext(
                        "The header row has only one column. Cells must be separated by "
                        "commas, not %(separator)s: save the file as “CSV UTF-8 (comma "
                        "delimited)”."
                    )
                    % {"separator": separator_name}
                )
    check_invisible_characters(names)
    problems = []
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        problems.append(gettext("repeated columns: %(names)s") % {"names": listed(duplicates)})
    unknown = list(
        dict.fromkeys(name or gettext("(empty)") for name in names if name not in COLUMN_NAMES)
    )
    if unknown:
        problems.append(gettext("unknown columns: %(names)s") % {"names": listed(unknown)})
    missing = [name for name in COLUMN_NAMES if name not in names]
    if missing:
        problems.append(gettext("missing columns: %(names)s") % {"names": ", ".join(missing)})
    if problems:
        raise ValidationError(
            gettext(
                "The header row must name the documented columns; %(problems)s. "
                "Download the template to start from a correct header."
            )
            % {"problems": "; ".join(problems)}
        )
    return names


# What a file with cells separated by something else shows as its one header cell.
OTHER_SEPARATORS = {";": _("semicolons"), "\t": _("tabs"), "|": _("vertical bars (|)")}
# Characters that show as nothing in a spreadsheet: a second byte-order mark
# (a file saved twice with one), zero-width spaces and joiners, direction marks.
INVISIBLE_NAMES = {
    "\ufeff": _("a byte-order mark"),
    "\u00a0": _("a no-break space"),
    "\u00ad": _("a soft hyphen"),
}


def is_invisible(character: str) -> bool:
    """Shows as nothing (or as a plain space) where a person reads a header."""
    if character == " ":
        return False
    return character in INVISIBLE_NAMES or unicodedata.category(character) in ("Cf", "Cc", "Zs")


def invisible_characters(text: str) -> list[str]:
    """Each kind of invisible character in `text`, described once, in order."""
    return list(
        dict.fromkeys(
            (str(INVISIBLE_NAMES[character]) if character in INVISIBLE_NAMES else "")
            or f"U+{ord(character):04X} ({unicodedata.name(character, 'control character').lower()})"
            for character in text
            if is_invisible(character)
        )
    )


def check_invisible_characters(names: list[str]) -> None:
    """Refuse a header whose cells hold characters a spreadsheet does not show,
    naming the cell and the character: otherwise "inmate_number" with a hidden
    mark in front is reported as both unknown and missing."""
    for position, name in enumerate(names, start=1):
        hidden = invisible_characters(name)
        if not hidden:
            continue
        visible = "".join(character for character in name if not is_invisible(character))
        message = (
            gettext(
                "Header cell %(position)s (“%(cell)s”) contains %(characters)s, which cannot "
                "be seen in a spreadsheet (the file has more than one byte-order mark). "
                "%(save_as)s If that does not help, type the header row again or download "
                "the template."
            )
            if "\ufeff" in name
            else gettext(
                "Header cell %(position)s (“%(cell)s”) contains %(characters)s, which cannot "
                "be seen in a spreadsheet. %(save_as)s If that does not help, type the "
                "header row again or download the template."
            )
        )
        raise ValidationError(
            message
            % {
                "position": position,
                "cell": visible[:40],
                "characters": listed(hidden),
                "save_as": SAVE_AS_UTF8,
            }
        )


def listed(names: list[str], limit: int = 10) -> str:
    # Up to MAX_HEADER_CELLS names, each as long as a cell: keep the message short.
    shown = ", ".join(name[:40] for name in names[:limit])
    if len(names) <= limit:
        return shown
    return gettext("%(names)s and %(count)s more") % {
        "names": shown,
        "count": grouped(len(names) - limit),
    }


def _make_row(number: int, header: list[str], cells: list[str]) -> CsvRow:
    extra = cells[len(header) :]
    problem = ""
    if len(cells) < len(header) or any(cell.strip() for cell in extra):
        problem = gettext("This row has %(cells)s cells; the header has %(columns)s columns.") % {
            "cells": len(cells),
            "columns": len(header),
        }
    padded = cells + [""] * (len(header) - len(cells))
    return CsvRow(number, dict(zip(header, padded, strict=False)), problem)


# --- Validating and writing --------------------------------------------------------


@dataclass
class RowOutcome:
    number: int
    inmate_number: str
    display_name: str = ""
    profile_id: int | None = None
    reasons: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    is_waiting_for_review: bool = False


class ImportCounts(TypedDict):
    created: int
    updated: int
    unchanged: int
    rejected: int


@dataclass
class ImportReport:
    filename: str
    is_dry_run: bool
    created: list[RowOutcome] = field(default_factory=list)
    updated: list[RowOutcome] = field(default_factory=list)
    unchanged: list[RowOutcome] = field(default_factory=list)
    rejected: list[RowOutcome] = field(default_factory=list)

    def counts(self) -> ImportCounts:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "rejected": len(self.rejected),
        }


class ImportFailed(Exception):
    """The import could not be written; nothing was."""


def split_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def form_data(cells: dict[str, str]) -> tuple[dict, list[str]]:
    """A row's cells as ProfileForm data, and any cell that cannot be converted."""
    problems = []
    accepting = cells["accepting_letters"].strip().lower()
    if accepting in YES or accepting == "":
        is_accepting = True
    elif accepting in NO:
        is_accepting = False
    else:
        is_accepting = True
        problems.append(gettext("accepting_letters: use yes or no."))
    data = {
        "inmate_number": cells["inmate_number"],
        "legal_name": cells["legal_name"],
        "display_name": cells["display_name"],
        "date_of_birth": cells["date_of_birth"].strip(),
        "gender": cells["gender"].strip().lower(),
        "release_kind": cells["release_kind"].strip().lower() or Profile.ReleaseKind.UNKNOWN,
        "release_date": cells["release_date"].strip(),
        "bio": cells["bio"],
        "interests": split_list(cells["interests"]),
        "seeking": [code.lower() for code in split_list(cells["seeking"])],
        "languages": [code.lower() for code in split_list(cells["languages"])],
        "is_accepting_letters": is_accepting,
    }
    return data, problems


def form_errors(form: ProfileForm) -> list[str]:
    reasons = []
    for name, errors in form.errors.items():
        for message in errors:
            # An ErrorList yields each message as text (str() keeps it one for
            # mypy, which types the items as the errors the list holds).
            if name == "__all__":
                reasons.append(str(message))
            else:
                reasons.append(f"{FIELD_COLUMNS.get(name, name)}: {message}")
    return reasons


def import_profiles(
    liaison, facility: Facility, rows: list[CsvRow], *, is_dry_run: bool = False, filename: str = ""
) -> ImportReport:
    """Create and update `facility`'s profiles from parsed rows (see read_rows).

    The caller has checked that `liaison` acts for `facility`. Valid rows are
    written in one transaction; a database error rolls the whole import back
    and raises ImportFailed. With `is_dry_run` nothing is written.
    """
    report = ImportReport(filename=filename[:200], is_dry_run=is_dry_run)
    try:
        with transaction.atomic():
            # One import per facility at a time. FOR NO KEY UPDATE does not
            # block other liaisons adding single profiles meanwhile.
            list(Facility.objects.select_for_update(no_key=True).filter(pk=facility.pk))
            for profile, fields, outcome in _validate(facility, rows, report):
                if profile is None:
                    _create(liaison, facility, fields, outcome, report)
                else:
                    _update(liaison, profile, fields, outcome, report)
            if not is_dry_run:
                services.record_action(
                    liaison,
                    facility,
                    services.Action.CSV_IMPORTED,
                    filename=report.filename,
                    rows=len(rows),
                    **report.counts(),
                )
    except DatabaseError as error:
        logger.exception("CSV import failed", extra={"facility": facility.pk})
        raise ImportFailed(
            gettext(
                "The import could not be completed and nothing was written. "
                "Try again; if it keeps failing, contact the Penpals team."
            )
        ) from error
    return report


def _validate(facility: Facility, rows: list[CsvRow], report: ImportReport):
    """Yield (row, existing profile or None, cleaned fields) for each valid
    row; add the others to report.rejected."""
    numbers_by_row = {row.number: row.cells["inmate_number"].strip() for row in rows}
    rows_by_number = defaultdict(list)
    for row in rows:
        if numbers_by_row[row.number]:
            rows_by_number[numbers_by_row[row.number]].append(row.number)
    existing = {
        profile.inmate_number: profile
        for profile in InmateProfile.objects.filter(
            facility=facility, inmate_number__in=list(rows_by_number)
        )
    }
    for row in rows:
        number = numbers_by_row[row.number]
        outcome = RowOutcome(row.number, number, display_name=row.cells["display_name"].strip())
        if row.problem:
            outcome.reasons.append(row.problem)
            report.rejected.append(outcome)
            continue
        others = [other for other in rows_by_number.get(number, []) if other != row.number]
        if others:
            outcome.reasons.append(
                gettext(
                    "inmate_number: %(number)s is also on row %(rows)s; "
                    "each person may appear only once."
                )
                % {"number": number, "rows": ", ".join(map(str, others))}
            )
        profile = existing.get(number)
        if profile is not None:
            try:
                services.ensure_editable(profile)
            except ValidationError as error:
                outcome.reasons.extend(error.messages)
        data, problems = form_data(row.cells)
        outcome.reasons.extend(problems)
        form = ProfileForm(data, facility=facility, profile=profile, check_inmate_number=False)
        if not form.is_valid():
            outcome.reasons.extend(form_errors(form))
        if outcome.reasons:
            report.rejected.append(outcome)
            continue
        outcome.display_name = form.cleaned_data["display_name"]
        yield profile, form.cleaned_data, outcome


def _create(liaison, facility: Facility, fields: dict, outcome: RowOutcome, report) -> None:
    if not report.is_dry_run:
        outcome.profile_id = services.do_create_profile(liaison, facility, fields).pk
    report.created.append(outcome)


def _update(liaison, profile: InmateProfile, fields: dict, outcome: RowOutcome, report) -> None:
    outcome.profile_id = profile.pk
    outcome.changed = services.changed_fields(profile, fields)
    if not outcome.changed:
        report.unchanged.append(outcome)
        return
    outcome.is_waiting_for_review = profile.status in (
        Profile.Status.PUBLISHED,
        Profile.Status.PAUSED,
    ) and any(
        fields[name] != getattr(profile, name)
        for name in outcome.changed
        if name in Profile.REVIEWED_FIELDS
    )
    if not report.is_dry_run:
        services.do_update_profile(liaison, profile, fields)
    report.updated.append(outcome)


# --- Writing CSV -------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet shows as text and never runs as a formula (CSV injection).

    Every cell of every CSV this service writes goes through here.
    """
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def write_csv(out, header: list[str], rows: list[dict]) -> None:
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(name) for name in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(row.get(name, "")) for name in header])


def write_template(out) -> None:
    """The header and one example row: a file to start an import from."""
    write_csv(out, list(COLUMN_NAMES), [EXAMPLE_ROW])


class CsvImportForm(forms.Form):
    """The liaison's upload: the file, read and checked here, and whether to write."""

    csv_file = forms.FileField(
        label=_("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    is_dry_run = forms.BooleanField(
        required=False,
        label=_("Check the file only: report what would happen and write nothing."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = megabytes(MAX_BYTES)
        field = self.fields["csv_file"]
        field.help_text = gettext(
            "UTF-8 CSV with a header row, at most %(rows)s rows and %(size)s."
        ) % {"rows": grouped(MAX_ROWS), "size": size}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        uploaded = cleaned.get("csv_file")
        if uploaded is not None:
            try:
                cleaned["rows"] = read_rows(uploaded)
            except forms.ValidationError as error:
                self.add_error("csv_file", error)
        return cleaned
