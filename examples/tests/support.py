"""Test support: a real MCP server process held open by the SDK client, callable from sync tests."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from testing.mcp_servers import wait_listening

REPO_ROOT = Path(__file__).resolve().parents[2]
CALL_TIMEOUT = 60


class ToolResult:
    def __init__(self, raw):
        self.is_error = bool(raw.is_error)
        self.text = "\n".join(getattr(block, "text", "") for block in raw.content)
        self.data: dict[str, Any] = raw.structured_content or (
            json.loads(self.text) if not self.is_error else {}
        )

    def __repr__(self) -> str:
        return f"ToolResult(is_error={self.is_error}, text={self.text[:500]!r})"


class McpSession:
    """One client session on a background event loop; the session is opened and closed in one task."""

    def __init__(self, transport_factory):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mcp-test-client", daemon=True
        )
        self._thread.start()
        self._inbox, self._ready = self._submit(self._setup())
        self._task = asyncio.run_coroutine_threadsafe(self._serve(transport_factory), self._loop)
        self._submit(self._wait(self._ready))

    def _submit(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    async def _setup(self):
        return asyncio.Queue(), asyncio.get_running_loop().create_future()

    @staticmethod
    async def _wait(future):
        return await future

    async def _serve(self, transport_factory) -> None:
        try:
            async with transport_factory() as transport, Client(transport) as client:
                self._ready.set_result(None)
                while (item := await self._inbox.get()) is not None:
                    action, future = item
                    try:
                        future.set_result(await action(client))
                    except Exception as exc:  # handed to the waiting test
                        future.set_exception(exc)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def _run(self, action):
        async def submit():
            future = asyncio.get_running_loop().create_future()
            self._inbox.put_nowait((action, future))
            return await future

        return self._submit(submit())

    def call(
        self, tool: str, arguments: dict | None = None, *, meta: dict | None = None
    ) -> ToolResult:
        return ToolResult(
            self._run(lambda client: client.call_tool(tool, arguments or {}, meta=meta))
        )

    def tool_names(self) -> list[str]:
        listed = self._run(lambda client: client.list_tools())
        return sorted(tool.name for tool in listed.tools)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._inbox.put_nowait, None)
        self._task.result(CALL_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT)


def server_env(extra: dict[str, str]) -> dict[str, str]:
    """What a spawned server sees: a clean environment plus ``extra`` (nothing leaks in from the test run)."""
    keep = {
        k: os.environ[k]
        for k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
        if k in os.environ
    }
    return keep | {"PYTHONUNBUFFERED": "1"} | extra


def stdio_session(module: str, *, env: dict[str, str], errlog_path: Path) -> McpSession:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", module], env=server_env(env), cwd=str(REPO_ROOT)
    )

    def transport():
        return _stdio_with_log(params, errlog_path)

    return McpSession(transport)


class _stdio_with_log:
    """stdio_client with the server's stderr written to a file the test can read."""

    def __init__(self, params, errlog_path: Path):
        self.params, self.errlog_path = params, errlog_path

    async def __aenter__(self):
        self.errlog = open(self.errlog_path, "a", encoding="utf-8")
        self.inner = stdio_client(self.params, errlog=self.errlog)
        return self.inner

    async def __aexit__(self, *exc):
        self.errlog.close()


def http_session(url: str, *, token: str | None = None) -> McpSession:
    headers = {"Authorization": f"Bearer {token}"} if token else None

    class _Transport:
        async def __aenter__(self):
            self.http = create_mcp_http_client(headers=headers)
            await self.http.__aenter__()
            return streamable_http_client(url, http_client=self.http)

        async def __aexit__(self, *exc):
            await self.http.__aexit__(*exc)

    return McpSession(_Transport)


def http_server_start(
    module: str, *, env: dict[str, str], port: int, log_path: Path
) -> subprocess.Popen:
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--transport", "http", "--port", str(port)],
        cwd=REPO_ROOT,
        env=server_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_listening(process, port, log_path)
    return process


def http_server_stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
