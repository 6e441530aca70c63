"""Claude through the official ``anthropic`` SDK.

The SDK owns retries: it backs off on 408/409/429/5xx/529 and connection errors and honours
``retry-after`` and ``x-should-retry``; we only set how many times (``max_retries``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from typing import Any

import anthropic

from .base import (
    UNREADABLE,
    LlmError,
    LlmResponse,
    SyncProvider,
    ToolSpec,
    ToolUse,
    Usage,
    llm_error_for_status,
    llm_transport_error,
    retry_after_seconds,
    scrub,
)

logger = logging.getLogger(__name__)

EPHEMERAL = {"type": "ephemeral"}


@functools.lru_cache(maxsize=4)
def _client(api_key: str, base_url: str, timeout: float, max_retries: int) -> anthropic.Anthropic:
    # One pooled client per distinct configuration: reused across calls in a process, and
    # a settings change (tests, a rotated key) gets a fresh client instead of a stale one.
    return anthropic.Anthropic(
        api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=max_retries
    )


class AnthropicProvider(SyncProvider):
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "",
        timeout: float = 60.0,
        max_retries: int = 2,
        default_max_tokens: int = 4096,
    ):
        self._api_key = api_key
        self._client = _client(api_key, base_url, float(timeout), int(max_retries))
        self._default_max_tokens = default_max_tokens

    def create(
        self,
        *,
        model: str,
        system: str,
        messages: list[dict],
        tools: Sequence[ToolSpec] = (),
        max_tokens: int | None = None,
    ) -> LlmResponse:
        started = time.monotonic()
        try:
            message = self._client.messages.create(
                model=model,
                max_tokens=max_tokens or self._default_max_tokens,
                messages=messages,
                **_cached_prefix(system, tools),
            )
        except anthropic.AnthropicError as exc:
            raise self._llm_error(exc) from None
        response = _to_response(message)
        logger.debug(
            "anthropic %s: %s in %.0f ms, usage %s",
            model,
            response.stop_reason,
            (time.monotonic() - started) * 1000,
            response.usage.as_dict(),
        )
        return response

    def _llm_error(self, exc: anthropic.AnthropicError) -> LlmError:
        # `from None` above: the SDK exception carries the request, and its headers the key.
        transport = llm_transport_error(
            timed_out=isinstance(exc, anthropic.APITimeoutError),
            connection_failed=isinstance(exc, anthropic.APIConnectionError),
        )
        if transport is not None:
            return transport
        if isinstance(exc, anthropic.APIStatusError):
            if exc.type == "overloaded_error":
                return llm_error_for_status(529)
            return llm_error_for_status(
                exc.status_code,
                detail=scrub(exc.api_message, self._api_key),
                retry_after=retry_after_seconds(exc.response.headers),
            )
        return LlmError(UNREADABLE, code="llm_error")


def _cached_prefix(system: str, tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """System prompt and tools, with cache breakpoints closing the stable prefix.

    The prefix order is tools, then system: a breakpoint on the last tool caches the tool
    list, one on the system block caches both, so each turn of the loop reads them back.
    """
    params: dict[str, Any] = {}
    if tools:
        specs = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in tools
        ]
        specs[-1]["cache_control"] = EPHEMERAL
        params["tools"] = specs
    if system:
        params["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
    return params


def _to_response(message) -> LlmResponse:
    raw_content: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "text":
            raw_content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            raw_content.append(
                {
                    "type": "tool_use",
                    "id": block.id,
                    "name": block.name,
                    "input": dict(block.input or {}),
                }
            )
    return LlmResponse(
        text="".join(b["text"] for b in raw_content if b["type"] == "text"),
        tool_uses=[
            ToolUse(id=b["id"], name=b["name"], input=b["input"])
            for b in raw_content
            if b["type"] == "tool_use"
        ],
        stop_reason=message.stop_reason or "end_turn",
        usage=_usage(message.usage),
        model=message.model,
        raw_content=raw_content,
    )


def _usage(usage) -> Usage:
    return Usage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
    )
