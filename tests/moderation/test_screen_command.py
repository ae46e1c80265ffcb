"""`manage.py screen`: files or stdin, text or JSON lines, default or database rules."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from moderation.models import ScreeningRule


def run_screen(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("screen", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def letters(tmp_path):
    clean = tmp_path / "clean.txt"
    clean.write_text("Dear Sam, the tomatoes are finally ripe.", encoding="utf-8")
    risky = tmp_path / "risky.txt"
    risky.write_text("Put it on my c a s h a p p, or call 614-555-0199.", encoding="utf-8")
    return clean, risky


def test_it_screens_with_the_default_rules_without_a_database(letters):
    # No db fixture: pytest-django fails the test on any database access.
    clean, risky = letters
    output = run_screen("--rules", "default", str(clean), str(risky))
    assert f"{clean}: risk 0 (clean)" in output
    assert f"{risky}: risk 70 (money, contact)" in output
    assert "'c a s h a p p'" in output
    assert "'614-555-0199'" in output
    assert "language   English" in output


def test_it_says_when_no_rules_are_written_for_a_letters_language(tmp_path):
    french = tmp_path / "french.txt"
    french.write_text(
        "Bonjour mon ami, merci pour ta lettre. J'espère que tu vas bien et que ta famille "
        "aussi. Ici il fait froid, mais on tient le coup.",
        encoding="utf-8",
    )
    output = run_screen("--rules", "default", str(french))
    assert "language   Not machine-screened: French" in output


def test_it_prints_one_json_object_per_input(letters):
    clean, risky = letters
    lines = run_screen("--rules", "default", "--json", str(clean), str(risky)).splitlines()
    first, second = [json.loads(line) for line in lines]
    assert {key: first[key] for key in ("source", "risk", "categories", "hits", "disguises")} == {
        "source": str(clean), "risk": 0, "categories": [], "hits": [], "disguises": [],
    }  # fmt: skip
    assert first["language"] == "en" and first["machine_screened"] is True
    assert 0 <= first["signal"] < 0.5 and first["needs_a_person"] is False
    assert second["source"] == str(risky)
    assert second["risk"] == 70
    assert second["categories"] == ["money", "contact"]
    assert second["hits"] == [
        {
            "category": "money",
            "rule": "Payment apps and money transfer services",
            "start": 13,
            "end": 26,
            "match": "c a s h a p p",
        },
        {
            "category": "contact",
            "rule": "Phone numbers",
            "start": 36,
            "end": 48,
            "match": "614-555-0199",
        },
    ]
    assert second["needs_a_person"] is True


def test_it_names_the_disguises_it_read_through(tmp_path):
    disguised = tmp_path / "disguised.txt"
    disguised.write_text("Put it on my v\u0435n\u2063mo.", encoding="utf-8")
    output = run_screen("--rules", "default", str(disguised))
    assert "disguised  invisible characters inside a word" in output
    # The word as Python's repr writes it: the invisible character made visible.
    assert "disguised  a word mixing scripts: 'v\u0435n\\u2063mo'" in output
    assert "money" in output


def test_it_reads_standard_input_for_a_dash(monkeypatch):
    output = run_screen(
        "--rules", "default", "--json", "-", stdin="venmo me", monkeypatch=monkeypatch
    )
    line = json.loads(output)
    assert line["source"] == "-"
    assert line["categories"] == ["money"]
    assert line["hits"][0]["match"] == "venmo"


def test_it_applies_the_scope(tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text("Please forward this letter to my sister.", encoding="utf-8")
    outbound = json.loads(run_screen("--rules", "default", "--json", str(letter)))
    profile = json.loads(
        run_screen("--rules", "default", "--json", "--scope", "profile", str(letter))
    )
    assert outbound["categories"] == ["other"]
    assert profile["categories"] == []


def test_it_uses_the_active_database_rules_by_default(tmp_path, default_screening_rules):
    ScreeningRule.objects.create(name="Crayons", category="contraband", pattern="crayons")
    ScreeningRule.objects.filter(name="Payment apps and money transfer services").update(
        is_active=False, updated_at=timezone.now()
    )
    letter = tmp_path / "letter.txt"
    letter.write_text("Send crayons to my venmo.", encoding="utf-8")
    line = json.loads(run_screen("--json", str(letter)))
    assert line["categories"] == ["contraband"]


def test_it_reports_unreadable_files(tmp_path):
    with pytest.raises(CommandError, match="missing.txt"):
        run_screen("--rules", "default", str(tmp_path / "missing.txt"))
