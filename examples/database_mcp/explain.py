"""EXPLAIN (never ANALYZE) of one validated SELECT, summarised, and the comparison of two plans.

The statement is never executed: PostgreSQL gets plain ``EXPLAIN (FORMAT JSON)`` over the
extended protocol (one statement only) and MySQL/MariaDB ``EXPLAIN FORMAT=JSON`` on a
connection without multi-statements; both run inside a READ ONLY transaction under a
statement timeout, and the transaction is always rolled back.
"""

from __future__ import annotations

import json

from .config import DatabaseSpec
from .connections import (
    connection_open,
    is_mariadb,
    mysql_set_statement_timeout,
    postgres_set_statement_timeout,
)
from .sql_guard import SafeSelect, select_validate

SAME_COST_TOLERANCE = 0.05  # within 5% the plans are called "about the same"


def plan_explain(*, spec: DatabaseSpec, query: str) -> dict:
    safe = select_validate(sql=query, dialect=spec.engine, schemas=spec.schemas)
    plan = plan_fetch(spec=spec, safe=safe)
    summary = _mysql_summary(plan) if spec.engine == "mysql" else _postgres_summary(plan)
    return {
        "database": spec.name,
        "engine": spec.engine,
        "query": safe.text,
        "executed": False,
        "summary": summary,
        "warnings": _plan_warnings(summary),
        "plan": plan,
        "note": "EXPLAIN only: estimates from the planner; the statement itself was not run",
    }


def plans_compare(*, spec: DatabaseSpec, query_1: str, query_2: str) -> dict:
    first, second = plan_explain(spec=spec, query=query_1), plan_explain(spec=spec, query=query_2)
    verdict, cheaper = _verdict(first["summary"], second["summary"])
    return {
        "database": spec.name,
        "engine": spec.engine,
        "executed": False,
        "cheaper": cheaper,
        "verdict": verdict,
        "query_1": {k: first[k] for k in ("query", "summary", "warnings")},
        "query_2": {k: second[k] for k in ("query", "summary", "warnings")},
        "differences": _differences(first["summary"], second["summary"]),
    }


def plan_fetch(*, spec: DatabaseSpec, safe: SafeSelect):
    """The raw JSON plan of a validated statement; a failure is ``explain_failed`` with a fixed sentence."""
    with connection_open(spec=spec, failure="explain_failed", doing="to plan the query") as conn:
        return (
            _mysql_plan(conn, safe.text)
            if spec.engine == "mysql"
            else _postgres_plan(conn, safe.text)
        )


def _mysql_plan(conn, text: str) -> dict:
    with conn.cursor() as cur:
        mysql_set_statement_timeout(cur, mariadb=is_mariadb(conn))
        cur.execute("START TRANSACTION READ ONLY")
        cur.execute(
            "EXPLAIN FORMAT=JSON " + text
        )  # text passed select_validate; no args, so no % formatting
        row = cur.fetchone()
    return json.loads(next(iter(row.values())))


def _postgres_plan(conn, text: str) -> list:
    with conn.cursor() as cur:  # the transaction is READ ONLY (connection_open)
        postgres_set_statement_timeout(cur)
        # binary=True forces the extended protocol, where the server refuses a second statement.
        cur.execute("EXPLAIN (FORMAT JSON) " + text, binary=True)
        return cur.fetchone()["QUERY PLAN"]


# --- summaries ------------------------------------------------------------------------------


def _mysql_summary(plan: dict) -> dict:
    block = plan.get("query_block", {})
    tables = [_mysql_table(t) for t in _find_all(plan, "table")]
    cost = block.get("cost_info", {}).get("query_cost", block.get("cost"))  # MySQL | MariaDB 11+
    return {
        "estimated_cost": float(cost) if cost is not None else None,
        "estimated_rows": sum(t["rows"] or 0 for t in tables),
        "tables": tables,
        "full_scans": [t["table"] for t in tables if t["access_type"] == "ALL"],
        "indexes_used": sorted({t["key"] for t in tables if t["key"]}),
    }


def _mysql_table(table: dict) -> dict:
    return {
        "table": table.get("table_name"),
        "access_type": table.get("access_type"),
        "key": table.get("key"),
        "possible_keys": table.get("possible_keys") or [],
        "rows": table.get("rows_examined_per_scan", table.get("rows")),
        "filtered_percent": table.get("filtered"),
    }


def _find_all(node, key: str) -> list[dict]:
    """Every dict stored under ``key`` anywhere in a MySQL JSON plan (nested loops, subqueries…)."""
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, dict):
                found.append(value)
            found.extend(_find_all(value, key))
    elif isinstance(node, list):
        for item in node:
            found.extend(_find_all(item, key))
    return found


def _postgres_summary(plan: list) -> dict:
    root = plan[0]["Plan"]
    nodes = list(_pg_nodes(root))
    return {
        "estimated_cost": root["Total Cost"],
        "startup_cost": root["Startup Cost"],
        "estimated_rows": root["Plan Rows"],
        "node_types": [n["Node Type"] for n in nodes],
        "tables": [_pg_table(n) for n in nodes if "Relation Name" in n],
        "full_scans": [n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"],
        "indexes_used": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
    }


def _pg_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


def _pg_table(node: dict) -> dict:
    return {
        "table": node["Relation Name"],
        "access_type": node["Node Type"],
        "key": node.get("Index Name"),
        "rows": node["Plan Rows"],
        "cost": node["Total Cost"],
    }


def _plan_warnings(summary: dict) -> list[str]:
    return [f"full table scan on {table}" for table in summary["full_scans"]]


# --- comparison -----------------------------------------------------------------------------


def _verdict(first: dict, second: dict) -> tuple[str, str | None]:
    measure = (
        "estimated cost"
        if first["estimated_cost"] is not None and second["estimated_cost"] is not None
        else "estimated rows"
    )
    key = "estimated_cost" if measure == "estimated cost" else "estimated_rows"
    a, b = float(first[key] or 0), float(second[key] or 0)
    if abs(a - b) <= SAME_COST_TOLERANCE * max(a, b, 1e-9):
        return f"about the same: {measure} {a:g} vs {b:g}", None
    cheaper, low, high = ("query_1", a, b) if a < b else ("query_2", b, a)
    ratio = f" ({high / low:.1f}× lower)" if low > 0 else ""
    return f"{cheaper} looks cheaper: {measure} {low:g} vs {high:g}{ratio}", cheaper


def _differences(first: dict, second: dict) -> list[str]:
    notes = []
    access_1 = {t["table"]: t["access_type"] for t in first["tables"]}
    access_2 = {t["table"]: t["access_type"] for t in second["tables"]}
    for table in sorted(set(access_1) & set(access_2)):
        if access_1[table] != access_2[table]:
            notes.append(f"{table}: {access_1[table]} in query_1, {access_2[table]} in query_2")
    for label, summary in (("query_1", first), ("query_2", second)):
        if summary["full_scans"]:
            notes.append(f"{label} scans whole tables: {', '.join(summary['full_scans'])}")
    if first["indexes_used"] != second["indexes_used"]:
        notes.append(
            f"indexes: query_1 uses {first['indexes_used'] or 'none'}, query_2 uses {second['indexes_used'] or 'none'}"
        )
    return notes
