"""Plain values that cross the MCP boundary: server specs, tools, results, health, errors.

Nothing here imports the SDK, so callers (views, tasks, the policy engine) can use
these types without pulling in the transport machinery.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TRANSPORTS = ("http", "sse", "stdio")


def _env_pairs(
    env: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    items = env.items() if isinstance(env, Mapping) else (env or ())
    return tuple(sorted((str(key), str(value)) for key, value in items))


def url_without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


@dataclass(frozen=True, repr=False)
class ServerSpec:
    """How to reach one MCP server. ``env`` is a mapping or pairs; it is stored as sorted pairs."""

    name: str
    transport: str
    url: str = ""
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    bearer_token: str = ""
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(str(arg) for arg in self.args))
        object.__setattr__(self, "env", _env_pairs(self.env))
        object.__setattr__(self, "timeout_seconds", float(self.timeout_seconds))
        if self.transport not in TRANSPORTS:
            raise ValueError(
                f"MCP server {self.name!r}: transport must be one of {', '.join(TRANSPORTS)}"
            )
        if self.transport == "stdio" and not self.command:
            raise ValueError(f"MCP server {self.name!r}: a stdio server needs a command")
        if self.transport != "stdio" and not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"MCP server {self.name!r}: an {self.transport} server needs an http(s) url"
            )
        if self.timeout_seconds <= 0:
            raise ValueError(f"MCP server {self.name!r}: timeout_seconds must be positive")

    @functools.cached_property  # read several times per call; the spec is immutable
    def fingerprint(self) -> str:
        """Changes whenever anything that shapes the connection changes (secrets only as a hash)."""
        material = json.dumps(
            [
                self.name,
                self.transport,
                self.url,
                self.command,
                self.args,
                self.env,
                self.bearer_token,
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        # Tokens and env values are secrets (DSNs, API keys); show only that they exist.
        where = (
            f"url={url_without_credentials(self.url)!r}"
            if self.url
            else f"command={self.command!r}, args={list(self.args)!r}"
        )
        env_keys = [key for key, _ in self.env]
        token = ", bearer_token='***'" if self.bearer_token else ""
        return (
            f"ServerSpec(name={self.name!r}, transport={self.transport!r}, {where}, "
            f"env_keys={env_keys!r}{token}, timeout_seconds={self.timeout_seconds})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ToolResult:
    """What a tool answered. A tool that failed is ``is_error=True``, not an exception."""

    is_error: bool
    content: list[dict[str, Any]] = field(default_factory=list)
    structured: dict[str, Any] | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "is_error": self.is_error,
            "content": self.content,
            "structured": self.structured,
            "text": self.text,
        }


@dataclass(frozen=True)
class ServerHealth:
    """Last known state of one server; ``reachable`` is None until something was tried."""

    name: str
    reachable: bool | None = None
    latency_ms: float | None = None
    tool_count: int | None = None
    last_error: str = ""
    last_error_code: str = (
        ""  # the error's class as a short code, e.g. "timeout": safe to show anyone
    )
    circuit_open: bool = False
    checked_at: float | None = None  # time.time() of the last attempt

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class McpError(Exception):
    """A call that did not produce a tool result. ``permanent``: retrying will not help."""

    permanent = False
    code = "mcp_error"  # a short name for the kind of failure, free of URLs and server text

    def __init__(self, message: str, *, server: str = "", permanent: bool | None = None):
        super().__init__(message)
        self.message = message
        self.server = server
        if permanent is not None:
            self.permanent = permanent


class McpUnavailable(McpError):
    """The server could not be reached, its session broke twice, or its circuit is open."""

    code = "unreachable"


class McpTimeout(McpError):
    """The server did not answer within its timeout (the request was cancelled)."""

    code = "timeout"


class McpResultTooLarge(McpError):
    """The tool answered with more than ``OMNI2_MCP_MAX_RESULT_BYTES``; the answer was discarded."""
