"""EXPLAIN never runs the statement it is given."""

import pytest

from .conftest import SERVER_STATEMENT_TIMEOUT

pytestmark = pytest.mark.timeout(120)


def _side_effects_pg(postgres_admin) -> int:
    return postgres_admin.execute("SELECT count(*) FROM side_effects").fetchone()[0]


def _side_effects_mysql(mysql_admin) -> int:
    with mysql_admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM side_effects")
        return cur.fetchone()[0]


def test_postgres_explain_does_not_call_a_function_that_writes(database_mcp, postgres_admin):
    before = _side_effects_pg(postgres_admin)

    result = database_mcp.call(
        "analyze_postgres_query", {"database": "pg", "query": "SELECT bump_side_effect() FROM items"}
    )

    assert not result.is_error, result
    assert result.data["executed"] is False
    assert _side_effects_pg(postgres_admin) == before


def test_mariadb_explain_does_not_call_a_function_that_writes(database_mcp, mysql_admin):
    before = _side_effects_mysql(mysql_admin)

    result = database_mcp.call(
        "analyze_mysql_query", {"database": "maria", "query": "SELECT bump_side_effect() FROM items"}
    )

    # MariaDB refuses even to plan it inside the READ ONLY transaction; either way nothing was written.
    assert (not result.is_error and result.data["executed"] is False) or "READ ONLY transaction" in result.text, result
    assert _side_effects_mysql(mysql_admin) == before


def test_postgres_explain_of_a_long_sleep_does_not_sleep(database_mcp):
    # The server's statement timeout is 3 s: had pg_sleep(30) run, the call would fail with a timeout.
    assert int(SERVER_STATEMENT_TIMEOUT) < 30

    result = database_mcp.call("analyze_postgres_query", {"database": "pg", "query": "SELECT pg_sleep(30)"})

    assert not result.is_error, result
    assert result.data["summary"]["node_types"] == ["Result"]


def test_the_statement_timeout_stops_work_done_while_planning(database_mcp):
    # The counterpart of the test above: a function the planner does run (a lying IMMUTABLE one,
    # folded to a constant) sleeps 30 s and is cut off by the 3 s timeout.
    result = database_mcp.call(
        "analyze_postgres_query", {"database": "pg", "query": "SELECT * FROM items WHERE id = slow_constant()"}
    )

    assert result.is_error
    assert "statement timeout" in result.text
