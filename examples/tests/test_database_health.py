"""get_database_health and list_available_databases against real MariaDB and PostgreSQL."""

import pytest

pytestmark = pytest.mark.timeout(120)


def test_it_lists_the_usable_databases_and_why_others_are_not(database_mcp):
    result = database_mcp.call("list_available_databases")

    assert not result.is_error
    assert result.data["configured"] is True
    names = {d["name"]: d["engine"] for d in result.data["databases"]}
    assert {"maria": "mysql", "pg": "postgres", "wrong_password": "mysql"}.items() <= names.items()
    assert {
        "name": "not_set",
        "reason": "environment variable TEST_UNSET_DSN is not set",
    } in result.data["unavailable"]


def test_it_offers_the_eight_tools(database_mcp):
    assert database_mcp.tool_names() == sorted(
        [
            "list_available_databases",
            "get_database_health",
            "get_top_queries",
            "get_performance_trends",
            "analyze_mysql_query",
            "analyze_postgres_query",
            "compare_mysql_query_plans",
            "compare_postgres_query_plans",
        ]
    )


def test_it_reports_mariadb_health(database_mcp):
    result = database_mcp.call("get_database_health", {"database": "maria"})

    assert not result.is_error, result
    health = result.data
    assert health["engine"] == "mysql" and health["flavor"] == "MariaDB"
    assert health["status"] in ("healthy", "warning")
    assert health["connections"]["current"] >= 1 and health["connections"]["max"] > 0
    assert health["uptime_seconds"] > 0 and health["uptime"]
    assert 0 <= health["cache_hit_ratio_percent"] <= 100
    schemas = {s["name"] for s in health["size"]["by_schema"]}
    assert any(name.startswith("omni2_dbmcp_") for name in schemas)
    assert health["size"]["bytes"] > 0 and health["size"]["human"].split()[1] in (
        "B",
        "KB",
        "MB",
        "GB",
    )


def test_it_reports_postgres_health(database_mcp):
    result = database_mcp.call("get_database_health", {"database": "pg"})

    assert not result.is_error, result
    health = result.data
    assert health["engine"] == "postgres" and health["flavor"] == "PostgreSQL"
    assert health["connections"]["current"] >= 1
    assert health["connections"]["active"] >= 1  # our own health query
    assert health["size"]["bytes"] > 0
    assert 0 <= health["cache_hit_ratio_percent"] <= 100
    assert health["transactions"]["committed"] > 0


def test_an_unknown_database_is_a_clear_tool_error(database_mcp):
    result = database_mcp.call("get_database_health", {"database": "nope"})

    assert result.is_error
    assert "unknown database 'nope'" in result.text and "maria" in result.text


def test_a_database_whose_dsn_is_unset_says_so(database_mcp):
    result = database_mcp.call("get_database_health", {"database": "not_set"})

    assert result.is_error
    assert "TEST_UNSET_DSN is not set" in result.text


def test_a_failed_connection_never_shows_the_password(database_mcp, database_mcp_stderr):
    from .conftest import WRONG_PASSWORD

    result = database_mcp.call("get_database_health", {"database": "wrong_password"})

    assert result.is_error
    assert "could not connect to wrong_password" in result.text
    assert WRONG_PASSWORD not in result.text
    assert WRONG_PASSWORD not in database_mcp_stderr.read_text()


def test_the_wrong_engine_tool_is_refused_with_a_pointer_to_the_right_one(database_mcp):
    result = database_mcp.call("analyze_mysql_query", {"database": "pg", "query": "SELECT 1"})

    assert result.is_error
    assert "is postgres, not mysql" in result.text
