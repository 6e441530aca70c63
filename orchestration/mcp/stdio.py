"""The stdio transport, with the SDK's line reader replaced by one that caps a message's size.

The SDK's ``stdio_client`` (mcp 2.3) joins stdout chunks with ``buffer + chunk`` until a newline
comes: a 50 MB line costs quadratic copying and its whole size in memory, while every other
request on the session waits behind it. Here a line longer than ``max_line_bytes`` is skipped
as it streams past (never held), and the request it answered gets a JSON-RPC error instead,
so the session stays usable. Everything else is the SDK's own code path: process start,
shutdown and clean-up are its helpers, unchanged.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import TextIO

import anyio
import anyio.lowlevel
from mcp import StdioServerParameters
from mcp.client import stdio as sdk_stdio
from mcp.shared.message import SessionMessage
from mcp_types import ErrorData, JSONRPCError

logger = logging.getLogger(__name__)

# A JSON-RPC error code of our own (the implementation-defined server error range).
RESULT_TOO_LARGE_CODE = -32099
RESULT_TOO_LARGE = (
    "The tool's result was larger than the {cap} bytes OMNI2 accepts from an MCP server "
    "(OMNI2_MCP_MAX_RESULT_BYTES); it was discarded."
)
_EDGE = 256  # bytes kept from each end of a skipped line, to find its request id
_ID_AT_START = re.compile(
    rb'^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")'
)
_ID_AT_END = re.compile(rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$')


class Oversized:
    """A skipped line: its first and last bytes, and its size."""

    def __init__(self, head: bytes, tail: bytes, size: int):
        self.head, self.tail, self.size = head, tail, size

    def request_id(self) -> int | str | None:
        """The id of the response, if it sits where JSON-RPC libraries put it (first or last)."""
        match = _ID_AT_START.match(self.head) or _ID_AT_END.search(self.tail)
        if match is None:
            return None
        raw = match.group(1)
        return int(raw) if raw[:1] != b'"' else raw[1:-1].decode("utf-8", "replace")


class LineSplitter:
    """Bytes in, complete lines out; a line over ``cap`` bytes comes out as ``Oversized``."""

    def __init__(self, cap: int):
        self.cap = cap
        self._reset()

    def _reset(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.head = b""
        self.tail = b""

    def feed(self, chunk: bytes) -> list[bytes | Oversized]:
        lines: list[bytes | Oversized] = []
        while chunk:
            end = chunk.find(b"\n")
            piece, chunk = (chunk, b"") if end < 0 else (chunk[:end], chunk[end + 1 :])
            self._take(piece)
            if end >= 0:
                lines.append(self._line())
        return lines

    def _take(self, piece: bytes) -> None:
        if len(self.head) < _EDGE:
            self.head += piece[: _EDGE - len(self.head)]
        self.size += len(piece)
        if self.parts is not None and self.size > self.cap:
            self.parts = None  # skipping from here: nothing more of this line is kept
        if self.parts is None:
            self.tail = (self.tail + piece[-_EDGE:])[-_EDGE:]
        else:
            self.parts.append(piece)

    def _line(self) -> bytes | Oversized:
        line = (
            b"".join(self.parts)
            if self.parts is not None
            else Oversized(self.head, self.tail, self.size)
        )
        self._reset()
        return line


def _message_for(line: bytes | Oversized, *, cap: int, encoding: str, errors: str):
    if not isinstance(line, Oversized):
        return sdk_stdio._parse_line(line.decode(encoding, errors))
    request_id = line.request_id()
    logger.warning(
        "MCP stdio: skipped a %s-byte message (cap %s bytes), request id %r",
        line.size,
        cap,
        request_id,
    )
    if request_id is None:
        return None  # nothing to answer; the request, if any, ends at its timeout
    error = ErrorData(code=RESULT_TOO_LARGE_CODE, message=RESULT_TOO_LARGE.format(cap=cap))
    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=request_id, error=error))


@asynccontextmanager
async def capped_stdio_client(
    server: StdioServerParameters, *, max_line_bytes: int, errlog: TextIO = sys.stderr
) -> AsyncGenerator:
    """``mcp.client.stdio.stdio_client`` with a capped line reader (see the module docstring)."""
    command = await sdk_stdio._get_executable_command(server.command)
    process = await sdk_stdio._create_platform_compatible_process(
        command=command,
        args=server.args,
        env=sdk_stdio.get_default_environment() | (server.env or {}),
        errlog=errlog,
        cwd=server.cwd,
    )
    read_stream_writer, read_stream = anyio.create_memory_object_stream(0)
    write_stream, write_stream_reader = anyio.create_memory_object_stream(0)
    shutting_down = False
    writer_done = anyio.Event()

    async def stdout_reader() -> None:
        splitter = LineSplitter(max_line_bytes)
        try:
            async with read_stream_writer:
                try:
                    async for chunk in process.stdout:
                        for line in splitter.feed(chunk):
                            message = _message_for(
                                line,
                                cap=max_line_bytes,
                                encoding=server.encoding,
                                errors=server.encoding_error_handler,
                            )
                            if message is None:
                                continue
                            try:
                                await read_stream_writer.send(message)
                            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                                return
                finally:
                    await sdk_stdio._drain_stdout(process)
        except anyio.ClosedResourceError:
            pass
        except (anyio.BrokenResourceError, ConnectionError):
            if not shutting_down:
                logger.exception("Reading from the MCP server's stdout failed mid-session")

    async def stdin_writer() -> None:
        try:
            async with write_stream_reader:
                async for session_message in write_stream_reader:
                    json = session_message.message.model_dump_json(
                        by_alias=True, exclude_unset=True
                    )
                    await process.stdin.send(
                        (json + "\n").encode(server.encoding, server.encoding_error_handler)
                    )
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_stream_writer.aclose()
        finally:
            writer_done.set()

    async def shutdown() -> None:
        read_stream.close()
        write_stream.close()
        with anyio.move_on_after(sdk_stdio._WRITER_FLUSH_TIMEOUT):
            await writer_done.wait()
        await sdk_stdio._stop_server_process(process)
        await sdk_stdio._aclose_all(
            read_stream, write_stream, read_stream_writer, write_stream_reader
        )
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        try:
            yield read_stream, write_stream
        finally:
            shutting_down = True
            with anyio.CancelScope(shield=True):
                await shutdown()
            tg.cancel_scope.cancel()
    await anyio.lowlevel.cancel_shielded_checkpoint()
