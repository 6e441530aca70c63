"""A tool result over OMNI2_MCP_MAX_RESULT_BYTES is refused as it arrives, and the session lives on."""

import pytest

from orchestration.mcp import McpPool, McpUnavailable, PoolConfig
from orchestration.mcp.stdio import LineSplitter, Oversized
from testing.mcp_servers import run_mcp_server

CAP = 200_000


@pytest.fixture
def capped_pool(manual_clock):
    pool = McpPool(
        PoolConfig(connect_timeout_seconds=5.0, max_result_bytes=CAP), clock=manual_clock
    )
    yield pool
    pool.close()


@pytest.fixture(params=["http", "stdio"])
def server(request):
    handle = run_mcp_server(request.param)
    yield handle
    handle.stop()


def _sessions(pool, spec, handle) -> int:
    if handle.transport == "stdio":
        return pool.call_tool(spec, "server_stats", {}).structured["sessions_initialized"]
    return handle.stats()["sessions_initialized"]


def test_a_result_over_the_cap_is_a_tool_error_and_the_same_session_answers_next(
    capped_pool, server
):
    spec = server.spec("big", timeout_seconds=30)
    assert capped_pool.call_tool(spec, "echo", {"text": "warm"}).text == "warm"

    result = capped_pool.call_tool(spec, "blob", {"size": 2_000_000})

    assert result.is_error
    assert (
        f"larger than the {CAP} bytes" in result.text
        and "OMNI2_MCP_MAX_RESULT_BYTES" in result.text
    )
    assert capped_pool.call_tool(spec, "echo", {"text": "after"}).text == "after"
    assert (
        len(capped_pool.call_tool(spec, "blob", {"size": 40_000}).text) == 40_000
    )  # under the cap
    assert _sessions(capped_pool, spec, server) == 1
    health = capped_pool.health()["big"]
    assert health.reachable and not health.circuit_open


def test_over_legacy_sse_a_huge_result_fails_and_the_next_call_is_answered(capped_pool):
    """The SDK's SSE reader ends the whole stream on an event over 1 MB: the pool re-opens it."""
    handle = run_mcp_server("sse")
    try:
        spec = handle.spec("big", timeout_seconds=30)
        assert capped_pool.call_tool(spec, "echo", {"text": "warm"}).text == "warm"
        with pytest.raises(McpUnavailable):
            capped_pool.call_tool(spec, "blob", {"size": 2_000_000})
        assert capped_pool.call_tool(spec, "echo", {"text": "after"}).text == "after"
    finally:
        handle.stop()


def test_the_line_reader_keeps_only_the_edges_of_a_skipped_line_and_finds_its_id():
    splitter = LineSplitter(cap=64)
    head = b'{"jsonrpc":"2.0","id":7,"result":"'
    lines = (
        splitter.feed(b'{"ok":1}\n' + head)
        + splitter.feed(b"x" * 10_000)
        + splitter.feed(b'"}\n{"ok":2}\n')
    )
    assert lines[0] == b'{"ok":1}' and lines[2] == b'{"ok":2}'
    skipped = lines[1]
    assert isinstance(skipped, Oversized) and skipped.size == len(head) + 10_002
    assert skipped.request_id() == 7 and len(skipped.head) + len(skipped.tail) <= 512
    # Libraries that write the id last are understood too.
    tail_first = LineSplitter(cap=8).feed(
        b'{"result":"' + b"y" * 100 + b'","jsonrpc":"2.0","id":"r-1"}\n'
    )[0]
    assert tail_first.request_id() == "r-1"
