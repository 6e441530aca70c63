"""Failures stay contained: timeouts, dead or hung servers, and the circuit breaker."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import orchestration.mcp.pool as pool_module
from orchestration.mcp import McpTimeout, McpUnavailable, ServerSpec


def test_a_hanging_tool_times_out_while_another_server_still_answers(mcp_pool, mcp_server):
    hanging_server, other = mcp_server("http"), mcp_server("sse")
    hanging = hanging_server.spec("hanging", timeout_seconds=3)
    mcp_pool.call_tool(hanging, "echo", {"text": "warm"})

    with ThreadPoolExecutor(max_workers=1) as executor:
        started = time.monotonic()
        stuck = executor.submit(mcp_pool.call_tool, hanging, "slow", {"seconds": 60})
        answered = mcp_pool.call_tool(other.spec("other"), "echo", {"text": "still here"})
        answered_while_stuck = not stuck.done()
        with pytest.raises(McpTimeout):
            stuck.result()
        waited = time.monotonic() - started

    assert answered.text == "still here" and answered_while_stuck
    assert waited < 30  # cut at its timeout, not after the tool's 60 s
    # The session survived the cancelled request.
    assert mcp_pool.call_tool(hanging, "echo", {"text": "again"}).text == "again"
    assert hanging_server.stats()["sessions_initialized"] == 1


def test_a_per_call_timeout_overrides_the_servers(mcp_pool, mcp_server):
    spec = mcp_server("stdio").spec("db", timeout_seconds=60)
    mcp_pool.call_tool(spec, "echo", {"text": "warm"})

    with pytest.raises(McpTimeout):
        mcp_pool.call_tool(spec, "slow", {"seconds": 60}, timeout=1)


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_a_killed_server_is_unavailable_at_once_while_others_answer_and_is_used_again_once_back(
    mcp_pool, mcp_server, transport
):
    victim, other = mcp_server(transport), mcp_server("http")
    spec = victim.spec("victim", timeout_seconds=60)
    assert mcp_pool.call_tool(spec, "echo", {"text": "before"}).text == "before"

    victim.kill()
    with pytest.raises(McpUnavailable) as down:  # not a 60 s McpTimeout
        mcp_pool.call_tool(spec, "echo", {"text": "during"})
    assert mcp_pool.call_tool(other.spec("other"), "echo", {"text": "fine"}).text == "fine"
    assert mcp_pool.health()["victim"].reachable is False

    victim.restart()
    assert mcp_pool.call_tool(spec, "echo", {"text": "after"}).text == "after"
    assert mcp_pool.health()["victim"].reachable is True
    assert "victim" in down.value.message


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_a_server_restarted_between_calls_is_used_again_without_an_error(
    mcp_pool, mcp_server, transport
):
    server = mcp_server(transport)
    spec = server.spec("db")
    mcp_pool.call_tool(spec, "echo", {"text": "before"})

    server.restart()

    assert mcp_pool.call_tool(spec, "echo", {"text": "after"}).text == "after"
    assert server.stats()["tool_calls"] == {"echo": 1}


def test_a_call_in_flight_when_the_server_dies_fails_as_unavailable_and_is_not_sent_again(
    mcp_pool, mcp_server
):
    victim = mcp_server("http")
    spec = victim.spec("victim", timeout_seconds=60)
    mcp_pool.call_tool(spec, "echo", {"text": "warm"})

    with ThreadPoolExecutor(max_workers=1) as executor:
        in_flight = executor.submit(mcp_pool.call_tool, spec, "slow", {"seconds": 60})
        while victim.stats()["tool_calls"].get("slow", 0) == 0:
            time.sleep(0.05)
        victim.kill()
        victim.restart()  # back at once: a re-sent request would reach it
        with pytest.raises(McpUnavailable):
            in_flight.result()

    assert victim.stats()["tool_calls"].get("slow", 0) == 0


def test_a_dead_stdio_server_is_restarted_on_the_next_call(mcp_pool, mcp_server):
    import os
    import signal

    from orchestration.tests.test_mcp_stdio_supervision import wait_until_gone

    spec = mcp_server("stdio").spec("local")
    first_pid = mcp_pool.call_tool(spec, "server_stats").structured["pid"]
    os.kill(first_pid, signal.SIGKILL)
    assert wait_until_gone(first_pid)
    time.sleep(1)  # the crash happened between two calls, not during the next one

    stats = mcp_pool.call_tool(spec, "server_stats").structured

    assert stats["pid"] != first_pid and stats["sessions_initialized"] == 1


def test_a_hung_host_fails_within_the_connect_timeout_and_does_not_hold_up_others(
    mcp_pool, mcp_server, silent_server
):
    other = mcp_server("http")
    hung = ServerSpec(name="hung", transport="http", url=silent_server, timeout_seconds=60)

    with ThreadPoolExecutor(max_workers=1) as executor:
        connecting = executor.submit(mcp_pool.call_tool, hung, "echo", {"text": "x"})
        answered = mcp_pool.call_tool(other.spec("other"), "echo", {"text": "meanwhile"})
        answered_while_connecting = not connecting.done()
        with pytest.raises(McpUnavailable, match="timed out"):
            connecting.result()

    assert answered.text == "meanwhile" and answered_while_connecting


def test_the_circuit_opens_after_repeated_failures_skips_the_server_then_recovers(
    mcp_pool, mcp_server, manual_clock
):
    server = mcp_server("http")
    spec = server.spec("flaky", timeout_seconds=0.5)
    for _ in range(3):
        with pytest.raises(McpTimeout):
            mcp_pool.call_tool(spec, "slow", {"seconds": 30})

    with pytest.raises(McpUnavailable, match="circuit open"):
        mcp_pool.call_tool(spec, "echo", {"text": "skipped"})
    assert server.stats()["tool_calls"].get("echo", 0) == 0  # never reached the server
    assert mcp_pool.health()["flaky"].circuit_open
    assert mcp_pool.probe(spec).circuit_open

    manual_clock.advance(31)
    assert mcp_pool.call_tool(spec, "echo", {"text": "trial"}).text == "trial"
    assert not mcp_pool.health()["flaky"].circuit_open


def test_a_failed_trial_keeps_the_circuit_open(mcp_pool, manual_clock):
    from testing.mcp_servers import free_port

    spec = ServerSpec(name="gone", transport="http", url=f"http://127.0.0.1:{free_port()}/mcp")
    for _ in range(3):
        with pytest.raises(McpUnavailable, match="cannot connect"):
            mcp_pool.call_tool(spec, "echo", {"text": "x"})
    manual_clock.advance(31)

    with pytest.raises(McpUnavailable, match="cannot connect"):
        mcp_pool.call_tool(spec, "echo", {"text": "trial"})
    with pytest.raises(McpUnavailable, match="circuit open"):
        mcp_pool.call_tool(spec, "echo", {"text": "x"})


def test_a_wedged_pool_loop_gives_a_timeout_and_the_abandoned_call_is_cancelled(
    mcp_pool, monkeypatch
):
    monkeypatch.setattr(pool_module, "SYNC_GRACE_SECONDS", 0.2)
    ran = []

    async def work():
        ran.append("started")
        await asyncio.sleep(0.3)
        ran.append("finished")

    async def nothing():
        return "ok"

    assert mcp_pool._run_sync(nothing(), 1) == "ok"  # starts the loop thread
    release = threading.Event()
    mcp_pool._loop.call_soon_threadsafe(release.wait, 5)  # something blocks the loop
    with pytest.raises(McpTimeout):
        mcp_pool._run_sync(work(), 0.2)
    release.set()
    assert mcp_pool._run_sync(nothing(), 1) == "ok"  # the loop serves again
    time.sleep(0.6)  # a call left running would have finished by now
    assert "finished" not in ran  # the call that timed out was cancelled, not left running
