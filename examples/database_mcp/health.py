"""get_database_health: connections, uptime, cache hit ratio, size and warnings, per engine."""

from __future__ import annotations

from ..formatting import duration_human, size_human
from .config import DatabaseSpec
from .connections import (
    connection_open,
    is_mariadb,
    mysql_set_statement_timeout,
    postgres_set_statement_timeout,
)

CONNECTION_WARN_PERCENT = 80
CACHE_HIT_WARN_PERCENT = 90
LONG_QUERY_WARN_SECONDS = 300
# A fresh server's first few reads all miss; the ratio only means something after many lookups.
CACHE_MIN_LOOKUPS = 10_000

MYSQL_STATUS = (
    "Uptime",
    "Threads_connected",
    "Threads_running",
    "Max_used_connections",
    "Questions",
    "Slow_queries",
    "Aborted_connects",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
)


def health_get(*, spec: DatabaseSpec) -> dict:
    with connection_open(spec=spec) as conn:
        facts = _mysql_facts(conn) if spec.engine == "mysql" else _postgres_facts(conn)
    facts["uptime"] = duration_human(facts["uptime_seconds"])
    facts["size"]["human"] = size_human(facts["size"]["bytes"])
    warnings = _warnings(facts)
    return {
        "database": spec.name,
        "engine": spec.engine,
        "status": "warning" if warnings else "healthy",
        "warnings": warnings,
        **facts,
    }


def _warnings(facts: dict) -> list[str]:
    warnings = []
    usage = facts["connections"]["usage_percent"]
    if usage is not None and usage >= CONNECTION_WARN_PERCENT:
        warnings.append(f"connections at {usage}% of max_connections")
    hit = facts["cache_hit_ratio_percent"]
    if (
        hit is not None
        and hit < CACHE_HIT_WARN_PERCENT
        and facts["cache_lookups"] >= CACHE_MIN_LOOKUPS
    ):
        warnings.append(f"cache hit ratio is {hit}% (below {CACHE_HIT_WARN_PERCENT}%)")
    longest = facts.get("longest_running_query_seconds") or 0
    if longest >= LONG_QUERY_WARN_SECONDS:
        warnings.append(f"a query has been running for {duration_human(longest)}")
    if facts.get("blocked_sessions"):
        warnings.append(f"{facts['blocked_sessions']} session(s) waiting on locks")
    return warnings


def _percent(part, whole) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _mysql_facts(conn) -> dict:
    with conn.cursor() as cur:
        mariadb = is_mariadb(conn)
        mysql_set_statement_timeout(cur, mariadb=mariadb)
        status = _mysql_pairs(cur, "SHOW GLOBAL STATUS WHERE Variable_name IN %s", MYSQL_STATUS)
        variables = _mysql_pairs(
            cur,
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN %s",
            ("max_connections", "performance_schema"),
        )
        cur.execute(
            "SELECT table_schema AS name, SUM(data_length + index_length) AS bytes FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'performance_schema', 'mysql', 'sys') "
            "GROUP BY table_schema ORDER BY bytes DESC"
        )
        schemas = [
            {"name": r["name"], "bytes": int(r["bytes"] or 0), "human": size_human(r["bytes"] or 0)}
            for r in cur.fetchall()
        ]
        cur.execute(
            "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE command <> 'Sleep' AND time >= %s",
            (LONG_QUERY_WARN_SECONDS,),
        )
        long_running = cur.fetchone()["n"]
    return _mysql_shape(conn, mariadb, status, variables, schemas, long_running)


def _mysql_pairs(cur, sql: str, names: tuple[str, ...]) -> dict[str, str]:
    cur.execute(sql, (names,))
    return {row["Variable_name"]: row["Value"] for row in cur.fetchall()}


def _mysql_shape(conn, mariadb, status, variables, schemas, long_running) -> dict:
    num = lambda key: int(status.get(key) or 0)  # noqa: E731
    uptime, max_conn = num("Uptime"), int(variables.get("max_connections") or 0)
    reads, requests = num("Innodb_buffer_pool_reads"), num("Innodb_buffer_pool_read_requests")
    return {
        "server_version": conn.get_server_info().removeprefix(
            "5.5.5-"
        ),  # MariaDB's replication-compat prefix
        "flavor": "MariaDB" if mariadb else "MySQL",
        "uptime_seconds": uptime,
        "connections": {
            "current": num("Threads_connected"),
            "running": num("Threads_running"),
            "max": max_conn,
            "max_used": num("Max_used_connections"),
            "usage_percent": _percent(num("Threads_connected"), max_conn),
            "aborted_connects": num("Aborted_connects"),
        },
        "cache_hit_ratio_percent": _percent(requests - reads, requests),
        "cache_lookups": requests,
        "cache": "InnoDB buffer pool (logical reads served from memory)",
        "queries": {
            "total": num("Questions"),
            "slow": num("Slow_queries"),
            "per_second_avg": round(num("Questions") / uptime, 2) if uptime else None,
        },
        "size": {"bytes": sum(s["bytes"] for s in schemas), "by_schema": schemas},
        "long_running_queries": long_running,
        "statistics": {
            "performance_schema": variables.get("performance_schema", "OFF").upper() == "ON"
        },
    }


POSTGRES_HEALTH_SQL = """
SELECT current_setting('server_version') AS server_version,
       EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::bigint AS uptime_seconds,
       current_setting('max_connections')::int AS max_connections,
       pg_database_size(current_database()) AS size_bytes,
       d.blks_hit, d.blks_read, d.xact_commit, d.xact_rollback, d.deadlocks,
       (SELECT count(*) FROM pg_locks WHERE NOT granted) AS blocked_sessions,
       (SELECT EXTRACT(EPOCH FROM max(now() - query_start))::bigint FROM pg_stat_activity
         WHERE state = 'active' AND pid <> pg_backend_pid()) AS longest_running_query_seconds,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS pg_stat_statements
FROM pg_stat_database d WHERE d.datname = current_database()
"""


def _postgres_facts(conn) -> dict:
    with conn.cursor() as cur:
        postgres_set_statement_timeout(cur)
        cur.execute(POSTGRES_HEALTH_SQL)
        row = cur.fetchone()
        cur.execute(
            "SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' GROUP BY 1"
        )
        states = {r["state"]: r["n"] for r in cur.fetchall()}
    return _postgres_shape(row, states)


def _postgres_shape(row: dict, states: dict[str, int]) -> dict:
    current, max_conn = sum(states.values()), row["max_connections"]
    hits, reads = int(row["blks_hit"] or 0), int(row["blks_read"] or 0)
    return {
        "server_version": row["server_version"],
        "flavor": "PostgreSQL",
        "uptime_seconds": int(row["uptime_seconds"]),
        "connections": {
            "current": current,
            "active": states.get("active", 0),
            "idle": states.get("idle", 0),
            "idle_in_transaction": states.get("idle in transaction", 0),
            "max": max_conn,
            "usage_percent": _percent(current, max_conn),
        },
        "cache_hit_ratio_percent": _percent(hits, hits + reads),
        "cache_lookups": hits + reads,
        "cache": "shared buffers (blocks hit / blocks hit + read) for this database",
        "transactions": {
            "committed": int(row["xact_commit"] or 0),
            "rolled_back": int(row["xact_rollback"] or 0),
            "deadlocks": int(row["deadlocks"] or 0),
        },
        "size": {"bytes": int(row["size_bytes"])},
        "blocked_sessions": int(row["blocked_sessions"]),
        "longest_running_query_seconds": row["longest_running_query_seconds"],
        "statistics": {"pg_stat_statements_installed": bool(row["pg_stat_statements"])},
    }
