"""get_top_queries from performance_schema (MySQL/MariaDB) or pg_stat_statements (PostgreSQL).

When the statistics source is off or missing, the answer is a normal result with
``available: false`` and the exact steps to enable it, never a driver traceback.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from .config import DatabaseSpec
from .connections import (
    InvalidArgument,
    connection_open,
    is_mariadb,
    mysql_set_statement_timeout,
    postgres_set_statement_timeout,
)

ORDER_BY = ("total_time", "executions", "cpu", "avg_time", "rows")
MAX_LIMIT = 100
QUERY_TEXT_CHARS = 1000
PICO_TO_MS = 1e-9

MYSQL_ENABLE_STEPS = [
    "add performance_schema=ON under [mysqld] in the server's my.cnf (it cannot be switched on at runtime)",
    "restart the MySQL/MariaDB server",
    "check: SHOW VARIABLES LIKE 'performance_schema' shows ON, and the statements_digest consumer is enabled "
    "(UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'statements_digest')",
]
POSTGRES_ENABLE_STEPS = [
    "add pg_stat_statements to shared_preload_libraries in postgresql.conf "
    "(ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements')",
    "restart PostgreSQL (the library only loads at server start)",
    "in this database, as a superuser: CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
]


def top_queries_get(*, spec: DatabaseSpec, order_by: str = "total_time", limit: int = 10) -> dict:
    if order_by not in ORDER_BY:
        raise InvalidArgument(f"order_by must be one of {', '.join(ORDER_BY)} (got {order_by!r})")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    with connection_open(spec=spec) as conn:
        fetch = _mysql_top if spec.engine == "mysql" else _postgres_top
        found = fetch(conn, order_by, limit)
    base = {"database": spec.name, "engine": spec.engine, "order_by": order_by, "limit": limit}
    return base | found


def _unavailable(source: str, message: str, steps: list[str]) -> dict:
    return {
        "available": False,
        "source": source,
        "message": message,
        "how_to_enable": steps,
        "queries": [],
    }


def _text(query: str | None) -> str:
    query = " ".join((query or "").split())
    return query if len(query) <= QUERY_TEXT_CHARS else query[: QUERY_TEXT_CHARS - 1] + "…"


# --- MySQL / MariaDB -------------------------------------------------------------------------

MYSQL_DIGEST_SQL = """
SELECT SCHEMA_NAME, DIGEST, DIGEST_TEXT, COUNT_STAR, SUM_TIMER_WAIT, AVG_TIMER_WAIT, MAX_TIMER_WAIT,
       SUM_LOCK_TIME, SUM_ROWS_EXAMINED, SUM_ROWS_SENT, SUM_NO_INDEX_USED, {cpu} AS CPU_TIME,
       FIRST_SEEN, LAST_SEEN
FROM performance_schema.events_statements_summary_by_digest
WHERE DIGEST_TEXT IS NOT NULL
ORDER BY {order} DESC
LIMIT %s
"""
MYSQL_SOURCE = "performance_schema.events_statements_summary_by_digest"
MYSQL_CPU_NOTE = (
    "cpu_time_ms is approximated as total time minus lock time (no SUM_CPU_TIME on this server)"
)
MYSQL_ORDER = {
    "total_time": "SUM_TIMER_WAIT",
    "executions": "COUNT_STAR",
    "cpu": "CPU_TIME",
    "avg_time": "AVG_TIMER_WAIT",
    "rows": "SUM_ROWS_EXAMINED",
}


def _mysql_top(conn, order_by: str, limit: int) -> dict:
    with conn.cursor() as cur:
        mysql_set_statement_timeout(cur, mariadb=is_mariadb(conn))
        off = _mysql_statistics_off(cur)
        if off:
            return off
        has_cpu = _mysql_has_cpu_column(cur)
        cpu = "SUM_CPU_TIME" if has_cpu else "(SUM_TIMER_WAIT - SUM_LOCK_TIME)"
        cur.execute(MYSQL_DIGEST_SQL.format(cpu=cpu, order=MYSQL_ORDER[order_by]), (limit,))
        rows = cur.fetchall()
    notes = [] if has_cpu else [MYSQL_CPU_NOTE]
    queries = [_mysql_row(i, r) for i, r in enumerate(rows, 1)]
    return {"available": True, "source": MYSQL_SOURCE, "notes": notes, "queries": queries}


def _mysql_statistics_off(cur) -> dict | None:
    """The "how to enable" answer when performance_schema or its digest consumer is off."""
    cur.execute("SELECT @@performance_schema AS on_")
    if not int(cur.fetchone()["on_"]):
        message = "performance_schema is OFF on this server, so there are no statement statistics."
        return _unavailable(MYSQL_SOURCE, message, MYSQL_ENABLE_STEPS)
    cur.execute(
        "SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = 'statements_digest'"
    )
    consumer = cur.fetchone()
    if not consumer or consumer["ENABLED"] != "YES":
        message = "the statements_digest consumer of performance_schema is disabled."
        return _unavailable(MYSQL_SOURCE, message, MYSQL_ENABLE_STEPS[2:])
    return None


def _mysql_has_cpu_column(cur) -> bool:
    cur.execute(
        "SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = 'performance_schema' "
        "AND table_name = 'events_statements_summary_by_digest' AND column_name = 'SUM_CPU_TIME'"
    )
    return bool(cur.fetchone()["n"])


def _mysql_row(rank: int, row: dict) -> dict:
    ms = lambda key: round(float(row[key] or 0) * PICO_TO_MS, 3)  # noqa: E731 - timers are picoseconds
    return {
        "rank": rank,
        "schema": row["SCHEMA_NAME"],
        "digest": row["DIGEST"],
        "query": _text(row["DIGEST_TEXT"]),
        "calls": int(row["COUNT_STAR"]),
        "total_time_ms": ms("SUM_TIMER_WAIT"),
        "mean_time_ms": ms("AVG_TIMER_WAIT"),
        "max_time_ms": ms("MAX_TIMER_WAIT"),
        "cpu_time_ms": ms("CPU_TIME"),
        "lock_time_ms": ms("SUM_LOCK_TIME"),
        "rows_examined": int(row["SUM_ROWS_EXAMINED"]),
        "rows_sent": int(row["SUM_ROWS_SENT"]),
        "executions_without_index": int(row["SUM_NO_INDEX_USED"]),
        "first_seen": str(row["FIRST_SEEN"]),
        "last_seen": str(row["LAST_SEEN"]),
    }


# --- PostgreSQL ------------------------------------------------------------------------------

POSTGRES_CPU_NOTE = "cpu_time_ms is execution time minus block read/write time (exact only with track_io_timing = on)"
POSTGRES_ORDER = {
    "total_time": "total_ms",
    "executions": "calls",
    "cpu": "cpu_ms",
    "avg_time": "mean_ms",
    "rows": "rows",
}


def _postgres_top(conn, order_by: str, limit: int) -> dict:
    with conn.cursor() as cur:
        postgres_set_statement_timeout(cur)
        found = _postgres_statistics_view(cur)
        if isinstance(found, dict):
            return found
        view, columns = found
        cur.execute(_postgres_sql(view, columns, order_by), (limit,))
        rows = cur.fetchall()
    queries = [_postgres_row(i, r) for i, r in enumerate(rows, 1)]
    return {
        "available": True,
        "source": "pg_stat_statements",
        "notes": [POSTGRES_CPU_NOTE],
        "queries": queries,
    }


def _postgres_statistics_view(cur):
    """(view, its column names), or the "how to enable" answer when pg_stat_statements is missing or unloaded."""
    cur.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_stat_statements'"
    )
    installed = cur.fetchone()
    if installed is None:
        message = "the pg_stat_statements extension is not installed in this database."
        return _unavailable("pg_stat_statements", message, POSTGRES_ENABLE_STEPS)
    view = sql.Identifier(installed["nspname"], "pg_stat_statements")
    try:
        cur.execute(
            sql.SQL("SELECT * FROM {} LIMIT 1").format(view)
        )  # LIMIT 0 would not call the function
    except (
        psycopg.errors.ObjectNotInPrerequisiteState
    ):  # "must be loaded via shared_preload_libraries"
        message = "pg_stat_statements is installed but not loaded: it is missing from shared_preload_libraries."
        return _unavailable("pg_stat_statements", message, POSTGRES_ENABLE_STEPS[:2])
    return view, {c.name for c in cur.description}


def _postgres_sql(view, columns: set[str], order_by: str):
    # Column names changed across versions: total_time (≤12) → total_exec_time; blk_* → shared_blk_* (17).
    total = "total_exec_time" if "total_exec_time" in columns else "total_time"
    mean, peak = total.replace("total", "mean"), total.replace("total", "max")
    read = "shared_blk_read_time" if "shared_blk_read_time" in columns else "blk_read_time"
    write = read.replace("read", "write")
    return sql.SQL(
        "SELECT queryid, query, calls, {total} AS total_ms, {mean} AS mean_ms, {peak} AS max_ms, rows, "
        "shared_blks_hit, shared_blks_read, greatest({total} - {read} - {write}, 0) AS cpu_ms "
        "FROM {view} WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY {order} DESC LIMIT %s"
    ).format(
        total=sql.Identifier(total),
        mean=sql.Identifier(mean),
        peak=sql.Identifier(peak),
        read=sql.Identifier(read),
        write=sql.Identifier(write),
        view=view,
        order=sql.Identifier(POSTGRES_ORDER[order_by]),
    )


def _postgres_row(rank: int, row: dict) -> dict:
    hit, read = int(row["shared_blks_hit"] or 0), int(row["shared_blks_read"] or 0)
    return {
        "rank": rank,
        "queryid": str(row["queryid"]),
        "query": _text(row["query"]),
        "calls": int(row["calls"]),
        "total_time_ms": round(row["total_ms"], 3),
        "mean_time_ms": round(row["mean_ms"], 3),
        "max_time_ms": round(row["max_ms"], 3),
        "cpu_time_ms": round(row["cpu_ms"], 3),
        "rows": int(row["rows"]),
        "cache_hit_percent": round(100.0 * hit / (hit + read), 2) if hit + read else None,
    }
