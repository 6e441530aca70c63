"""Each transport end to end against a real test MCP server: tools, results, tool errors, tokens."""

import json
from pathlib import Path

import pytest

from orchestration.mcp import McpUnavailable
from testing.fixtures.mcp import TEST_TOKEN

TRANSPORTS = ["http", "sse", "stdio"]
EXPECTED_TOOLS = {
    "echo",
    "add",
    "blob",
    "slow",
    "fail",
    "get_database_health",
    "get_top_queries",
    "compare_mysql_query_plans",
    "drop_table",
    "list_available_databases",
    "write_report",
    "server_stats",
}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_it_lists_the_tools_with_their_schemas(mcp_pool, shared_mcp_servers, transport):
    tools = {
        tool.name: tool for tool in mcp_pool.list_tools(shared_mcp_servers[transport].spec("db"))
    }

    assert set(tools) == EXPECTED_TOOLS
    assert tools["get_top_queries"].input_schema["properties"]["limit"]["default"] == 5
    assert tools["add"].input_schema["required"] == ["a", "b"]
    assert "Add two integers" in tools["add"].description


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_it_calls_a_tool_and_returns_json_content(mcp_pool, shared_mcp_servers, transport):
    spec = shared_mcp_servers[transport].spec("db")

    added = mcp_pool.call_tool(spec, "add", {"a": 2, "b": 40})
    health = mcp_pool.call_tool(spec, "get_database_health", {"database": "dev_db"})

    assert not added.is_error and added.structured == {"result": 42} and added.text == "42"
    assert health.structured["database"] == "dev_db"
    assert json.loads(json.dumps(health.to_json()))["content"][0]["type"] == "text"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_tool_error_is_a_result_not_an_exception(mcp_pool, shared_mcp_servers, transport):
    spec = shared_mcp_servers[transport].spec("db")

    failed = mcp_pool.call_tool(spec, "fail", {"message": "disk on fire"})
    unknown = mcp_pool.call_tool(spec, "no_such_tool", {})

    assert failed.is_error and "disk on fire" in failed.text
    assert unknown.is_error and "no_such_tool" in unknown.text
    assert mcp_pool.health()["db"].reachable is True


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_report_path_in_a_tool_result_points_at_the_written_file(
    mcp_pool, shared_mcp_servers, transport
):
    result = mcp_pool.call_tool(
        shared_mcp_servers[transport].spec("qa"), "write_report", {"name": "weekly"}
    )

    assert Path(result.structured["report_path"]).read_text().startswith("Report weekly")


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_the_bearer_token_is_sent_and_a_wrong_or_missing_one_is_refused(
    mcp_pool, shared_mcp_servers, transport
):
    server = shared_mcp_servers[transport]

    assert mcp_pool.call_tool(server.spec("good"), "echo", {"text": "in"}).text == "in"
    for name, token in (("wrong", "not-" + TEST_TOKEN), ("missing", "")):
        with pytest.raises(McpUnavailable) as refused:
            mcp_pool.call_tool(server.spec(name, token=token), "echo", {"text": "x"})
        assert "401" in refused.value.message and refused.value.permanent
        assert TEST_TOKEN not in refused.value.message


def test_a_server_that_refuses_connections_is_unavailable(mcp_pool):
    from orchestration.mcp import ServerSpec
    from testing.mcp_servers import free_port

    spec = ServerSpec(name="gone", transport="http", url=f"http://127.0.0.1:{free_port()}/mcp")

    with pytest.raises(McpUnavailable, match="cannot connect"):
        mcp_pool.call_tool(spec, "echo", {"text": "x"})
    health = mcp_pool.health()["gone"]
    assert health.reachable is False and "cannot connect" in health.last_error


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_probe_reports_reachability_latency_and_tool_count(
    mcp_pool, shared_mcp_servers, transport
):
    health = mcp_pool.probe(shared_mcp_servers[transport].spec("db"))

    assert health.reachable and health.tool_count == len(EXPECTED_TOOLS)
    assert health.latency_ms is not None and health.last_error == "" and not health.circuit_open
    assert mcp_pool.health()["db"] == health


@pytest.mark.parametrize(
    "arguments, error",
    [(["a", "list"], TypeError), ({"x": float("nan")}, ValueError), ({"x": object()}, ValueError)],
)
def test_arguments_that_are_not_a_json_object_are_the_callers_error(mcp_pool, arguments, error):
    from orchestration.mcp import ServerSpec

    spec = ServerSpec(name="never_contacted", transport="http", url="http://127.0.0.1:9/mcp")

    with pytest.raises(error):
        mcp_pool.call_tool(spec, "echo", arguments)
    assert "never_contacted" not in mcp_pool.health()


def test_a_closed_pool_refuses_calls(mcp_pool, shared_mcp_servers):
    spec = shared_mcp_servers["http"].spec("db")
    mcp_pool.call_tool(spec, "echo", {"text": "open"})

    mcp_pool.close()

    with pytest.raises(McpUnavailable, match="closed"):
        mcp_pool.call_tool(spec, "echo", {"text": "closed"})


def test_a_stdio_command_that_does_not_exist_is_reported_as_such(mcp_pool):
    from orchestration.mcp import ServerSpec

    spec = ServerSpec(name="typo", transport="stdio", command="no-such-mcp-server-binary")

    with pytest.raises(McpUnavailable, match="command not found: no-such-mcp-server-binary"):
        mcp_pool.call_tool(spec, "echo", {"text": "x"})
