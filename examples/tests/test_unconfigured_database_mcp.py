"""With no config or no DSN, database_mcp still starts and says it is not configured."""

import pytest

from .support import stdio_session

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def unconfigured(tmp_path):
    config = tmp_path / "databases.yaml"
    config.write_text(
        "databases:\n  - {name: prod, engine: postgres, dsn: '${PROD_DSN_NOT_SET}'}\n"
    )
    env = {"DATABASE_MCP_CONFIG": str(config), "DATABASE_MCP_DATA_DIR": ":memory:"}
    session = stdio_session("examples.database_mcp", env=env, errlog_path=tmp_path / "stderr.log")
    yield session
    session.close()


def test_it_lists_no_databases_with_the_reason(unconfigured):
    result = unconfigured.call("list_available_databases")

    assert not result.is_error
    assert result.data["configured"] is False and result.data["databases"] == []
    assert result.data["message"].startswith("database_mcp is not configured: ")
    assert "PROD_DSN_NOT_SET is not set" in result.data["message"]


@pytest.mark.parametrize(
    "tool, arguments",
    [
        ("get_database_health", {"database": "prod"}),
        ("get_top_queries", {"database": "prod"}),
        ("get_performance_trends", {"database": "prod"}),
        ("analyze_postgres_query", {"database": "prod", "query": "SELECT 1"}),
        (
            "compare_mysql_query_plans",
            {"database": "prod", "query_1": "SELECT 1", "query_2": "SELECT 2"},
        ),
    ],
)
def test_every_tool_answers_not_configured(unconfigured, tool, arguments):
    result = unconfigured.call(tool, arguments)

    assert not result.is_error, result
    assert result.data["configured"] is False
    assert result.data["message"].startswith("database_mcp is not configured: ")


def test_it_starts_without_any_config_file(tmp_path):
    env = {
        "DATABASE_MCP_CONFIG": str(tmp_path / "missing.yaml"),
        "DATABASE_MCP_DATA_DIR": ":memory:",
    }
    session = stdio_session("examples.database_mcp", env=env, errlog_path=tmp_path / "stderr.log")
    try:
        result = session.call("list_available_databases")
    finally:
        session.close()

    assert result.data["configured"] is False
    assert "no config file at" in result.data["message"]
