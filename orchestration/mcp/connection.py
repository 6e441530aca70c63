"""One long-lived SDK session to one MCP server, living on the pool's event loop.

The SDK's client is an async context manager built on anyio task groups, which must be
entered and exited by the same task. So each connection has a *runner* task that enters
the client, publishes it, and parks until asked to stop; request tasks share the open
client concurrently (the SDK multiplexes requests by id).
"""

from __future__ import annotations

import asyncio
import logging
import math

import anyio
from mcp import Client
from mcp_types import CallToolResult

from .transports import AuthRecorder, client_for, leaf_exception, session_is_closed
from .types import ServerSpec

logger = logging.getLogger(__name__)

# Beyond the SDK's own request timeout, a hard stop in case a write into a wedged transport blocks.
GUARD_SECONDS = 1.0
MAX_TOOL_PAGES = 100


class ServerConnection:
    def __init__(self, spec: ServerSpec, *, connect_timeout: float, max_result_bytes: int):
        self.spec = spec
        self.connect_timeout = connect_timeout  # for the HTTP client's TCP connect
        self.max_result_bytes = max_result_bytes  # a larger answer is refused as it arrives
        self.recorder = AuthRecorder()
        self.broken = False  # the runner has ended (or was asked to): never reuse
        self._client: Client | None = None
        self._ready: asyncio.Future[Client] | None = None
        self._runner: asyncio.Task | None = None
        self._stop = anyio.Event()
        self._scope: anyio.CancelScope | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None and not self.broken

    async def ensure_open(self, timeout: float) -> Client:
        """Open on first use, within ``timeout``; concurrent callers share the same attempt."""
        ready = self._ready
        if (
            ready is not None
            and ready.done()
            and not ready.cancelled()
            and ready.exception() is None
        ):
            return ready.result()  # the common case: open already, no timer to arm
        if self._runner is None:
            self._ready = asyncio.get_running_loop().create_future()
            # Nobody may be left waiting when the attempt fails; do not warn about that.
            self._ready.add_done_callback(lambda future: future.cancelled() or future.exception())
            self._runner = asyncio.create_task(
                self._run(timeout), name=f"mcp-session-{self.spec.name}"
            )
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.spec.name}: connecting timed out") from None

    async def _run(self, open_timeout: float) -> None:
        try:
            client = client_for(
                self.spec,
                connect_timeout=min(open_timeout, self.connect_timeout),
                recorder=self.recorder,
                max_result_bytes=self.max_result_bytes,
            )
            # The deadline bounds only the handshake; it is lifted once the session is up.
            with anyio.CancelScope(deadline=anyio.current_time() + open_timeout) as scope:
                self._scope = scope
                async with client:
                    scope.deadline = math.inf
                    self._client = client
                    self._ready.set_result(client)
                    logger.info(
                        "MCP session to %s (%s) is open", self.spec.name, self.spec.transport
                    )
                    await self._stop.wait()
            if not self._ready.done():
                self._ready.set_exception(TimeoutError(f"{self.spec.name}: connecting timed out"))
        except (
            Exception
        ) as exc:  # the transport died; callers learn it through _ready or their request
            if not self._ready.done():
                self._ready.set_exception(leaf_exception(exc))
            else:
                logger.info("MCP session to %s ended: %r", self.spec.name, leaf_exception(exc))
        finally:
            self.broken, self._client = True, None
            if not self._ready.done():
                self._ready.cancel()

    async def call_tool(
        self, name: str, arguments: dict, timeout: float, meta: dict | None = None
    ) -> CallToolResult:
        client = self._require_client()
        async with asyncio.timeout(
            timeout + GUARD_SECONDS
        ):  # cheaper than an anyio scope, per call
            return await client.call_tool(
                name, arguments, read_timeout_seconds=max(timeout, 0.001), meta=meta
            )

    async def list_tools(self, timeout: float) -> list:
        client, tools, cursor = self._require_client(), [], None
        with anyio.fail_after(timeout + GUARD_SECONDS):
            for _ in range(MAX_TOOL_PAGES):
                page = await client.list_tools(cursor=cursor)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return tools

    def transport_closed(self) -> bool:
        """The session is still held but its transport has ended: nothing more can be sent."""
        return self._client is not None and session_is_closed(self._client)

    def _require_client(self) -> Client:
        if self._client is None or self.broken:
            raise ConnectionError(f"{self.spec.name}: session is not open")
        return self._client

    async def close(self, timeout: float = 8.0) -> None:
        """Leave the client cleanly (stdio: close stdin, then terminate); force it after ``timeout``."""
        self.broken = True
        self._stop.set()
        if self._runner is None:
            return
        done, _ = await asyncio.wait({self._runner}, timeout=timeout)
        if not done and self._scope is not None:
            self._scope.cancel()
            await asyncio.wait({self._runner}, timeout=timeout)
