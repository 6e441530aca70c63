"""What a model call cost, from the per-model price table in settings (USD per million tokens)."""

import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

MICRO_DOLLAR = Decimal("0.000001")
_PER_MILLION = Decimal(1_000_000)
_ZERO = Decimal(0)

# Provider decorations around a family name: Bedrock's "us.anthropic." prefix and "-v1:0"
# suffix, a Vertex "@20250929" or dated "-20250929" release, and "-latest".
_PREFIX = re.compile(r"^(?:[a-z]{2}\.)?anthropic\.")
_SUFFIX = re.compile(r"(?:-v\d+(?::\d+)?)?$")
_RELEASE = re.compile(r"(?:[-@]\d{8}|-latest)$")


def model_family(model: str) -> str:
    """``claude-sonnet-4-5-20250929`` → ``claude-sonnet-4-5`` (the price table's key)."""
    name = _PREFIX.sub("", model.strip().lower())
    name = _SUFFIX.sub("", name)
    return _RELEASE.sub("", name)


def model_prices(model: str) -> dict[str, Decimal] | None:
    """Per-million prices for ``model`` (exact id first, then its family), or None if unknown."""
    table = settings.OMNI2_MODEL_PRICES
    row = (table.get(model) or table.get(model_family(model))) if model else None
    if row is None:
        return None
    return {
        part: Decimal(str(row.get(part, 0)))
        for part in ("input", "output", "cache_read", "cache_write")
    }


def cost_usd(
    *,
    model: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> tuple[Decimal, bool]:
    """(cost rounded to the micro-dollar, whether the model's prices are known).

    An unknown model costs 0; the caller decides what that means (the audit marks a warning).
    """
    prices = model_prices(model)
    if prices is None:
        return _ZERO.quantize(MICRO_DOLLAR), False
    total = (
        input_tokens * prices["input"]
        + output_tokens * prices["output"]
        + cache_read_tokens * prices["cache_read"]
        + cache_write_tokens * prices["cache_write"]
    )
    return (total / _PER_MILLION).quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP), True
