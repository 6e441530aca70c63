"""Fixtures for the MCP layer: real test MCP servers (testing.mcp_servers) and a private pool per test."""

import socket
import threading

import pytest

from orchestration.mcp import McpPool, PoolConfig
from testing.mcp_servers import run_mcp_server

__all__ = ["TEST_TOKEN", "ManualClock", "mcp_server", "shared_mcp_servers", "manual_clock", "mcp_pool",
           "silent_server"]

TEST_TOKEN = "test-token-5f1c"


class ManualClock:
    """A monotonic clock the test moves by hand, so cool-downs need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def mcp_server():
    """``mcp_server("http"|"sse"|"stdio", token=None)`` → a started ServerHandle, stopped at teardown."""
    started = []

    def start(transport: str, *, token: str | None = None):
        handle = run_mcp_server(transport, token=token)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture(scope="module")
def shared_mcp_servers():
    """One server per transport for tests that only read; http and sse demand TEST_TOKEN."""
    handles = {"http": run_mcp_server("http", token=TEST_TOKEN),
               "sse": run_mcp_server("sse", token=TEST_TOKEN),
               "stdio": run_mcp_server("stdio")}
    yield handles
    for handle in handles.values():
        handle.stop()


@pytest.fixture
def manual_clock():
    return ManualClock()


@pytest.fixture
def mcp_pool(manual_clock):
    """A private pool (not the process singleton) with a hand-driven breaker clock."""
    pool = McpPool(PoolConfig(breaker_threshold=3, breaker_cooldown_seconds=30.0, connect_timeout_seconds=2.0),
                   clock=manual_clock)
    yield pool
    pool.close()


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers: a hung host, not a refused one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted, stop = [], threading.Event()

    def accept_forever():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()
