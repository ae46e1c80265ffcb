"""The migrations check (devtools/migration_safety.py, `make migrations-check`).

New migrations are built in memory on top of the real migration state, on
profiles_inmateprofile (the table that holds 100,000 profiles in the
benchmarks), and checked against the test database, which has that schema.
Two tests run the command itself on an empty database of their own: the real
tree passes, and a migration file that builds a plain index fails it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from devtools.migration_baseline import ACKNOWLEDGED, BASELINE
from devtools.migration_safety import (
    Finding,
    apply_acknowledgements,
    check_migration,
    is_widening,
    list_problems,
)
from tests.utils import database_url

ROOT = Path(__file__).resolve().parents[2]
NAME = "profiles.0999_new"


def current_state() -> ProjectState:
    """The state after every migration on disk: the test database's schema."""
    return MigrationLoader(connection).project_state()


def new_migration(*operations, atomic: bool = True, name: str = "0999_new") -> migrations.Migration:
    migration = migrations.Migration(name, "profiles")
    migration.operations = list(operations)
    migration.atomic = atomic
    return migration


def errors(*operations, atomic: bool = True, state: ProjectState | None = None) -> list[Finding]:
    migration = new_migration(*operations, atomic=atomic)
    findings = check_migration(migration, state or current_state(), connection)
    return [finding for finding in findings if finding.is_error]


def codes(findings: list[Finding]) -> set[str]:
    return {finding.code for finding in findings}


# --- Unsafe migrations are flagged, with the migration and the fix ----------------------


@pytest.mark.django_db
def test_it_flags_a_plain_index_on_a_big_table():
    [finding] = errors(
        migrations.AddIndex(
            model_name="inmateprofile",
            index=models.Index(fields=["display_name"], name="profiles_test_display"),
        )
    )
    assert finding.migration == NAME
    assert finding.code == "INDEX_BLOCKS_WRITES"
    assert "profiles_test_display" in finding.problem
    assert "existing table profiles_inmateprofile without CONCURRENTLY" in finding.problem
    assert "AddIndexConcurrently" in finding.fix and "atomic = False" in finding.fix
    assert finding.statement.startswith('CREATE INDEX "profiles_test_display" ON')


@pytest.mark.django_db
def test_it_flags_a_column_type_change_that_rewrites_the_table():
    [finding] = errors(
        migrations.AlterField(
            model_name="inmateprofile",
            name="display_name",
            field=models.CharField(max_length=40),
        )
    )
    assert finding.migration == NAME
    assert finding.code == "COLUMN_TYPE_REWRITE"
    assert "profiles_inmateprofile.display_name from varchar(80) to varchar(40)" in (
        finding.problem
    )
    assert "rewrites the whole table" in finding.problem
    assert "add a new nullable column" in finding.fix


@pytest.mark.django_db
def test_it_flags_a_not_null_column_without_a_database_default():
    findings = errors(
        migrations.AddField(
            model_name="inmateprofile",
            name="nickname",
            field=models.CharField(max_length=20, default="x"),
        )
    )
    assert codes(findings) == {"NOT_NULL"}
    [finding] = findings
    assert finding.migration == NAME
    assert "inserts rows without it" in finding.problem
    assert "db_default" in finding.fix


@pytest.mark.django_db
def test_it_flags_dropping_a_column_the_running_release_still_has():
    [finding] = errors(migrations.RemoveField(model_name="inmateprofile", name="release_date"))
    assert finding.migration == NAME
    assert finding.code == "DROP_COLUMN"
    assert "profiles_inmateprofile.release_date" in finding.problem
    assert "SeparateDatabaseAndState" in finding.fix


@pytest.mark.django_db
def test_it_flags_set_not_null_on_an_existing_column():
    findings = errors(
        migrations.AlterField(
            model_name="inmateprofile",
            name="release_date",
            field=models.DateField(db_default=date(2030, 1, 1)),
        )
    )
    [scan] = [finding for finding in findings if finding.code == "SET_NOT_NULL_SCAN"]
    assert "profiles_inmateprofile.release_date" in scan.problem
    assert "NOT VALID" in scan.fix and "VALIDATE CONSTRAINT" in scan.fix


@pytest.mark.django_db
def test_it_flags_a_check_constraint_without_not_valid():
    [finding] = errors(
        migrations.AddConstraint(
            model_name="inmateprofile",
            constraint=models.CheckConstraint(
                condition=~models.Q(display_name=""), name="profiles_test_named"
            ),
        )
    )
    assert finding.code == "CONSTRAINT_SCAN"
    assert "CHECK constraint profiles_test_named" in finding.problem
    assert "NOT VALID" in finding.fix


@pytest.mark.django_db
def test_it_flags_a_column_with_a_volatile_default():
    [finding] = errors(
        migrations.AddField(
            model_name="inmateprofile",
            name="token",
            field=models.UUIDField(db_default=RandomUUID()),
        )
    )
    assert finding.code == "VOLATILE_DEFAULT_REWRITE"
    assert "gen_random_uuid(" in finding.problem.lower()


@pytest.mark.django_db
def test_it_says_a_concurrent_index_needs_a_non_atomic_migration():
    [finding] = errors(
        AddIndexConcurrently(
            model_name="inmateprofile",
            index=models.Index(fields=["display_name"], name="profiles_test_display"),
        )
    )
    assert finding.code == "NO_SQL"
    assert "set atomic = False" in finding.problem


def fill_nicknames(apps, schema_editor):
    InmateProfile = apps.get_model("profiles", "InmateProfile")
    for profile in InmateProfile.objects.all():
        profile.display_name = profile.display_name.strip()
        profile.save(update_fields=["display_name"])


@pytest.mark.django_db
def test_it_warns_of_a_row_by_row_backfill_in_one_transaction():
    migration = new_migration(migrations.RunPython(fill_nicknames, migrations.RunPython.noop))
    findings = check_migration(migration, current_state(), connection)
    [warning] = findings
    assert (warning.code, warning.is_error) == ("RUNPYTHON_ROW_LOOP", False)
    assert "fill_nicknames" in warning.problem and "batches" in warning.fix

    migration.atomic = False
    assert check_migration(migration, current_state(), connection) == []


# --- Safe migrations pass ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_passes_a_concurrent_index_in_a_non_atomic_migration():
    assert (
        errors(
            AddIndexConcurrently(
                model_name="inmateprofile",
                index=models.Index(fields=["display_name"], name="profiles_test_display"),
            ),
            atomic=False,
        )
        == []
    )


@pytest.mark.django_db
def test_it_passes_a_nullable_column_and_one_with_a_database_default():
    assert (
        errors(
            migrations.AddField(
                model_name="inmateprofile",
                name="nickname",
                field=models.CharField(max_length=20, null=True),
            ),
            migrations.AddField(
                model_name="inmateprofile",
                name="is_featured",
                field=models.BooleanField(db_default=False),
            ),
            migrations.AddField(
                model_name="inmateprofile",
                name="flagged_at",
                field=models.DateTimeField(db_default=models.functions.Now()),
            ),
        )
        == []
    )


@pytest.mark.django_db
def test_it_passes_widening_a_column():
    assert (
        errors(
            migrations.AlterField(
                model_name="inmateprofile",
                name="display_name",
                field=models.CharField(max_length=200),
            ),
            migrations.AlterField(
                model_name="inmateprofile", name="inmate_number", field=models.TextField()
            ),
        )
        == []
    )


@pytest.mark.django_db
def test_it_passes_indexes_and_constraints_of_a_table_it_creates():
    assert (
        errors(
            migrations.CreateModel(
                name="ProfileNote",
                fields=[
                    ("id", models.BigAutoField(primary_key=True)),
                    (
                        "profile",
                        models.ForeignKey("profiles.inmateprofile", on_delete=models.CASCADE),
                    ),
                    ("text", models.TextField()),
                ],
            ),
            migrations.AddIndex(
                model_name="profilenote",
                index=models.Index(fields=["text"], name="profiles_test_note_text"),
            ),
            migrations.AddConstraint(
                model_name="profilenote",
                constraint=models.CheckConstraint(
                    condition=~models.Q(text=""), name="profiles_test_note_named"
                ),
            ),
        )
        == []
    )


@pytest.mark.django_db
def test_it_passes_dropping_a_column_the_model_let_go_of_earlier():
    state = current_state()
    let_go = new_migration(
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("inmateprofile", "release_date")]
        )
    )
    assert check_migration(let_go, state, connection) == []
    state = let_go.mutate_state(state)
    drop = new_migration(
        migrations.RunSQL(
            'ALTER TABLE "profiles_inmateprofile" DROP COLUMN "release_date"',
            migrations.RunSQL.noop,
        )
    )
    assert check_migration(drop, state, connection) == []


def test_it_knows_which_type_changes_rewrite():
    assert is_widening("varchar(80)", "varchar(200)")
    assert is_widening("varchar(80)", "text")
    assert is_widening("numeric(10, 2)", "numeric(12, 2)")
    assert not is_widening("varchar(80)", "varchar(40)")
    assert not is_widening("integer", "bigint")
    assert not is_widening("numeric(10, 2)", "numeric(12, 3)")


# --- The baseline and acknowledgements ------------------------------------------------------


def test_it_sets_acknowledged_findings_aside_with_their_reason():
    flagged = Finding(NAME, "DROP_COLUMN", "drops it", "contract")
    other = Finding(NAME, "INDEX_BLOCKS_WRITES", "locks", "concurrently")
    standing, excused = apply_acknowledgements(
        [flagged, other], {NAME: {"DROP_COLUMN": "0998 took it out of the state."}}
    )
    assert standing == [other]
    assert excused == [(flagged, "0998 took it out of the state.")]
    standing, excused = apply_acknowledgements([flagged], {NAME: {"DROP_COLUMN": " "}})
    assert (standing, excused) == ([flagged], [])


def test_it_refuses_baseline_entries_that_are_not_true():
    problems = list_problems(
        ["profiles.0001_initial", NAME],
        baseline={"profiles.0001_initial": "", "profiles.0404_gone": "old"},
        acknowledged={"profiles.0001_initial": {"NOT_NULL": "x"}, NAME: {"DROP_COLUMN": ""}},
    )
    assert {(problem.migration, problem.problem) for problem in problems} == {
        ("profiles.0001_initial", "is in BASELINE without a reason."),
        ("profiles.0404_gone", "is in BASELINE but no such migration exists."),
        ("profiles.0001_initial", "is acknowledged but is not a new migration."),
        (NAME, "is acknowledged without a reason."),
    }


def test_it_gives_every_baseline_entry_a_reason():
    assert BASELINE
    assert all(reason.strip() for reason in BASELINE.values())
    assert all(reason.strip() for codes in ACKNOWLEDGED.values() for reason in codes.values())


# --- The command, on an empty database of its own ---------------------------------------------


@pytest.fixture
def empty_database(django_db_setup, django_db_blocker):
    """DATABASE_URL of a new, empty database on the test server, dropped afterwards."""
    settings_dict = dict(connection.settings_dict)
    name = f"penpals_migrations_{secrets.token_hex(4)}"
    admin_params = {
        "host": settings_dict["HOST"],
        "port": settings_dict["PORT"],
        "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"],
        "dbname": settings_dict["NAME"],
        "autocommit": True,
    }
    with django_db_blocker.unblock(), psycopg.connect(**admin_params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield database_url({**settings_dict, "NAME": name})
    with django_db_blocker.unblock(), psycopg.connect(**admin_params) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run_check(database: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "ignore::RuntimeWarning", "manage.py", "check_migration_safety"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_DEBUG": "true",
            "REDIS_URL": "",
            "DATABASE_URL": database,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_it_passes_the_real_migrations(empty_database):
    result = run_check(empty_database)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(BASELINE)} in the baseline" in result.stdout
    assert " 0 error(s)" in result.stdout


UNSAFE_MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("profiles", "{parent}")]
    operations = [
        migrations.AddIndex(
            model_name="inmateprofile",
            index=models.Index(fields=["display_name"], name="profiles_unsafe_display"),
        )
    ]
"""


def test_it_fails_a_new_migration_file_that_locks_a_big_table(empty_database, tmp_path):
    # The profiles migrations on disk, plus one more, through MIGRATION_MODULES.
    package = tmp_path / "unsafe_profiles_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    real = sorted((ROOT / "profiles" / "migrations").glob("0*.py"))
    for path in real:
        (package / path.name).write_text(path.read_text())
    (package / "9999_unsafe_index.py").write_text(UNSAFE_MIGRATION.format(parent=real[-1].stem))
    (tmp_path / "unsafe_settings.py").write_text(
        "from penpals.settings import *  # noqa: F403\n"
        'MIGRATION_MODULES = {"profiles": "unsafe_profiles_migrations"}\n'
    )

    result = run_check(
        empty_database,
        DJANGO_SETTINGS_MODULE="unsafe_settings",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: profiles.9999_unsafe_index INDEX_BLOCKS_WRITES: builds index " in result.stdout
    assert "fix: Build it with django.contrib.postgres.operations.AddIndexConcurrently" in (
        result.stdout
    )
    assert "Unsafe migrations" in result.stderr
