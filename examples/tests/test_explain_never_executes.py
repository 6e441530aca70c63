"""EXPLAIN never runs the statement it is given.

The guard refuses these statements before they reach a database; the tests that hand the
statement straight to ``plan_fetch`` (past the guard) show the layers behind it still hold:
EXPLAIN only, a READ ONLY transaction, a statement timeout.
"""

import pytest

from examples.database_mcp import connections
from examples.database_mcp.config import DatabaseSpec
from examples.database_mcp.connections import DatabaseError
from examples.database_mcp.explain import plan_fetch
from examples.database_mcp.sql_guard import SafeSelect

pytestmark = pytest.mark.timeout(120)


def _side_effects_pg(postgres_admin) -> int:
    return postgres_admin.execute("SELECT count(*) FROM side_effects").fetchone()[0]


def _side_effects_mysql(mysql_admin) -> int:
    with mysql_admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM side_effects")
        return cur.fetchone()[0]


def test_postgres_explain_does_not_call_a_function_that_writes(
    database_mcp, postgres_dsn, postgres_admin
):
    before = _side_effects_pg(postgres_admin)

    refused = database_mcp.call(
        "analyze_postgres_query",
        {"database": "pg", "query": "SELECT bump_side_effect() FROM items"},
    )
    plan = plan_fetch(
        spec=DatabaseSpec(name="pg", engine="postgres", dsn=postgres_dsn),
        safe=SafeSelect(text="SELECT bump_side_effect() FROM items"),
    )

    assert refused.is_error and "query_rejected: bump_side_effect() is not accepted" in refused.text
    assert plan[0]["Plan"]["Node Type"] == "Seq Scan"
    assert _side_effects_pg(postgres_admin) == before


def test_mariadb_explain_does_not_call_a_function_that_writes(database_mcp, mysql_dsn, mysql_admin):
    before = _side_effects_mysql(mysql_admin)

    refused = database_mcp.call(
        "analyze_mysql_query",
        {"database": "maria", "query": "SELECT bump_side_effect() FROM items"},
    )
    with pytest.raises(
        DatabaseError
    ) as failed:  # MariaDB refuses even to plan it in a READ ONLY transaction
        plan_fetch(
            spec=DatabaseSpec(name="maria", engine="mysql", dsn=mysql_dsn),
            safe=SafeSelect(text="SELECT bump_side_effect() FROM items"),
        )

    assert refused.is_error and "query_rejected: bump_side_effect() is not accepted" in refused.text
    assert failed.value.code == "explain_failed" and "READ ONLY transaction" in failed.value.message
    assert _side_effects_mysql(mysql_admin) == before


def test_postgres_sleeps_are_refused_and_explain_would_not_run_them(database_mcp, postgres_dsn):
    refused = database_mcp.call(
        "analyze_postgres_query", {"database": "pg", "query": "SELECT pg_sleep(30)"}
    )
    plan = plan_fetch(
        spec=DatabaseSpec(name="pg", engine="postgres", dsn=postgres_dsn),
        safe=SafeSelect(text="SELECT pg_sleep(30)"),
    )

    assert refused.is_error and "pg_sleep() is not accepted" in refused.text
    assert (
        plan[0]["Plan"]["Node Type"] == "Result"
    )  # planned, not run: the statement timeout was not hit


def test_the_statement_timeout_stops_work_done_while_planning(postgres_dsn, monkeypatch):
    # A function the planner does run (a lying IMMUTABLE one, folded to a constant) sleeps 30 s;
    # the guard would refuse it, so it is handed to the planner directly, under a 1 s timeout.
    monkeypatch.setattr(connections, "STATEMENT_TIMEOUT", 1.0)

    with pytest.raises(DatabaseError) as failed:
        plan_fetch(
            spec=DatabaseSpec(name="pg", engine="postgres", dsn=postgres_dsn),
            safe=SafeSelect(text="SELECT * FROM items WHERE id = slow_constant()"),
        )

    assert failed.value.code == "explain_failed"
    assert "statement timeout" in failed.value.message
