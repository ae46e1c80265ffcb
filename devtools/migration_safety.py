"""Migrations that stay safe on a full database (issue 19; README "Safe migrations").

Each new migration (not in devtools/migration_baseline.py) is turned into the
SQL it would run, as `sqlmigrate` prints it, and checked twice:

- django-migration-linter's PostgreSQL tests, for what the release still
  serving during a deploy cannot live with: renamed or dropped tables and
  columns, NOT NULL columns without a database default, new unique
  constraints, plain DROP INDEX/REINDEX, and its RunPython/RunSQL tests. A
  dropped table or column passes when the state before the migration no
  longer has it: the model let go of it earlier (the contract step).
- Our own lock tests, for what the linter does not catch: CREATE INDEX without
  CONCURRENTLY on a table that already exists, a column type change that
  rewrites the table, SET NOT NULL on an existing column, a FOREIGN KEY or
  CHECK constraint added without NOT VALID, a column added with a volatile
  default (or identity, serial or stored generated), and RunPython that walks
  a table's rows inside one transaction (a warning: a heuristic).

"The previous release" is read as the state before the migration; the check
cannot see releases, so the two halves of an expand/contract change must ship
in separate deploys (README). The SQL depends on the schema it runs against
(constraint names are looked up), so the database must have the schema of the
state being checked: `make migrations-check` starts an empty one and applies
the migrations in order.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import sqlparse
from django.apps import apps as installed_apps
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration, RunPython
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models import Field
from django_migration_linter.migration_linter import MigrationLinter
from django_migration_linter.sql_analyser import PostgresqlAnalyser, analyse_sql_statements

from devtools.migration_baseline import ACKNOWLEDGED, BASELINE

BASELINE_FILE = "devtools/migration_baseline.py"


@dataclass(frozen=True)
class Finding:
    """One thing a migration does that is unsafe on a full database."""

    migration: str  # "app_label.migration_name"
    code: str
    problem: str
    fix: str
    statement: str = ""
    is_error: bool = True


@dataclass
class Report:
    """What `check_new_migrations` found, by "app_label.migration_name"."""

    checked: list[str] = field(default_factory=list)
    baseline: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    acknowledged: list[tuple[Finding, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.is_error]


# --- What the state says ------------------------------------------------------------


class StateTables:
    """The tables and columns of a migration state, by their database names."""

    def __init__(self, state: ProjectState):
        self.state = state

    @cached_property
    def columns(self) -> dict[str, dict[str, Field]]:
        tables: dict[str, dict[str, Field]] = {}
        for model in self.state.apps.get_models(include_auto_created=True):
            fields = tables.setdefault(model._meta.db_table, {})
            for model_field in model._meta.local_concrete_fields:
                fields[model_field.column] = model_field
        return tables

    def has_table(self, table: str) -> bool:
        return table in self.columns

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, {})

    def column_type(self, table: str, column: str, connection: BaseDatabaseWrapper) -> str:
        model_field = self.columns.get(table, {}).get(column)
        return (model_field.db_type(connection) if model_field else None) or "?"


# --- The SQL of one migration ----------------------------------------------------------


@dataclass
class OperationSQL:
    operation: Operation
    before: ProjectState
    statements: list[str]


def _one_line(statement: str) -> str:
    return " ".join(statement.split())


def collect_sql(
    migration: Migration, state: ProjectState, connection: BaseDatabaseWrapper
) -> list[OperationSQL]:
    """The SQL each operation of `migration` runs on top of `state`, nothing executed.

    Like `sqlmigrate`, but per operation, with each operation's deferred SQL
    (indexes and foreign keys Django adds after a table) kept with it. The
    database must have the schema of `state`. `state` is not changed.
    """
    state = state.clone()
    collected: list[OperationSQL] = []
    with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
        for operation in migration.operations:
            before = state.clone()
            operation.state_forwards(migration.app_label, state)
            start = len(editor.collected_sql)
            if operation.reduces_to_sql:
                operation.database_forwards(migration.app_label, editor, before, state)
                for deferred in editor.deferred_sql:
                    editor.execute(deferred, None)
                editor.deferred_sql = []
            statements = [
                _one_line(statement)
                for chunk in editor.collected_sql[start:]
                for statement in sqlparse.split(chunk)
                if statement.strip() and not statement.lstrip().startswith("--")
            ]
            collected.append(OperationSQL(operation, before, statements))
    return collected


# --- Our lock tests -------------------------------------------------------------------

_NAME = r'"?(?P<{}>[^"\s(),;]+)"?'
CREATE_TABLE = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?" + _NAME.format("table"), re.I)
CREATE_INDEX = re.compile(
    r"^CREATE (?P<unique>UNIQUE )?INDEX (?P<concurrently>CONCURRENTLY )?(?:IF NOT EXISTS )?"
    + _NAME.format("index")
    + r" ON (?:ONLY )?"
    + _NAME.format("table"),
    re.I,
)
ALTER_TABLE = re.compile(r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?" + _NAME.format("table"), re.I)
ALTER_TYPE = re.compile(
    r"ALTER COLUMN "
    + _NAME.format("column")
    + r" (?:SET DATA )?TYPE (?P<type>.+?)(?= USING | COLLATE |, ALTER |;|$)",
    re.I,
)
SET_NOT_NULL = re.compile(r"ALTER COLUMN " + _NAME.format("column") + r" SET NOT NULL", re.I)
ADD_CONSTRAINT = re.compile(
    r"ADD CONSTRAINT " + _NAME.format("name") + r" (?P<kind>FOREIGN KEY|CHECK)\b", re.I
)
ADD_COLUMN = re.compile(
    r"ADD COLUMN (?:IF NOT EXISTS )?" + _NAME.format("column") + r" (?P<definition>.*)", re.I
)
# Defaults Postgres must compute row by row, rewriting the table (a constant
# or a STABLE function such as now() is stored once since Postgres 11).
VOLATILE = re.compile(
    r"\b(?:random|gen_random_uuid|uuid_generate_v[14]|clock_timestamp|timeofday|nextval)\s*\("
    r"|\bGENERATED\b.*\b(?:AS IDENTITY|STORED)\b|\b(?:small|big)?serial\b",
    re.I,
)
VARCHAR = re.compile(r"(?:varchar|character varying)\((\d+)\)", re.I)
NUMERIC = re.compile(r"numeric\((\d+),\s*(\d+)\)", re.I)


def is_widening(old_type: str, new_type: str) -> bool:
    """Whether Postgres changes the type without rewriting the table (binary-coercible)."""
    old_type, new_type = old_type.strip().lower(), new_type.strip().lower()
    if old_type == new_type:
        return True
    if (old_varchar := VARCHAR.fullmatch(old_type)) is not None:
        if new_type in ("text", "varchar", "character varying"):
            return True
        new_varchar = VARCHAR.fullmatch(new_type)
        return new_varchar is not None and int(new_varchar[1]) >= int(old_varchar[1])
    old_numeric, new_numeric = NUMERIC.fullmatch(old_type), NUMERIC.fullmatch(new_type)
    if old_numeric and new_numeric:
        return old_numeric[2] == new_numeric[2] and int(new_numeric[1]) >= int(old_numeric[1])
    return False


INDEX_FIX = (
    "Build it with django.contrib.postgres.operations.AddIndexConcurrently in a migration of "
    "its own with `atomic = False` (a ForeignKey or db_index field: add it with "
    "db_index=False, then the index concurrently). A unique index: RunSQL "
    "`CREATE UNIQUE INDEX CONCURRENTLY ...` in such a migration (state_operations=[the "
    "AddConstraint]), then `ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX ...`."
)
REWRITE_FIX = (
    "Expand and contract: add a new nullable column of the new type, have the code write "
    "both, backfill in batches, switch the reads, and drop the old column in a later "
    "release. Widening varchar, varchar to text or numeric precision rewrites nothing "
    "and passes."
)
NOT_NULL_SCAN_FIX = (
    "RunSQL `ADD CONSTRAINT <name> CHECK (<column> IS NOT NULL) NOT VALID`, then "
    "`VALIDATE CONSTRAINT <name>` in a later migration (it lets reads and writes go on), "
    "then SET NOT NULL (Postgres 12+ trusts the validated check and skips the scan) and "
    "drop the check; state_operations=[the AlterField]."
)
CONSTRAINT_FIX = (
    "Add it with NOT VALID (RunSQL with state_operations=[the AddField/AddConstraint]; a "
    "ForeignKey: db_constraint=False first), then `ALTER TABLE ... VALIDATE CONSTRAINT ...` "
    "in a later migration: validation checks the rows without blocking writes."
)
DEFAULT_FIX = (
    "Add the column nullable without a default (or with a constant db_default), backfill "
    "it in batches, then set the default for new rows."
)
RUNPYTHON_FIX = (
    "On a big table, backfill in batches of a few thousand rows, each committed on its own "
    "(a migration with `atomic = False`, or a management command run after the deploy), "
    "or with one set-based UPDATE if it is quick. Acknowledge it if the table is small."
)


def check_locks(
    migration_name: str,
    operations: list[OperationSQL],
    connection: BaseDatabaseWrapper,
) -> list[Finding]:
    """Statements that hold a lock on an existing table for as long as the table is big."""
    new_tables = {
        match["table"]
        for operation in operations
        for statement in operation.statements
        if (match := CREATE_TABLE.match(statement))
    }
    findings: list[Finding] = []

    def flag(code: str, problem: str, fix: str, statement: str) -> None:
        findings.append(Finding(migration_name, code, problem, fix, statement))

    for operation in operations:
        for statement in operation.statements:
            index = CREATE_INDEX.match(statement)
            if index and not index["concurrently"] and index["table"] not in new_tables:
                flag(
                    "INDEX_BLOCKS_WRITES",
                    f"builds {'unique ' if index['unique'] else ''}index {index['index']} on "
                    f"existing table {index['table']} without CONCURRENTLY: every write to "
                    "the table waits until the whole index is built.",
                    INDEX_FIX,
                    statement,
                )
            altered = ALTER_TABLE.match(statement)
            if not altered or altered["table"] in new_tables:
                continue
            table = altered["table"]
            for change in ALTER_TYPE.finditer(statement):
                column, new_type = change["column"], change["type"]
                old_type = StateTables(operation.before).column_type(table, column, connection)
                if not is_widening(old_type, new_type):
                    flag(
                        "COLUMN_TYPE_REWRITE",
                        f"changes {table}.{column} from {old_type} to {new_type}: Postgres "
                        "rewrites the whole table under an ACCESS EXCLUSIVE lock (no reads, "
                        "no writes) and rebuilds its indexes.",
                        REWRITE_FIX,
                        statement,
                    )
            for not_null in SET_NOT_NULL.finditer(statement):
                flag(
                    "SET_NOT_NULL_SCAN",
                    f"sets NOT NULL on existing column {table}.{not_null['column']}: Postgres "
                    "reads every row under an ACCESS EXCLUSIVE lock (no reads, no writes).",
                    NOT_NULL_SCAN_FIX,
                    statement,
                )
            constraint = ADD_CONSTRAINT.search(statement)
            if constraint and not re.search(r"\bNOT VALID\b", statement, re.I):
                kind = constraint["kind"].upper()
                also = " and to the table it references" if kind == "FOREIGN KEY" else ""
                flag(
                    "CONSTRAINT_SCAN",
                    f"adds {kind} constraint {constraint['name']} on existing table {table} "
                    f"without NOT VALID: Postgres checks every row while holding a lock that "
                    f"blocks writes to {table}{also}.",
                    CONSTRAINT_FIX,
                    statement,
                )
            added = ADD_COLUMN.search(statement)
            if added and (volatile := VOLATILE.search(added["definition"])):
                flag(
                    "VOLATILE_DEFAULT_REWRITE",
                    f"adds column {table}.{added['column']} with a value computed per row "
                    f"({volatile.group(0).strip()}): Postgres rewrites the whole table under an "
                    "ACCESS EXCLUSIVE lock (no reads, no writes).",
                    DEFAULT_FIX,
                    statement,
                )
    return findings


# Reading rows in a loop, or writing them one by one, inside RunPython.
ROW_LOOP = re.compile(r"\bfor\b[^\n]*\bin\b[^\n]*\.objects\b|\.iterator\(|\.save\(|bulk_update\(")


def check_data_migrations(migration_name: str, migration: Migration) -> list[Finding]:
    """RunPython that walks a table's rows inside one transaction (a heuristic: a warning)."""
    findings = []
    for operation in migration.operations:
        if not isinstance(operation, RunPython) or not migration.atomic:
            continue
        code = MigrationLinter.discover_function(operation.code)
        try:
            source = inspect.getsource(code)
        except (OSError, TypeError):
            continue
        if ROW_LOOP.search(source):
            findings.append(
                Finding(
                    migration_name,
                    "RUNPYTHON_ROW_LOOP",
                    f"RunPython {code.__name__} goes through rows one by one inside the "
                    "migration's single transaction: on a big table it runs long and keeps "
                    "every row it wrote locked until the end.",
                    RUNPYTHON_FIX,
                    is_error=False,
                )
            )
    return findings


# --- django-migration-linter's tests ----------------------------------------------------

LINTER_PROBLEMS = {
    "RENAME_TABLE": "renames a table: the release still serving uses the old name.",
    "RENAME_COLUMN": "renames a column: the release still serving reads the old name.",
    "DROP_TABLE": (
        "drops table {table}, which the state before this migration still has: the release "
        "still serving queries it."
    ),
    "DROP_COLUMN": (
        "drops column {table}.{column}, which the state before this migration still has: the "
        "release still serving selects and inserts it."
    ),
    "NOT_NULL": (
        "makes a column NOT NULL without a database default that stays: the release still "
        "serving inserts rows without it, and they fail."
    ),
    "ADD_UNIQUE": (
        "adds a unique constraint: its index is built under a lock that blocks writes, and "
        "the release still serving may write duplicates."
    ),
    "DROP_INDEX": "drops an index without CONCURRENTLY: it waits for, then holds, an ACCESS "
    "EXCLUSIVE lock on the table.",
    "REINDEX": "runs REINDEX: it blocks writes to the table while it rebuilds.",
}
CONTRACT_FIX = (
    "Contract in two releases: first take it out of the model state only "
    "(SeparateDatabaseAndState(state_operations=[...], database_operations=[])), deploy, "
    "then drop it from the database in a later release's migration."
)
LINTER_FIXES = {
    "RENAME_TABLE": (
        "Keep the table's name (Meta.db_table), or create the new table, write both, backfill, "
        "switch, and drop the old one in a later release."
    ),
    "RENAME_COLUMN": (
        "Rename only in Python (db_column='old_name'), or add the new column, write both, "
        "backfill, switch, and drop the old one in a later release."
    ),
    "DROP_TABLE": CONTRACT_FIX,
    "DROP_COLUMN": CONTRACT_FIX,
    "NOT_NULL": (
        "Give the field a db_default (kept in the database), or add it nullable, backfill in "
        "batches, then constrain it: " + NOT_NULL_SCAN_FIX
    ),
    "ADD_UNIQUE": INDEX_FIX,
    "DROP_INDEX": (
        "Use django.contrib.postgres.operations.RemoveIndexConcurrently in a migration with "
        "`atomic = False`."
    ),
    "REINDEX": "Use REINDEX ... CONCURRENTLY in a migration with `atomic = False`.",
    "RUNPYTHON_MODEL_IMPORT": "Get models with apps.get_model(...) inside RunPython.",
}


class LinterTests:
    """django-migration-linter's tests, configured by settings.MIGRATION_LINTER_OPTIONS."""

    def __init__(self, connection: BaseDatabaseWrapper):
        options = getattr(settings, "MIGRATION_LINTER_OPTIONS", {})
        self.excluded: list[str] = list(options.get("exclude_migration_tests", []))
        self.warnings_as_errors: set[str] = set(options.get("warnings_as_errors", []))
        # Only its RunPython/RunSQL tests are used from the linter object; no cache
        # (its cache is keyed by file hash, and tests check migrations built in memory).
        self.linter = MigrationLinter(
            database=connection.alias,
            no_cache=True,
            no_output=True,
            exclude_migration_tests=self.excluded,
            analyser_string="postgresql",
        )

    def check(
        self,
        migration_name: str,
        migration: Migration,
        statements: list[str],
        before: StateTables,
    ) -> list[Finding]:
        errors, _, warnings = analyse_sql_statements(PostgresqlAnalyser, statements, self.excluded)
        data_errors, _, data_warnings = self.linter.analyse_data_migration(migration)
        findings = []
        for issue, is_error in [
            *((issue, True) for issue in [*errors, *data_errors]),
            *((issue, issue.code in self.warnings_as_errors) for issue in warnings),
            *((issue, issue.code in self.warnings_as_errors) for issue in data_warnings),
        ]:
            if issue.code == "DROP_TABLE" and issue.table and not before.has_table(issue.table):
                continue  # the model let go of it earlier: the contract step
            if (
                issue.code == "DROP_COLUMN"
                and issue.table
                and issue.column
                and not before.has_column(issue.table, issue.column)
            ):
                continue
            problem = LINTER_PROBLEMS.get(issue.code, issue.message).format(
                table=issue.table or "?", column=issue.column or "?"
            )
            fix = LINTER_FIXES.get(
                issue.code, f"See django-migration-linter's documentation of {issue.code}."
            )
            findings.append(Finding(migration_name, issue.code, problem, fix, is_error=is_error))
        return findings


# --- Putting it together ---------------------------------------------------------------


def check_migration(
    migration: Migration,
    state: ProjectState,
    connection: BaseDatabaseWrapper,
    linter: LinterTests | None = None,
) -> list[Finding]:
    """Every finding for `migration` run on top of `state` (the state before it).

    The database behind `connection` must have the schema of `state`; nothing
    is executed. A migration whose SQL cannot be produced is one finding.
    """
    name = f"{migration.app_label}.{migration.name}"
    try:
        operations = collect_sql(migration, state, connection)
    except Exception as error:  # noqa: BLE001 - reported as a finding, not a crash
        return [
            Finding(
                name,
                "NO_SQL",
                f"its SQL cannot be produced: {error}",
                "Fix the migration so that `manage.py sqlmigrate` prints it.",
            )
        ]
    statements = [statement for operation in operations for statement in operation.statements]
    linter = linter or LinterTests(connection)
    findings = [
        *linter.check(name, migration, statements, StateTables(state)),
        *check_locks(name, operations, connection),
        *check_data_migrations(name, migration),
    ]
    # The linter reads RunSQL twice (in the migration's SQL and on its own).
    return list(dict.fromkeys(findings))


def apply_acknowledgements(
    findings: Iterable[Finding], acknowledged: Mapping[str, Mapping[str, str]]
) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    """Split findings into those still standing and those acknowledged (with the reason)."""
    standing, excused = [], []
    for finding in findings:
        reason = acknowledged.get(finding.migration, {}).get(finding.code, "").strip()
        if reason:
            excused.append((finding, reason))
        else:
            standing.append(finding)
    return standing, excused


def project_apps() -> set[str]:
    """Labels of our own apps (their code lives in the repository, not in .venv)."""
    base = Path(settings.BASE_DIR).resolve()
    return {
        config.label
        for config in installed_apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base)
        and not Path(config.path).resolve().is_relative_to(base / ".venv")
    }


def list_problems(
    migrations: Iterable[str],
    baseline: Mapping[str, str],
    acknowledged: Mapping[str, Mapping[str, str]],
) -> list[Finding]:
    """Entries of the baseline and acknowledgements that are not true any more."""
    known = set(migrations)
    problems = []
    for name, reason in baseline.items():
        if name not in known:
            problems.append(
                Finding(
                    name,
                    "BASELINE",
                    "is in BASELINE but no such migration exists.",
                    f"Remove it from {BASELINE_FILE}.",
                )
            )
        elif not reason.strip():
            problems.append(
                Finding(
                    name,
                    "BASELINE",
                    "is in BASELINE without a reason.",
                    f"Say why in {BASELINE_FILE}.",
                )
            )
    for name, codes in acknowledged.items():
        if name not in known or name in baseline:
            problems.append(
                Finding(
                    name,
                    "ACKNOWLEDGED",
                    "is acknowledged but is not a new migration.",
                    f"Remove it from ACKNOWLEDGED in {BASELINE_FILE}.",
                )
            )
        for code, reason in codes.items():
            if not reason.strip():
                problems.append(
                    Finding(
                        name,
                        code,
                        "is acknowledged without a reason.",
                        f"Say why in ACKNOWLEDGED in {BASELINE_FILE}.",
                    )
                )
    return problems


def check_new_migrations(
    connection: BaseDatabaseWrapper,
    baseline: Mapping[str, str] = BASELINE,
    acknowledged: Mapping[str, Mapping[str, str]] = ACKNOWLEDGED,
) -> Report:
    """Check every migration of our apps that is not in `baseline`.

    The database must be empty: migrations are applied one by one up to the
    last new one, so that each is checked against the schema it will meet.
    """
    executor = MigrationExecutor(connection)
    loader = executor.loader
    ours = project_apps()
    full_plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    names = [f"{m.app_label}.{m.name}" for m, _ in full_plan if m.app_label in ours]
    report = Report(baseline=[name for name in names if name in baseline])
    report.findings.extend(list_problems(names, baseline, acknowledged))

    new = [name for name in names if name not in baseline]
    if new and loader.applied_migrations:
        raise RuntimeError(
            "The migrations check applies migrations one by one and needs an empty database; "
            "this one has migrations applied. `make migrations-check` starts an empty one."
        )
    linter = LinterTests(connection) if new else None
    state = ProjectState(real_apps=loader.unmigrated_apps)
    found: list[Finding] = []
    for migration, _ in full_plan if new else []:
        name = f"{migration.app_label}.{migration.name}"
        if name in new:
            report.checked.append(name)
            found.extend(check_migration(migration, state, connection, linter))
            if name == new[-1]:
                break
        state.apps  # noqa: B018 - render once; each migration then re-renders only its models
        state = executor.apply_migration(state, migration)

    standing, report.acknowledged = apply_acknowledgements(found, acknowledged)
    report.findings.extend(standing)
    for name, codes in acknowledged.items():
        for code in codes:
            if name in report.checked and not any(
                finding.migration == name and finding.code == code for finding in found
            ):
                report.findings.append(
                    Finding(
                        name,
                        code,
                        "is acknowledged, but the check no longer finds it.",
                        f"Remove it from ACKNOWLEDGED in {BASELINE_FILE}.",
                    )
                )
    return report
