"""analyze_* and compare_*_query_plans: real EXPLAIN plans from MariaDB, MySQL 8 and PostgreSQL."""

import pytest

from .conftest import MYSQL_TARGETS

pytestmark = pytest.mark.timeout(120)

BY_ID = "SELECT * FROM items WHERE id = 7"
BY_NAME = "SELECT * FROM items WHERE name = 'item7'"


def test_it_explains_a_postgres_select(database_mcp):
    result = database_mcp.call("analyze_postgres_query", {"database": "pg", "query": BY_ID + ";"})

    assert not result.is_error, result
    plan = result.data
    assert plan["executed"] is False and plan["query"] == BY_ID
    assert plan["summary"]["estimated_cost"] > 0 and plan["summary"]["estimated_rows"] == 1
    assert plan["summary"]["indexes_used"] == ["items_pkey"]
    assert plan["plan"][0]["Plan"]["Node Type"] == "Index Scan"


def test_it_warns_about_a_postgres_full_scan(database_mcp):
    result = database_mcp.call("analyze_postgres_query", {"database": "pg", "query": BY_NAME})

    assert not result.is_error, result
    assert result.data["summary"]["full_scans"] == ["items"]
    assert "full table scan on items" in result.data["warnings"]


@pytest.mark.parametrize("database", MYSQL_TARGETS)
def test_it_explains_a_mysql_select(database_mcp, database):
    result = database_mcp.call("analyze_mysql_query", {"database": database, "query": BY_ID})

    assert not result.is_error, result
    tables = result.data["summary"]["tables"]
    assert [t["table"] for t in tables] == ["items"]
    assert tables[0]["access_type"] == "const" and tables[0]["key"] == "PRIMARY"
    assert "query_block" in result.data["plan"]


@pytest.mark.parametrize("database", MYSQL_TARGETS)
def test_it_warns_about_a_mysql_full_scan(database_mcp, database):
    result = database_mcp.call("analyze_mysql_query", {"database": database, "query": BY_NAME})

    assert not result.is_error, result
    assert result.data["summary"]["full_scans"] == ["items"]
    assert (
        result.data["summary"]["estimated_rows"] >= 400
    )  # the optimiser's estimate of a 500-row table


def test_it_says_which_postgres_plan_looks_cheaper(database_mcp):
    result = database_mcp.call(
        "compare_postgres_query_plans", {"database": "pg", "query_1": BY_NAME, "query_2": BY_ID}
    )

    assert not result.is_error, result
    assert result.data["cheaper"] == "query_2"
    assert result.data["verdict"].startswith("query_2 looks cheaper: estimated cost")
    assert "items: Seq Scan in query_1, Index Scan in query_2" in result.data["differences"]


@pytest.mark.parametrize("database", MYSQL_TARGETS)
def test_it_says_which_mysql_plan_looks_cheaper(database_mcp, database):
    result = database_mcp.call(
        "compare_mysql_query_plans", {"database": database, "query_1": BY_ID, "query_2": BY_NAME}
    )

    assert not result.is_error, result
    assert result.data["cheaper"] == "query_1"
    assert "items: const in query_1, ALL in query_2" in result.data["differences"]


def test_the_same_query_twice_is_about_the_same(database_mcp):
    result = database_mcp.call(
        "compare_postgres_query_plans", {"database": "pg", "query_1": BY_ID, "query_2": BY_ID}
    )

    assert not result.is_error, result
    assert result.data["cheaper"] is None
    assert result.data["verdict"].startswith("about the same")


@pytest.mark.parametrize(
    "tool, database", [("analyze_postgres_query", "pg"), ("analyze_mysql_query", "maria")]
)
def test_a_query_on_a_missing_table_is_a_clear_tool_error_without_the_servers_text(
    database_mcp, tool, database
):
    result = database_mcp.call(tool, {"database": database, "query": "SELECT * FROM no_such_table"})

    assert result.is_error
    assert "explain_failed:" in result.text
    assert "names a table, column or function that does not exist here" in result.text
    assert (
        "no_such_table" not in result.text
    )  # PostgreSQL: relation "…" does not exist; MariaDB: Table '…' doesn't


@pytest.mark.parametrize(
    "tool, database",
    [("analyze_postgres_query", "pg")]
    + [
        pytest.param("analyze_mysql_query", *t.values, marks=t.marks, id=t.id)
        for t in MYSQL_TARGETS
    ],
)
def test_a_percent_sign_in_the_query_is_plain_text(database_mcp, tool, database):
    result = database_mcp.call(
        tool, {"database": database, "query": "SELECT id FROM items WHERE name LIKE 'item1%'"}
    )

    assert not result.is_error, result
    assert result.data["query"].endswith("LIKE 'item1%'")
