"""The provider-neutral side of talking to an LLM.

The canonical conversation is the Anthropic Messages shape: ``messages`` is a list of
``{"role": "user" | "assistant", "content": str | list[block]}`` where a block is
``{"type": "text", "text"}``, ``{"type": "tool_use", "id", "name", "input"}`` or
``{"type": "tool_result", "tool_use_id", "content", "is_error"}``. Every provider takes
that shape and answers with an :class:`LlmResponse` whose ``raw_content`` is the
assistant turn in that same shape, so the tool loop never sees a vendor format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.errors import ApiError


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


@dataclass(frozen=True)
class LlmResponse:
    text: str
    tool_uses: list[ToolUse]
    stop_reason: str
    usage: Usage
    model: str
    raw_content: list[dict[str, Any]] = field(default_factory=list)

    def assistant_message(self) -> dict[str, Any]:
        """This turn as a canonical message, ready to append to the conversation."""
        return {"role": "assistant", "content": self.raw_content}


def user_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def tool_result_block(tool_use_id: str, content: str, is_error: bool = False) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": content,
        "is_error": is_error,
    }


def tool_results_message(blocks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The user turn that answers every tool_use of the previous assistant turn."""
    return {"role": "user", "content": list(blocks)}


# --- errors -----------------------------------------------------------------------------


class LlmError(Exception):
    """A provider failure; ``message`` is safe to show people (never a key or a raw body).

    ``permanent`` says whether trying again later can help: a bad key or a bad request
    will not get better, a rate limit or an overload will.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "llm_error",
        permanent: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after

    def as_api_error(self) -> ApiError:
        """The REST shape: 503 when no LLM is set up, 502 for anything the provider did."""
        status = 503 if isinstance(self, LlmNotConfigured) else 502
        return ApiError(self.message, code=self.code, status=status)


def llm_transport_error(*, timed_out: bool, connection_failed: bool) -> LlmError | None:
    """The same sentence whichever SDK failed to get an answer; None for other failures."""
    if timed_out:
        return LlmError("The LLM provider did not answer in time.", code="llm_timeout")
    if connection_failed:
        return LlmError("The LLM provider could not be reached.", code="llm_unavailable")
    return None


UNREADABLE = "The LLM provider's answer could not be read."


class LlmNotConfigured(LlmError):
    def __init__(self, message: str):
        super().__init__(message, code="llm_not_configured", permanent=True)


class ModelNotAllowed(ApiError):
    status_code = 400
    default_code = "invalid_request"


_STATUS_ERRORS: dict[int, tuple[str, bool, str]] = {
    400: ("llm_bad_request", True, "The LLM provider refused the request as invalid"),
    401: ("llm_auth_failed", True, "The LLM provider rejected the configured API key"),
    403: (
        "llm_permission_denied",
        True,
        "The configured API key may not use this model or feature",
    ),
    404: ("llm_bad_request", True, "The LLM provider does not know this model or endpoint"),
    408: ("llm_timeout", False, "The LLM provider timed out"),
    413: ("llm_bad_request", True, "The request is too large for the LLM provider"),
    422: ("llm_bad_request", True, "The LLM provider refused the request as invalid"),
    429: ("llm_rate_limited", False, "The LLM provider's rate limit was hit; try again shortly"),
    504: ("llm_timeout", False, "The LLM provider timed out"),
    529: ("llm_overloaded", False, "The LLM provider is overloaded; try again shortly"),
}


def llm_error_for_status(
    status: int, *, detail: str | None = None, retry_after: float | None = None
) -> LlmError:
    """Map an HTTP status from any provider to one :class:`LlmError`.

    ``detail`` (the provider's own sentence) is only added for bad requests, where it
    says what to fix; callers must have scrubbed secrets from it.
    """
    code, permanent, message = _STATUS_ERRORS.get(status, _fallback_for(status))
    if detail and code == "llm_bad_request":
        message = f"{message}: {detail[:300]}"
    return LlmError(
        f"{message} (HTTP {status}).",
        code=code,
        permanent=permanent,
        status=status,
        retry_after=retry_after,
    )


def _fallback_for(status: int) -> tuple[str, bool, str]:
    if status >= 500:
        return ("llm_unavailable", False, "The LLM provider failed")
    return ("llm_error", True, "The LLM provider refused the request")


def retry_after_seconds(headers) -> float | None:
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def scrub(text: str | None, *secrets: str) -> str | None:
    """Remove configured secrets from a provider's message (some servers echo the key)."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text


# --- the interface ---------------------------------------------------------------------


@runtime_checkable
class LlmProvider(Protocol):
    name: str

    def create(
        self,
        *,
        model: str,
        system: str,
        messages: list[dict],
        tools: Sequence[ToolSpec],
        max_tokens: int | None = None,
    ) -> LlmResponse: ...

    async def acreate(
        self,
        *,
        model: str,
        system: str,
        messages: list[dict],
        tools: Sequence[ToolSpec],
        max_tokens: int | None = None,
    ) -> LlmResponse: ...


class SyncProvider:
    """Base class: ``acreate`` runs the sync call in a thread.

    A cached async SDK client would be bound to the first event loop that used it, and
    Celery tasks and views each run their own loop; a thread keeps one pooled client.
    """

    name = "base"

    def create(self, **kwargs) -> LlmResponse:
        raise NotImplementedError

    async def acreate(self, **kwargs) -> LlmResponse:
        return await asyncio.to_thread(lambda: self.create(**kwargs))
