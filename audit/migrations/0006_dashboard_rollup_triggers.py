"""The dashboard rollups are kept by the database itself, in the statement that writes audit rows.

Every path that writes audit rows (the ORM on SQLite, the one-statement INSERT on PostgreSQL,
the async gateway, raw SQL) is counted without a line of application code, and a maintenance
UPDATE or DELETE (``omni2.audit_maintenance``) moves or removes its rows' share.

- PostgreSQL: statement-level triggers with transition tables: a statement's rows are summed
  once and upserted, one row per rollup key, in key order (two writers lock the same rollup
  rows in the same order: no deadlock). A million-row UPDATE is one aggregate, not a million
  upserts. The one exception is INSERT into the audit log, a row trigger (see PG_ROW_INSERT).
- SQLite (the embedded mode): row triggers, an upsert per rollup and row.

Creating a trigger locks the table against writes until this migration commits, so the
backfill below sees every row and none is counted twice. Days are UTC days; the duration bucket
keeps two significant figures (``audit.dashboard.figures.duration_bucket`` is the same rule).
"""

from dataclasses import dataclass, field

from django.db import migrations

LOGS, CALLS = "audit_auditlog", "audit_toolcalllog"


@dataclass(frozen=True)
class Rollup:
    source: str
    table: str
    keys: dict  # column -> expression over the row alias {r}
    sums: dict  # column -> expression (times the sign) over {r}
    where: str = field(default="")


def _bucket(value: str) -> str:
    """Two significant figures, exact below 100: integer division on both databases."""
    steps = " ".join(
        f"WHEN {value} < {10 ** (n + 2)} THEN {value} / {10**n} * {10**n}" for n in range(1, 9)
    )
    return f"(CASE WHEN {value} < 100 THEN {value} {steps} ELSE {value} / 1000000000 * 1000000000 END)"


DIALECTS = {
    "postgresql": {
        "day": "({r}.created_at AT TIME ZONE 'UTC')::date",
        "micros": "round({r}.cost_usd * 1000000)::bigint",
    },
    "sqlite": {
        "day": "date({r}.created_at)",
        "micros": "CAST(round({r}.cost_usd * 1000000) AS INTEGER)",
    },
}

TOKENS = ("tokens_input", "tokens_output", "tokens_cache_read", "tokens_cache_write")
ROLLUPS = (
    Rollup(
        LOGS,
        "audit_auditdailyrollup",
        keys={"day": "{day}", "model": "{r}.model", "status": "{r}.status"},
        sums={"requests": "1", "cost_micros": "{micros}"} | {t: f"{{r}}.{t}" for t in TOKENS},
    ),
    Rollup(
        LOGS,
        "audit_audituserdailyrollup",
        keys={"day": "{day}", "user_id": "COALESCE({r}.user_id, 0)"},
        sums={"requests": "1", "cost_micros": "{micros}"},
    ),
    Rollup(
        CALLS,
        "audit_toolcalldailyrollup",
        keys={"day": "{day}", "mcp": "{r}.mcp", "tool": "{r}.tool", "status": "{r}.status"},
        sums={"calls": "1"},
    ),
    Rollup(
        CALLS,
        "audit_toolcalldurationrollup",
        keys={"day": "{day}", "mcp": "{r}.mcp", "bucket_ms": _bucket("{r}.duration_ms")},
        sums={"calls": "1"},
        where="{r}.status <> 'denied'",
    ),
)


def _expr(template: str, vendor: str, alias: str) -> str:
    dialect = {name: text.format(r=alias) for name, text in DIALECTS[vendor].items()}
    return template.format(r=alias, **dialect)


def _upsert(rollup: Rollup, vendor: str, source: str, sign: str, where: str = "") -> str:
    """INSERT the summed rows of ``source`` (alias r) into the rollup, adding to existing keys."""
    keys, sums = list(rollup.keys), list(rollup.sums)
    key_exprs = [_expr(rollup.keys[k], vendor, "r") for k in keys]
    sum_exprs = [f"SUM({sign} * {_expr(rollup.sums[s], vendor, 'r')})" for s in sums]
    conditions = [c for c in (where, _expr(rollup.where, vendor, "r")) if c] or ["1 = 1"]
    positions = ", ".join(str(n) for n in range(1, len(keys) + 1))
    return (
        f"INSERT INTO {rollup.table} ({', '.join(keys + sums)}) "
        f"SELECT {', '.join(key_exprs + sum_exprs)} FROM {source} AS r "
        f"WHERE {' AND '.join(conditions)} GROUP BY {positions} ORDER BY {positions} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{s} = {rollup.table}.{s} + excluded.{s}" for s in sums)
    )


def _for(source_table: str) -> list[Rollup]:
    return [rollup for rollup in ROLLUPS if rollup.source == source_table]


# --- PostgreSQL ---------------------------------------------------------------------------------

PG_SOURCES = {
    "INSERT": "(SELECT n.*, 1 AS sign FROM new_rows n)",
    "DELETE": "(SELECT o.*, -1 AS sign FROM old_rows o)",
    "UPDATE": "(SELECT n.*, 1 AS sign FROM new_rows n UNION ALL SELECT o.*, -1 FROM old_rows o)",
}
PG_TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}
# The application writes audit rows one per statement: a row trigger (its plan cached) costs
# about half a statement trigger's transition table there (bench/dashboard.py), and one row
# locks its two rollup rows in table order, so no two writers wait on each other in a circle.
# Tool calls come several per statement and keep the statement trigger's ordered upserts.
PG_ROW_INSERT = (LOGS,)


def _pg_function(name: str, source_table: str, sources: dict) -> str:
    branches = []
    for op, source in sources.items():
        upserts = "".join(f"        {_upsert(r, 'postgresql', source, 'r.sign')};\n" for r in _for(source_table))
        branches.append(f"IF TG_OP = '{op}' THEN\n{upserts}    END IF;")
    body = "\n    ".join(branches)
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$\n"
        f"BEGIN\n    {body}\n    RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql;"
    )


def _pg_create(schema_editor, source_table: str) -> None:
    per_row = source_table in PG_ROW_INSERT
    sources = {op: s for op, s in PG_SOURCES.items() if not (per_row and op == "INSERT")}
    schema_editor.execute(_pg_function(f"{source_table}_rollup", source_table, sources), params=None)
    for op in sources:
        schema_editor.execute(
            f"CREATE TRIGGER {source_table}_rollup_{op.lower()} AFTER {op} ON {source_table} "
            f"{PG_TRANSITIONS[op]} FOR EACH STATEMENT EXECUTE FUNCTION {source_table}_rollup();",
            params=None,
        )
    if per_row:
        row = {"INSERT": "(SELECT NEW.*, 1 AS sign)"}
        schema_editor.execute(_pg_function(f"{source_table}_rollup_row", source_table, row), params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {source_table}_rollup_insert AFTER INSERT ON {source_table} "
            f"FOR EACH ROW EXECUTE FUNCTION {source_table}_rollup_row();",
            params=None,
        )


def _pg_drop(schema_editor, source_table: str) -> None:
    for op in PG_TRANSITIONS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {source_table}_rollup_{op.lower()} ON {source_table};")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {source_table}_rollup();")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {source_table}_rollup_row();")


# --- SQLite -------------------------------------------------------------------------------------

SQLITE_ROWS = {"INSERT": (("NEW", "1"),), "DELETE": (("OLD", "-1"),), "UPDATE": (("OLD", "-1"), ("NEW", "1"))}


def _sqlite_create(schema_editor, source_table: str) -> None:
    for op, rows in SQLITE_ROWS.items():
        statements = [
            _sqlite_upsert(rollup, row, sign) for row, sign in rows for rollup in _for(source_table)
        ]
        schema_editor.execute(
            f"CREATE TRIGGER {source_table}_rollup_{op.lower()} AFTER {op} ON {source_table} "
            f"BEGIN {' '.join(s + ';' for s in statements)} END;"
        )


def _sqlite_upsert(rollup: Rollup, row: str, sign: str) -> str:
    """The trigger row's share (NEW or OLD, times ``sign``) added to its rollup row."""
    keys, sums = list(rollup.keys), list(rollup.sums)
    values = [_expr(rollup.keys[k], "sqlite", row) for k in keys]
    values += [f"{sign} * {_expr(rollup.sums[s], 'sqlite', row)}" for s in sums]
    # A WHERE clause even when always true: without one SQLite cannot parse the upsert.
    where = _expr(rollup.where, "sqlite", row) or "1 = 1"
    return (
        f"INSERT INTO {rollup.table} ({', '.join(keys + sums)}) SELECT {', '.join(values)} "
        f"WHERE {where} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{s} = {s} + excluded.{s}" for s in sums)
    )


def _sqlite_drop(schema_editor, source_table: str) -> None:
    for op in SQLITE_ROWS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {source_table}_rollup_{op.lower()};")


# --- Both ---------------------------------------------------------------------------------------


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in DIALECTS:
        return
    for source_table in (LOGS, CALLS):
        (_pg_create if vendor == "postgresql" else _sqlite_create)(schema_editor, source_table)
    for rollup in ROLLUPS:  # the rows written before this migration
        source = f"(SELECT s.*, 1 AS sign FROM {rollup.source} s)"
        schema_editor.execute(_upsert(rollup, vendor, source, "r.sign"), params=None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in DIALECTS:
        return
    for source_table in (LOGS, CALLS):
        (_pg_drop if vendor == "postgresql" else _sqlite_drop)(schema_editor, source_table)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_dashboard_rollups")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]
