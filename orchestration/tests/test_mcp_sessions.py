"""Sessions are opened once and shared: across calls, threads, event loops and concurrent calls."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

TRANSPORTS = ["http", "sse", "stdio"]


def stats_of(pool, server, spec):
    """The server's counters; stdio has no side door, so ask through the same (pooled) session."""
    if server.transport == "stdio":
        return pool.call_tool(spec, "server_stats").structured
    return server.stats()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_twenty_calls_share_one_session(mcp_pool, mcp_server, transport):
    server = mcp_server(transport)
    spec = server.spec("db")

    texts = [mcp_pool.call_tool(spec, "echo", {"text": f"call {i}"}).text for i in range(20)]

    stats = stats_of(mcp_pool, server, spec)
    assert texts == [f"call {i}" for i in range(20)]
    assert stats["sessions_initialized"] == 1
    assert stats["tool_calls"]["echo"] == 20


def test_concurrent_calls_run_side_by_side_on_one_session(mcp_pool, mcp_server):
    server = mcp_server("http")
    spec = server.spec("db")

    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(
            executor.map(
                lambda i: mcp_pool.call_tool(spec, "slow", {"seconds": 0.5}).text, range(8)
            )
        )

    stats = server.stats()
    assert results == ["slept 0.5s"] * 8
    assert stats["sessions_initialized"] == 1
    assert stats["max_in_flight"] > 1


def test_calls_from_another_thread_and_another_event_loop_use_the_same_session(
    mcp_pool, mcp_server
):
    server = mcp_server("sse")
    spec = server.spec("db")
    from_thread = []
    worker = threading.Thread(
        target=lambda: from_thread.append(mcp_pool.call_tool(spec, "add", {"a": 1, "b": 1}))
    )
    worker.start()
    worker.join()

    async def on_a_foreign_loop():
        return await asyncio.gather(
            *(mcp_pool.acall_tool(spec, "add", {"a": i, "b": 1}) for i in range(5))
        )

    from_loop = asyncio.run(on_a_foreign_loop())

    assert from_thread[0].structured == {"result": 2}
    assert [result.structured["result"] for result in from_loop] == [1, 2, 3, 4, 5]
    assert server.stats()["sessions_initialized"] == 1


def test_the_async_api_lists_and_probes_too(mcp_pool, mcp_server):
    server = mcp_server("http")
    spec = server.spec("db")

    async def from_a_loop():
        return await mcp_pool.alist_tools(spec), await mcp_pool.aprobe(spec)

    tools, health = asyncio.run(from_a_loop())

    assert "echo" in {tool.name for tool in tools} and health.tool_count == len(tools)


def test_a_changed_config_opens_a_new_session(mcp_pool, mcp_server):
    server = mcp_server("http")  # no token required, so any token is accepted

    mcp_pool.call_tool(server.spec("db", token="first"), "echo", {"text": "a"})
    mcp_pool.call_tool(server.spec("db", token="first", timeout_seconds=5), "echo", {"text": "b"})
    mcp_pool.call_tool(server.spec("db", token="rotated"), "echo", {"text": "c"})

    assert server.stats()["sessions_initialized"] == 2


def test_the_process_pool_is_one_per_process_and_fresh_after_close():
    from orchestration.mcp import get_pool

    first = get_pool()
    assert get_pool() is first
    first.close()
    assert get_pool() is not first
    get_pool().close()


def test_a_pool_on_a_borrowed_loop_serves_that_loop_and_other_threads_then_closes_there(mcp_server):
    from orchestration.mcp import McpPool, PoolConfig

    server = mcp_server("http")
    spec = server.spec("db")
    pool = McpPool(PoolConfig())
    loop = asyncio.new_event_loop()
    from_thread = []

    async def serve():  # what an ASGI server's lifespan and requests do
        assert pool.adopt_running_loop() and pool.adopted
        direct = await pool.acall_tool(spec, "echo", {"text": "on the loop"})
        worker = threading.Thread(
            target=lambda: from_thread.append(pool.call_tool(spec, "echo", {"text": "sync"}))
        )
        worker.start()
        while worker.is_alive():  # the sync caller's call runs on this loop: keep it turning
            await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError):  # a sync call on the loop itself would deadlock
            pool.call_tool(spec, "echo", {"text": "x"})
        await pool.aclose()
        return direct

    try:
        assert loop.run_until_complete(serve()).text == "on the loop"
    finally:
        loop.close()
    assert from_thread[0].text == "sync"
    assert server.stats()["sessions_initialized"] == 1
    pool.close()  # idempotent, and harmless once the borrowed loop is gone


def test_a_pool_that_already_has_its_own_loop_keeps_it(mcp_pool, mcp_server):
    spec = mcp_server("http").spec("db")
    mcp_pool.call_tool(spec, "echo", {"text": "starts the pool's thread"})

    async def adopt():
        return mcp_pool.adopt_running_loop(), await mcp_pool.acall_tool(
            spec, "echo", {"text": "hop"}
        )

    adopted, result = asyncio.run(adopt())
    assert not adopted and not mcp_pool.adopted and result.text == "hop"
