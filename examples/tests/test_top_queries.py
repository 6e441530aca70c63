"""get_top_queries: the clear "how to enable" answer when statistics are off or missing.

The shared servers here run with performance_schema OFF (MariaDB) and without pg_stat_statements
in shared_preload_libraries (PostgreSQL); neither can be switched on without a restart. The real
data path runs against private server instances in test_top_queries_with_statistics_on.py.
"""

import pytest

pytestmark = pytest.mark.timeout(120)


def _performance_schema_on(mysql_admin) -> bool:
    with mysql_admin.cursor() as cur:
        cur.execute("SELECT @@performance_schema")
        return bool(cur.fetchone()[0])


def _pg_stat_statements_loaded(postgres_admin) -> bool:
    return (
        "pg_stat_statements"
        in postgres_admin.execute("SHOW shared_preload_libraries").fetchone()[0]
    )


def test_it_says_how_to_enable_performance_schema_when_it_is_off(database_mcp, mysql_admin):
    if _performance_schema_on(mysql_admin):
        pytest.skip(
            "this MariaDB/MySQL runs with performance_schema ON; the data path is tested elsewhere"
        )

    result = database_mcp.call("get_top_queries", {"database": "maria"})

    assert not result.is_error, result
    assert result.data["available"] is False and result.data["queries"] == []
    assert "performance_schema is OFF" in result.data["message"]
    assert any("performance_schema=ON" in step for step in result.data["how_to_enable"])
    assert any("restart" in step for step in result.data["how_to_enable"])


def test_it_says_how_to_install_and_load_pg_stat_statements(database_mcp, postgres_admin):
    if _pg_stat_statements_loaded(postgres_admin):
        pytest.skip(
            "this PostgreSQL preloads pg_stat_statements; the data path is tested elsewhere"
        )

    missing = database_mcp.call("get_top_queries", {"database": "pg"})
    postgres_admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    not_loaded = database_mcp.call(
        "get_top_queries", {"database": "pg", "order_by": "executions", "limit": 5}
    )

    assert not missing.is_error and missing.data["available"] is False
    assert "not installed" in missing.data["message"]
    assert any("CREATE EXTENSION" in step for step in missing.data["how_to_enable"])
    assert not not_loaded.is_error and not_loaded.data["available"] is False
    assert "not loaded" in not_loaded.data["message"]
    assert any("shared_preload_libraries" in step for step in not_loaded.data["how_to_enable"])


def test_an_out_of_range_limit_is_a_clear_tool_error(database_mcp):
    result = database_mcp.call("get_top_queries", {"database": "pg", "limit": 1000})

    assert result.is_error
    assert "limit must be between 1 and 100" in result.text


def test_an_unknown_order_is_refused_by_the_schema(database_mcp):
    result = database_mcp.call("get_top_queries", {"database": "pg", "order_by": "random"})

    assert result.is_error
    assert "order_by" in result.text
