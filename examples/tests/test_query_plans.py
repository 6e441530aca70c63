"""analyze_* and compare_*_query_plans: real EXPLAIN plans from MariaDB and PostgreSQL."""

import pytest

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


def test_it_explains_a_mariadb_select(database_mcp):
    result = database_mcp.call("analyze_mysql_query", {"database": "maria", "query": BY_ID})

    assert not result.is_error, result
    tables = result.data["summary"]["tables"]
    assert [t["table"] for t in tables] == ["items"]
    assert tables[0]["access_type"] == "const" and tables[0]["key"] == "PRIMARY"
    assert "query_block" in result.data["plan"]


def test_it_warns_about_a_mariadb_full_scan(database_mcp):
    result = database_mcp.call("analyze_mysql_query", {"database": "maria", "query": BY_NAME})

    assert not result.is_error, result
    assert result.data["summary"]["full_scans"] == ["items"]
    assert result.data["summary"]["estimated_rows"] >= 400  # the optimiser's estimate of a 500-row table


def test_it_says_which_postgres_plan_looks_cheaper(database_mcp):
    result = database_mcp.call("compare_postgres_query_plans", {"database": "pg", "query_1": BY_NAME, "query_2": BY_ID})

    assert not result.is_error, result
    assert result.data["cheaper"] == "query_2"
    assert result.data["verdict"].startswith("query_2 looks cheaper: estimated cost")
    assert "items: Seq Scan in query_1, Index Scan in query_2" in result.data["differences"]


def test_it_says_which_mariadb_plan_looks_cheaper(database_mcp):
    result = database_mcp.call("compare_mysql_query_plans", {"database": "maria", "query_1": BY_ID, "query_2": BY_NAME})

    assert not result.is_error, result
    assert result.data["cheaper"] == "query_1"
    assert "items: const in query_1, ALL in query_2" in result.data["differences"]


def test_the_same_query_twice_is_about_the_same(database_mcp):
    result = database_mcp.call("compare_postgres_query_plans", {"database": "pg", "query_1": BY_ID, "query_2": BY_ID})

    assert not result.is_error, result
    assert result.data["cheaper"] is None
    assert result.data["verdict"].startswith("about the same")


def test_a_query_on_a_missing_table_is_a_clear_tool_error(database_mcp):
    result = database_mcp.call("analyze_postgres_query", {"database": "pg", "query": "SELECT * FROM no_such_table"})

    assert result.is_error
    assert 'relation "no_such_table" does not exist' in result.text


@pytest.mark.parametrize("tool, database", [("analyze_postgres_query", "pg"), ("analyze_mysql_query", "maria")])
def test_a_percent_sign_in_the_query_is_plain_text(database_mcp, tool, database):
    result = database_mcp.call(tool, {"database": database, "query": "SELECT id FROM items WHERE name LIKE 'item1%'"})

    assert not result.is_error, result
    assert result.data["query"].endswith("LIKE 'item1%'")
