"""Any OpenAI-compatible chat-completions server (Ollama, vLLM, LiteLLM, OpenAI itself).

Canonical (Anthropic-shaped) turns are translated to chat-completions messages on the way
out and back on the way in; retries are the ``openai`` SDK's own, as for Anthropic.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import openai

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

# Local servers (Ollama, vLLM) ignore the key, but the SDK refuses to start without one.
PLACEHOLDER_KEY = "not-needed"

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


@functools.lru_cache(maxsize=4)
def _client(api_key: str, base_url: str, timeout: float, max_retries: int) -> openai.OpenAI:
    # Keyed on the configuration, so a settings change never reuses a stale client.
    return openai.OpenAI(
        api_key=api_key or PLACEHOLDER_KEY,
        base_url=base_url or None,
        timeout=timeout,
        max_retries=max_retries,
    )


class OpenAIProvider(SyncProvider):
    name = "openai"

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
        extra = {"tools": [_function_spec(t) for t in tools]} if tools else {}
        try:
            completion = self._client.chat.completions.create(
                model=model,
                max_tokens=max_tokens or self._default_max_tokens,
                messages=chat_messages(system=system, messages=messages),
                **extra,
            )
        except openai.OpenAIError as exc:
            raise self._llm_error(exc) from None
        response = _to_response(completion)
        logger.debug(
            "openai %s: %s in %.0f ms, usage %s",
            model,
            response.stop_reason,
            (time.monotonic() - started) * 1000,
            response.usage.as_dict(),
        )
        return response

    def _llm_error(self, exc: openai.OpenAIError) -> LlmError:
        transport = llm_transport_error(
            timed_out=isinstance(exc, openai.APITimeoutError),
            connection_failed=isinstance(exc, openai.APIConnectionError),
        )
        if transport is not None:
            return transport
        if isinstance(exc, openai.APIStatusError):
            detail = scrub(_error_message(exc.body), self._api_key)
            return llm_error_for_status(
                exc.status_code,
                detail=detail,
                retry_after=retry_after_seconds(exc.response.headers),
            )
        return LlmError(UNREADABLE, code="llm_error")


def _function_spec(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.input_schema,
        },
    }


def chat_messages(*, system: str, messages: list[dict]) -> list[dict[str, Any]]:
    """Canonical conversation → chat-completions messages."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            out.append({"role": message["role"], "content": content})
        elif message["role"] == "assistant":
            out.append(_assistant_message(content))
        else:
            out.extend(_user_messages(content))
    return out


def _assistant_message(blocks: list[dict]) -> dict[str, Any]:
    text = "".join(b["text"] for b in blocks if b["type"] == "text")
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
        }
        for b in blocks
        if b["type"] == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _user_messages(blocks: list[dict]) -> list[dict[str, Any]]:
    # Tool answers must directly follow the assistant turn that asked, so they go first.
    out = [
        {"role": "tool", "tool_call_id": b["tool_use_id"], "content": _result_text(b)}
        for b in blocks
        if b["type"] == "tool_result"
    ]
    text = "".join(b["text"] for b in blocks if b["type"] == "text")
    if text:
        out.append({"role": "user", "content": text})
    return out


def _result_text(block: dict) -> str:
    content = block.get("content", "")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content)
    # Chat completions has no error flag on a tool message; say it in words.
    return f"Error: {content}" if block.get("is_error") else content


def _to_response(completion) -> LlmResponse:
    choice = completion.choices[0]
    text = choice.message.content or ""
    tool_uses = [
        _tool_use(call) for call in choice.message.tool_calls or [] if call.type == "function"
    ]
    raw_content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    raw_content += [
        {"type": "tool_use", "id": u.id, "name": u.name, "input": u.input} for u in tool_uses
    ]
    # Some servers (Ollama) answer tool calls with finish_reason "stop"; the calls decide.
    stop_reason = (
        "tool_use" if tool_uses else _STOP_REASONS.get(choice.finish_reason, choice.finish_reason)
    )
    return LlmResponse(
        text=text,
        tool_uses=tool_uses,
        stop_reason=stop_reason or "end_turn",
        usage=_usage(completion.usage),
        model=completion.model,
        raw_content=raw_content,
    )


def _tool_use(call) -> ToolUse:
    raw = call.function.arguments or "{}"
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError:
        arguments = None
    # Models sometimes emit broken JSON; keep it visible so schema validation refuses it.
    if not isinstance(arguments, dict):
        arguments = {"_unparsed_arguments": raw}
    return ToolUse(id=call.id, name=call.function.name, input=arguments)


def _usage(usage) -> Usage:
    """prompt_tokens counts cached tokens too; input_tokens here is only the uncached part."""
    if usage is None:
        return Usage()
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (getattr(details, "cache_write_tokens", None) or 0) if details else 0
    return Usage(
        input_tokens=max(usage.prompt_tokens - cached - written, 0),
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def _error_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return error.get("message")
    return body if isinstance(body, str) else None
