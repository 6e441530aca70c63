"""What the period cost: get_cost_summary, get_token_usage, get_cache_hit_rate."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q, Sum

from ..cost import model_prices
from ..selectors import audit_by_mcp, audit_by_user, audit_totals
from .common import (
    GroupBy,
    groups_json,
    money,
    period_calls,
    period_logs,
    rate,
    requests_by_mcp,
    requests_grouped,
)
from .periods import Period

_PER_MILLION = Decimal(1_000_000)


def analytics_cost_summary(*, period: Period, group_by: GroupBy = "user", limit: int = 20) -> dict:
    """Totals of the period (exactly ``/api/audit/stats``'s) and the cost per user, MCP or model."""
    logs, calls = period_logs(period=period), period_calls(period=period)
    totals = audit_totals(logs=logs)
    average = totals["cost_usd"] / totals["requests"] if totals["requests"] else 0
    return {
        "period": period.to_json(),
        **totals,
        "average_cost_usd": round(average, 6),
        **groups_json(group_by=group_by, rows=_cost_rows(logs, calls, group_by), limit=limit),
    }


def _cost_rows(logs, calls, group_by: str) -> list[dict]:
    if group_by == "user":
        return audit_by_user(logs=logs)  # the rows of /api/audit/stats by_user
    if group_by == "model":
        return requests_grouped(logs=logs, calls=calls, group_by="model")
    # Per MCP: the tool-call figures of /api/audit/stats by_mcp, plus what its requests cost.
    spent = {row["mcp"]: row for row in requests_by_mcp(logs=logs, calls=calls)}
    rows = []
    for row in audit_by_mcp(calls=calls):
        requests = spent.get(row["mcp"], {"requests": 0, "cost_usd": 0.0})
        rows.append({**row, "requests": requests["requests"], "cost_usd": requests["cost_usd"]})
    return sorted(rows, key=lambda row: (-row["cost_usd"], -row["calls"], row["mcp"]))


def analytics_token_usage(*, period: Period, group_by: GroupBy = "model", limit: int = 20) -> dict:
    """Input, output, cache-read and cache-write tokens of the period, per user, MCP or model."""
    logs, calls = period_logs(period=period), period_calls(period=period)
    totals = audit_totals(logs=logs)
    rows = [_with_total(row) for row in requests_grouped(logs=logs, calls=calls, group_by=group_by)]
    rows.sort(key=lambda row: -row["total_tokens"])  # stable: ties keep the cost order
    requests = totals["requests"]
    return {
        "period": period.to_json(),
        "requests": requests,
        "tokens": totals["tokens"],
        "total_tokens": sum(totals["tokens"].values()),
        "cost_usd": totals["cost_usd"],
        "average_per_request": {
            part: round(n / requests, 1) if requests else 0 for part, n in totals["tokens"].items()
        },
        **groups_json(group_by=group_by, rows=rows, limit=limit),
    }


def _with_total(row: dict) -> dict:
    return {**row, "total_tokens": sum(row["tokens"].values())}


def analytics_cache_hit_rate(*, period: Period, group_by: str = "model", limit: int = 20) -> dict:
    """Share of prompt tokens read from the prompt cache, and what that saved, overall and per group.

    hit_rate = cache_read / (input + cache_read + cache_write): Anthropic bills a prompt as
    those three parts. Savings = cache-read tokens priced at the model's input price minus
    its cache-read price (models without a price count no savings).
    """
    key = "user_email" if group_by == "user" else "model"
    fields = ["model"] if key == "model" else [key, "model"]
    rows = period_logs(period=period).values(*fields).annotate(**_cache_sums()).order_by(*fields)
    overall, groups = _CacheFigures(), defaultdict(_CacheFigures)
    for row in rows:
        overall.add(row)
        groups[row[key]].add(row)
    group_rows = [{key: name, **figures.to_json()} for name, figures in groups.items()]
    group_rows.sort(key=lambda row: (-row["cache_read_tokens"], row[key]))
    return {
        "period": period.to_json(),
        **overall.to_json(),
        **groups_json(group_by=group_by, rows=group_rows, limit=limit),
    }


def _cache_sums() -> dict:
    called_model = Q(tokens_input__gt=0) | Q(tokens_cache_read__gt=0) | Q(tokens_cache_write__gt=0)
    return {
        "llm_requests": Count("id", filter=called_model),
        "cached_requests": Count("id", filter=Q(tokens_cache_read__gt=0)),
        "input": Sum("tokens_input"),
        "cache_read": Sum("tokens_cache_read"),
        "cache_write": Sum("tokens_cache_write"),
    }


class _CacheFigures:
    """Running sums for one group (or the whole period) across the models it used."""

    def __init__(self):
        self.counts = defaultdict(int)
        self.savings = Decimal(0)

    def add(self, row: dict) -> None:
        for part in ("llm_requests", "cached_requests", "input", "cache_read", "cache_write"):
            self.counts[part] += row[part] or 0
        prices = model_prices(row["model"])
        if prices:
            self.savings += (
                (row["cache_read"] or 0) * (prices["input"] - prices["cache_read"]) / _PER_MILLION
            )

    def to_json(self) -> dict:
        c = self.counts
        prompt = c["input"] + c["cache_read"] + c["cache_write"]
        return {
            "llm_requests": c["llm_requests"],
            "cached_requests": c["cached_requests"],
            "prompt_tokens": prompt,
            "input_tokens": c["input"],
            "cache_read_tokens": c["cache_read"],
            "cache_write_tokens": c["cache_write"],
            "hit_rate": rate(c["cache_read"], prompt),
            "requests_with_cache_hits_rate": rate(c["cached_requests"], c["llm_requests"]),
            "estimated_savings_usd": money(self.savings),
        }
