"""Small real MCP servers, written with the SDK, for tests and benchmarks.

Run one with ``python -m testing.mcp_servers --transport http|sse|stdio [--port N]``
(bearer token from ``MCP_TEST_TOKEN``), or from Python::

    with run_mcp_server("http", token="s3cret") as server:
        spec = server.spec("db")          # a ServerSpec for the pool
        server.stats()                    # handshakes and calls the server has seen
        server.kill(); server.restart()   # same port

The tools mimic OMNI2's database MCP (health, top queries, plans, a dangerous
``drop_table``) plus helpers for failure cases (``slow``, ``fail``) and
``server_stats`` so a test can prove session reuse or that a call never arrived.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
HANDSHAKE_METHODS = ("initialize", "server/discover")
DATABASES = ("training_db", "dev_db", "prod_db", "analytics_db")


class ServerStats:
    """What this server process has seen; read through the tool or ``GET /stats``."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()
        self.tool_calls: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0  # proves calls on one session really overlap

    async def __call__(self, ctx, call_next):  # an SDK ServerMiddleware
        self.methods[ctx.method] += 1
        if ctx.method != "tools/call":
            return await call_next(ctx)
        self.tool_calls[str((ctx.params or {}).get("name"))] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await call_next(ctx)
        finally:
            self.in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "sessions_initialized": sum(self.methods[m] for m in HANDSHAKE_METHODS),
            "methods": dict(self.methods),
            "tool_calls": dict(self.tool_calls),
            "max_in_flight": self.max_in_flight,
        }


def build_server(*, stats: ServerStats, report_dir: Path):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("omni2-test-mcp", instructions="Test server for OMNI2.", log_level="WARNING")
    server.middleware.append(stats)

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer (for timeouts)."""
        import anyio

        await anyio.sleep(seconds)
        return f"slept {seconds}s"

    @server.tool()
    def blob(size: int) -> str:
        """Answer with ``size`` characters (for result size limits)."""
        return "x" * size

    @server.tool()
    def fail(message: str) -> str:
        """Report a tool error with this message."""
        raise ToolError(message)

    @server.tool()
    def get_database_health(database: str) -> dict[str, Any]:
        """Health of one database."""
        return {"database": database, "status": "healthy", "connections": 12, "uptime_hours": 240}

    @server.tool()
    def get_top_queries(database: str, limit: int = 5) -> dict[str, Any]:
        """The slowest queries of one database."""
        queries = [
            {"sql": f"SELECT * FROM t{i}", "avg_ms": 100.0 * (limit - i)} for i in range(limit)
        ]
        return {"database": database, "queries": queries}

    @server.tool()
    def compare_mysql_query_plans(query_a: str, query_b: str) -> dict[str, Any]:
        """Compare the EXPLAIN plans of two queries (never runs them)."""
        return {
            "query_a": {"sql": query_a, "cost": 10.0},
            "query_b": {"sql": query_b, "cost": 4.5},
            "winner": "query_b",
        }

    @server.tool()
    def drop_table(name: str) -> str:
        """Drop a table (a tool that policy should block)."""
        return f"dropped {name}"

    @server.tool()
    def list_available_databases() -> dict[str, Any]:
        """The databases this server can see."""
        return {"databases": list(DATABASES)}

    @server.tool()
    def write_report(name: str) -> dict[str, Any]:
        """Write a small text report and return its path as report_path."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "report"
        report_dir.mkdir(parents=True, exist_ok=True)
        path = report_dir / f"{safe}-{os.getpid()}-{time.time_ns()}.txt"
        path.write_text(f"Report {name}\nAll good.\n")
        return {"report_path": str(path), "name": name}

    @server.tool()
    def server_stats() -> dict[str, Any]:
        """Handshakes and tool calls this server process has seen."""
        return stats.snapshot()

    return server


def serve(*, transport: str, port: int, token: str, report_dir: Path) -> None:
    stats = ServerStats()
    server = build_server(stats=stats, report_dir=report_dir)
    if transport == "stdio":
        server.run("stdio")
        # Optionally behave like a badly written server that ignores the end of its stdin,
        # so tests can prove the client still ends it.
        time.sleep(float(os.environ.get("MCP_TEST_LINGER_SECONDS") or 0))
        return
    import uvicorn
    from starlette.responses import JSONResponse

    @server.custom_route("/stats", methods=["GET"])
    async def stats_route(request):
        return JSONResponse(stats.snapshot())

    app = server.sse_app() if transport == "sse" else server.streamable_http_app()
    if token:
        from examples.serving import BearerTokenMiddleware

        app = BearerTokenMiddleware(app, token=token, open_paths=frozenset({"/stats"}))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m testing.mcp_servers")
    parser.add_argument("--transport", choices=["http", "sse", "stdio"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--die-with-parent", action="store_true")
    args = parser.parse_args(argv)
    if args.die_with_parent:
        from orchestration.mcp._pdeathsig import set_parent_death_signal

        set_parent_death_signal()
    report_dir = Path(
        os.environ.get("MCP_TEST_REPORT_DIR") or Path(tempfile.gettempdir()) / "omni2-mcp-reports"
    )
    serve(
        transport=args.transport,
        port=args.port,
        token=os.environ.get("MCP_TEST_TOKEN", ""),
        report_dir=report_dir,
    )


# --- Starting servers from tests ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(process: subprocess.Popen, port: int, log_path, timeout: float = 30.0) -> None:
    """Wait until a server child accepts connections on ``port``; fail with its log if it exits
    or never listens. One helper for every test that starts a server process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited early: {Path(log_path).read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"server did not listen on {port}: {Path(log_path).read_text(errors='replace')[-2000:]}"
    )


def _stdio_command(extra_env: dict[str, str]) -> tuple[str, tuple[str, ...], dict[str, str]]:
    env = {"PYTHONPATH": str(BASE_DIR), **extra_env}
    return sys.executable, ("-m", "testing.mcp_servers", "--transport", "stdio"), env


@dataclass
class ServerHandle:
    """One test server. http/sse run as a child process on a fixed port; stdio is spawned by the client."""

    transport: str
    token: str = ""
    port: int = 0
    report_dir: str = ""
    proc: subprocess.Popen | None = None
    log_path: str = ""
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        path = "/sse" if self.transport == "sse" else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}" if self.transport != "stdio" else ""

    def spec(
        self,
        name: str = "test_mcp",
        *,
        token: str | None = None,
        timeout_seconds: float = 30.0,
        linger_seconds: float = 0,
    ):
        """A ServerSpec for this server; ``token`` overrides the one it expects (to test refusal).

        ``linger_seconds`` (stdio): the server keeps running that long after its stdin closes.
        """
        from orchestration.mcp.types import ServerSpec

        bearer = self.token if token is None else token
        if self.transport == "stdio":
            command, args, env = _stdio_command(
                {
                    "MCP_TEST_REPORT_DIR": self.report_dir,
                    "MCP_TEST_LINGER_SECONDS": str(linger_seconds),
                }
            )
            return ServerSpec(
                name=name,
                transport="stdio",
                command=command,
                args=args,
                env=env,
                timeout_seconds=timeout_seconds,
            )
        return ServerSpec(
            name=name,
            transport=self.transport,
            url=self.url,
            bearer_token=bearer,
            timeout_seconds=timeout_seconds,
        )

    def start(self) -> ServerHandle:
        if self.transport == "stdio":
            return self
        self.port = self.port or free_port()
        env = {
            **os.environ,
            "MCP_TEST_TOKEN": self.token,
            "MCP_TEST_REPORT_DIR": self.report_dir,
            "PYTHONPATH": str(BASE_DIR),
        }
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "testing.mcp_servers",
                "--transport",
                self.transport,
                "--port",
                str(self.port),
                "--die-with-parent",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_listening(self.proc, self.port, self.log_path, timeout=20.0)
        return self

    def kill(self) -> None:
        """SIGKILL the server: no goodbye, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> ServerHandle:
        """Start again on the same port (fresh stats)."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def stats(self) -> dict[str, Any]:
        """The server's counters over plain HTTP (no MCP session, so no handshake is added)."""
        import httpx

        if self.transport == "stdio":
            raise RuntimeError("a stdio server's stats are read with its server_stats tool")
        return httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=10).json()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def run_mcp_server(
    transport: str, *, token: str | None = None, report_dir: str | None = None
) -> ServerHandle:
    """Start a test MCP server (``transport``: http, sse or stdio) and return its handle."""
    work = tempfile.mkdtemp(prefix=f"omni2-mcp-{transport}-")
    handle = ServerHandle(
        transport=transport,
        token=token or "",
        report_dir=report_dir or work,
        log_path=str(Path(work) / "server.log"),
    )
    return handle.start()
