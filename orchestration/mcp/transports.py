"""The SDK side of the boundary: one ``mcp.Client`` per spec, and SDK values → our values.

Everything that knows about ``mcp``/``httpx2`` internals lives here, so the pool only
deals in ``ServerSpec``, ``ToolInfo``, ``ToolResult`` and our errors.
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import (
    CONNECTION_CLOSED,
    INVALID_REQUEST,
    REQUEST_TIMEOUT,
    CallToolResult,
    Implementation,
)

from .stdio import RESULT_TOO_LARGE, RESULT_TOO_LARGE_CODE, capped_stdio_client
from .types import (
    McpError,
    McpResultTooLarge,
    McpTimeout,
    McpUnavailable,
    ServerSpec,
    ToolInfo,
    ToolResult,
)

PDEATHSIG_WRAPPER = str(Path(__file__).with_name("_pdeathsig.py"))
CLIENT_INFO = Implementation(name="omni2", version="1.0")
# Idle SSE streams are kept open this long between events (servers send pings well within it).
SSE_READ_TIMEOUT = 300.0


class AuthRecorder:
    """Remembers an HTTP 401/403 so a refused token reads as such, not as 'error response'."""

    def __init__(self) -> None:
        self.refused_status: int | None = None

    async def __call__(self, response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            self.refused_status = response.status_code


class ResultTooLarge(httpx2.StreamError):
    """A response body passed the cap while it arrived (a StreamError, so the SDK answers the
    request with an error and keeps the session)."""


class _CappedBody(httpx2.AsyncByteStream):
    def __init__(self, stream: httpx2.AsyncByteStream, cap: int):
        self._stream, self._cap = stream, cap

    async def __aiter__(self):
        seen = 0
        async for chunk in self._stream:
            seen += len(chunk)
            if seen > self._cap:
                raise ResultTooLarge(RESULT_TOO_LARGE.format(cap=self._cap))
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """Counts each JSON response body as it arrives and stops it at ``cap`` bytes.

    Event streams are left to the SDK's per-event limit (``max_sse_event_size``): one stream
    carries many messages, and only a single message is bounded.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, cap: int):
        self._inner, self._cap = inner, cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if not response.headers.get("content-type", "").lower().startswith("text/event-stream"):
            response.stream = _CappedBody(response.stream, self._cap)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _http_client(
    spec: ServerSpec,
    connect_timeout: float,
    recorder: AuthRecorder,
    max_result_bytes: int,
    headers: dict[str, str] | None = None,
    timeout: Any = None,
) -> httpx2.AsyncClient:
    all_headers = dict(headers or {})
    if spec.bearer_token:
        all_headers["Authorization"] = f"Bearer {spec.bearer_token}"
    return httpx2.AsyncClient(
        headers=all_headers,
        timeout=timeout
        or httpx2.Timeout(spec.timeout_seconds, connect=connect_timeout, read=SSE_READ_TIMEOUT),
        event_hooks={"response": [recorder]},
        transport=CappedTransport(httpx2.AsyncHTTPTransport(), max_result_bytes),
    )


@asynccontextmanager
async def _streamable_http(
    spec: ServerSpec, connect_timeout: float, recorder: AuthRecorder, max_result_bytes: int
):
    async with _http_client(spec, connect_timeout, recorder, max_result_bytes) as http:
        async with streamable_http_client(
            spec.url, http_client=http, max_sse_event_size=max_result_bytes
        ) as streams:
            yield streams


def _sse(spec: ServerSpec, connect_timeout: float, recorder: AuthRecorder, max_result_bytes: int):
    # Results arrive as events of the one GET stream, which the SDK caps at httpx2's 1 MB per
    # event; a larger one ends the stream (and the session, re-opened on the next call).
    def factory(headers=None, timeout=None, auth=None) -> httpx2.AsyncClient:
        return _http_client(
            spec, connect_timeout, recorder, max_result_bytes, headers=headers, timeout=timeout
        )

    return sse_client(
        spec.url,
        timeout=connect_timeout,
        sse_read_timeout=SSE_READ_TIMEOUT,
        httpx_client_factory=factory,
    )


def _stdio(spec: ServerSpec, max_result_bytes: int):
    # The wrapper would only report a missing command as a closed pipe; say it plainly instead.
    path = dict(spec.env).get("PATH") or os.environ.get("PATH")
    if shutil.which(spec.command, path=path) is None:
        raise FileNotFoundError(f"stdio command not found: {spec.command}")
    # Launched through a tiny wrapper that makes the child die with this process even on SIGKILL.
    params = StdioServerParameters(
        command=sys.executable,
        args=["-I", "-S", PDEATHSIG_WRAPPER, str(os.getpid()), spec.command, *spec.args],
        env=dict(spec.env) or None,
    )
    # Celery replaces sys.stderr with a logging proxy that has no file descriptor.
    errlog = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
    return capped_stdio_client(params, max_line_bytes=max_result_bytes, errlog=errlog)


def client_for(
    spec: ServerSpec, *, connect_timeout: float, recorder: AuthRecorder, max_result_bytes: int
) -> Client:
    """An un-entered SDK client; ``mode='auto'`` speaks to current and handshake-era servers."""
    if spec.transport == "http":
        transport = _streamable_http(spec, connect_timeout, recorder, max_result_bytes)
    elif spec.transport == "sse":
        transport = _sse(spec, connect_timeout, recorder, max_result_bytes)
    else:
        transport = _stdio(spec, max_result_bytes)
    return Client(
        transport, read_timeout_seconds=spec.timeout_seconds, client_info=CLIENT_INFO, cache=None
    )


# --- SDK values → ours ------------------------------------------------------------------------


def tool_result_from_sdk(result: CallToolResult) -> ToolResult:
    content = [
        block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content
    ]
    text = "\n".join(block["text"] for block in content if block.get("type") == "text")
    structured = result.structured_content if isinstance(result.structured_content, dict) else None
    return ToolResult(
        is_error=bool(result.is_error), content=content, structured=structured, text=text
    )


def tool_info_from_sdk(tool: Any) -> ToolInfo:
    return ToolInfo(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema or {}),
    )


# --- Errors -----------------------------------------------------------------------------------


def leaf_exception(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from the SDK's task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def is_result_too_large(exc: BaseException) -> bool:
    """The answer was refused for its size: by our stdio reader, our HTTP body cap, or the
    SDK's per-event limit on a streamable HTTP response stream. The session is fine."""
    error = getattr(exc, "error", None)
    message = str(getattr(error, "message", "") or "")
    return (
        getattr(error, "code", None) == RESULT_TOO_LARGE_CODE
        or "OMNI2_MCP_MAX_RESULT_BYTES" in message
        or "Server-sent event exceeded the" in message
    )


def is_broken_session(exc: BaseException) -> bool:
    """The session's transport is gone (server died or forgot the session): worth one re-open."""
    if is_result_too_large(exc):
        return False
    code = getattr(getattr(exc, "error", None), "code", None)
    if code == CONNECTION_CLOSED:
        return True
    return code == INVALID_REQUEST and "Session terminated" in str(exc)


def was_refused_unsent(exc: BaseException) -> bool:
    """The server rejected the request unread because it no longer knows our session."""
    code = getattr(getattr(exc, "error", None), "code", None)
    return code == INVALID_REQUEST and "Session terminated" in str(exc)


def session_is_closed(client: Client) -> bool:
    """Has the SDK seen this session's transport end (server gone, stream dropped)?

    mcp 2.3 has no public flag for it, so this reads the dispatcher's own; should a later
    SDK drop the attribute, the answer is False and a dead session is found on first use.
    """
    dispatcher = getattr(client.session, "_dispatcher", None)
    return getattr(dispatcher, "_closed", False) is True


def is_request_timeout(exc: BaseException) -> bool:
    return getattr(getattr(exc, "error", None), "code", None) == REQUEST_TIMEOUT


def connect_error(spec: ServerSpec, exc: BaseException, recorder: AuthRecorder) -> McpError:
    """Why opening a session failed, in words safe to show (no headers, no env)."""
    exc = leaf_exception(exc)
    if recorder.refused_status:
        return McpUnavailable(
            f"{spec.name}: the server refused our credentials (HTTP {recorder.refused_status})",
            server=spec.name,
            permanent=True,
        )
    if isinstance(exc, TimeoutError | httpx2.TimeoutException):
        return McpUnavailable(f"{spec.name}: connecting timed out", server=spec.name)
    if isinstance(exc, httpx2.HTTPStatusError):
        return McpUnavailable(
            f"{spec.name}: HTTP {exc.response.status_code} on connect", server=spec.name
        )
    detail = str(exc) or type(exc).__name__
    return McpUnavailable(
        f"{spec.name}: cannot connect ({type(exc).__name__}: {detail})"[:500], server=spec.name
    )


def call_error(
    spec: ServerSpec, exc: BaseException, recorder: AuthRecorder, max_result_bytes: int
) -> McpError:
    """Map a failure of an open session's request to our errors."""
    exc = leaf_exception(exc)
    if is_result_too_large(exc):
        return McpResultTooLarge(
            f"{spec.name}: {RESULT_TOO_LARGE.format(cap=max_result_bytes)}",
            server=spec.name,
            permanent=True,
        )
    if is_request_timeout(exc) or isinstance(exc, TimeoutError):
        return McpTimeout(f"{spec.name}: no answer within the timeout", server=spec.name)
    if recorder.refused_status:
        return McpUnavailable(
            f"{spec.name}: the server refused our credentials (HTTP {recorder.refused_status})",
            server=spec.name,
            permanent=True,
        )
    if is_broken_session(exc):
        return McpUnavailable(f"{spec.name}: connection lost ({exc})", server=spec.name)
    if hasattr(exc, "error"):
        # A JSON-RPC error from a server that is up: asking again will not change the answer.
        return McpError(f"{spec.name}: server error: {exc}"[:500], server=spec.name, permanent=True)
    return McpUnavailable(f"{spec.name}: {type(exc).__name__}: {exc}"[:500], server=spec.name)
