"""LLM providers behind one interface: ``get_provider().create(...)`` → :class:`LlmResponse`.

Configuration is read from settings on every ``get_provider()`` call (clients are pooled
per configuration), so changing settings takes effect without a restart of anything.
"""

from django.conf import settings

from .anthropic_provider import AnthropicProvider
from .base import (
    LlmError,
    LlmNotConfigured,
    LlmProvider,
    LlmResponse,
    ModelNotAllowed,
    ToolSpec,
    ToolUse,
    Usage,
    tool_result_block,
    tool_results_message,
    user_message,
)
from .openai_provider import OpenAIProvider

__all__ = [
    "LlmError",
    "LlmNotConfigured",
    "LlmProvider",
    "LlmResponse",
    "ModelNotAllowed",
    "ToolSpec",
    "ToolUse",
    "Usage",
    "get_provider",
    "model_resolve",
    "tool_result_block",
    "tool_results_message",
    "user_message",
]


def get_provider() -> LlmProvider:
    """The provider named by ``OMNI2_LLM_PROVIDER``; raises :class:`LlmNotConfigured`."""
    name = (settings.OMNI2_LLM_PROVIDER or "").strip().lower()
    common = {
        "timeout": settings.OMNI2_LLM_TIMEOUT_SECONDS,
        "max_retries": settings.OMNI2_LLM_MAX_RETRIES,
        "default_max_tokens": settings.OMNI2_LLM_MAX_TOKENS,
    }
    if name == "anthropic":
        return _anthropic(common)
    if name == "openai":
        return _openai(common)
    raise LlmNotConfigured(
        f"OMNI2_LLM_PROVIDER is {name or 'empty'!r}; it must be 'anthropic' or 'openai'."
    )


def _anthropic(common: dict) -> LlmProvider:
    if not settings.ANTHROPIC_API_KEY:
        raise LlmNotConfigured("No LLM is configured: set ANTHROPIC_API_KEY to use Claude.")
    return AnthropicProvider(
        api_key=settings.ANTHROPIC_API_KEY, base_url=settings.ANTHROPIC_BASE_URL, **common
    )


def _openai(common: dict) -> LlmProvider:
    # A local server (Ollama, vLLM) needs only its URL; OpenAI itself needs only a key.
    if not (settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY):
        raise LlmNotConfigured(
            "No LLM is configured: set OPENAI_BASE_URL (and OPENAI_API_KEY if the server needs one)."
        )
    return OpenAIProvider(
        api_key=settings.OPENAI_API_KEY, base_url=settings.OPENAI_BASE_URL, **common
    )


def model_resolve(*, requested: str | None, role_default: str | None) -> str:
    """The model for one request: the requested one (if allowed), the role's, or the default.

    A request may name a model of ``OMNI2_ALLOWED_MODELS`` and nothing else, not even the one it
    would get anyway (a role's default is held to the list when it is set); anything else
    raises :class:`ModelNotAllowed` (HTTP 400).
    """
    fallback = role_default or settings.OMNI2_DEFAULT_MODEL
    requested = (requested or "").strip()
    if not requested:
        return fallback
    allowed = settings.OMNI2_ALLOWED_MODELS
    if requested not in allowed:
        raise ModelNotAllowed(
            f"Model {requested!r} is not allowed. Choose one of: {', '.join(sorted(set(allowed))) or 'none'}."
        )
    return requested
