"""The dashboard's JSON: every chart and table of one period, built from a source's rows.

Shapes (lists per day follow ``days``; money is USD with six decimals):
``cost_by_model`` [{model, cost_usd: [..], total_usd}], ``requests_by_status`` [{status,
requests: [..], total}], ``top_users`` [{user_id, email, requests, cost_usd}], ``top_tools``
[{mcp, tool, calls, errors, denied}], ``mcp_latency`` [{mcp, calls, p50_ms, p95_ms}], ``cache``
{hit_rate, per_day, input/cache_read/cache_write tokens}, ``refusals`` {denied_requests,
denied_tool_calls, rate_limited}, ``slowest`` and ``costliest`` (requests with admin links).
"""

import math
from collections import defaultdict
from datetime import date

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.text import Truncator

from ..models import AuditLog, Status, ToolCallStatus
from .period import DashboardPeriod
from .sources import RollupSource

TOP = 10
_FAILED = {ToolCallStatus.ERROR, ToolCallStatus.TIMEOUT, ToolCallStatus.UNAVAILABLE}
_PROMPT_PARTS = ("input", "cache_read", "cache_write")  # what Anthropic bills a prompt as


def dashboard_data(*, period: DashboardPeriod, source=None) -> dict:
    """The JSON of the dashboard for ``period`` (from the rollups unless a source is given)."""
    source = source or RollupSource(period)
    days, daily = period.days, source.daily()
    tools = source.tools()
    return {
        "period": period.to_json(),
        "days": [day.isoformat() for day in days],
        "totals": _totals(daily, tools),
        "cost_by_model": _cost_by_model(daily, days),
        "requests_by_status": _requests_by_status(daily, days),
        "top_users": _top_users(source.top_users(TOP)),
        "top_tools": _top_tools(tools),
        "mcp_latency": _latency(source.durations()),
        "cache": _cache(daily, days),
        "refusals": _refusals(daily, source.denied_calls(), days),
        "slowest": top_requests(period, "-duration_ms"),
        "costliest": top_requests(period, "-cost_usd"),
    }


def duration_bucket(ms: int) -> int:
    """Two significant figures, exact below 100 ms (the rollup trigger's rule, migration 0006)."""
    if ms < 100:
        return ms
    step = 10 ** (len(str(ms)) - 2)
    return ms // step * step


def percentile(buckets: list[tuple[int, int]], p: float) -> int:
    """Nearest-rank percentile of (value, count) pairs sorted by value."""
    rank, seen = max(1, math.ceil(p / 100 * sum(count for _, count in buckets))), 0
    for value, count in buckets:
        seen += count
        if seen >= rank:
            return value
    raise ValueError("no values")


def _usd(micros: int) -> float:
    return round(micros / 1_000_000, 6)


def _per_day(rows, days: list[date], key: str | None, value: str) -> dict:
    """``{row[key]: [sum of row[value] per day]}`` (key None: one series, under None)."""
    position = {day: n for n, day in enumerate(days)}
    series = defaultdict(lambda: [0] * len(days))
    for row in rows:
        series[row[key] if key else None][position[row["day"]]] += row[value] or 0
    return series


def _daily_sum(rows, days: list[date], value: str) -> list[int]:
    return _per_day(rows, days, None, value)[None]


def _totals(daily: list[dict], tools: list[dict]) -> dict:
    return {
        "requests": sum(row["requests"] for row in daily),
        "errors": sum(row["requests"] for row in daily if row["status"] == Status.ERROR),
        "cost_usd": _usd(sum(row["cost_micros"] for row in daily)),
        "tool_calls": sum(row["calls"] for row in tools if row["status"] != ToolCallStatus.DENIED),
    }


def _cost_by_model(daily: list[dict], days: list[date]) -> list[dict]:
    series = _per_day([row for row in daily if row["model"]], days, "model", "cost_micros")
    rows = [
        {"model": model, "cost_usd": [_usd(v) for v in values], "total_usd": _usd(sum(values))}
        for model, values in series.items()
    ]
    return sorted(rows, key=lambda row: (-row["total_usd"], row["model"]))


def _requests_by_status(daily: list[dict], days: list[date]) -> list[dict]:
    series = _per_day(daily, days, "status", "requests")
    ordered = [status for status in Status.values if status in series]
    ordered += sorted(set(series) - set(ordered))
    return [
        {"status": status, "requests": series[status], "total": sum(series[status])}
        for status in ordered
    ]


def _top_users(rows: list[dict]) -> list[dict]:
    ids = [row["user_id"] for row in rows if row["user_id"]]
    emails = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "email"))
    return [
        {
            "user_id": row["user_id"] or None,
            "email": emails.get(row["user_id"]) or _recorded_email(row["user_id"]),
            "requests": row["requests"],
            "cost_usd": _usd(row["cost_micros"]),
        }
        for row in rows
    ]


def _recorded_email(user_id: int) -> str:
    """A deleted user's e-mail as their latest audit row recorded it (index audit_user_time)."""
    if not user_id:
        return "(no user)"
    latest = AuditLog.objects.filter(user_id=user_id).order_by("-created_at")
    return latest.values_list("user_email", flat=True).first() or f"user #{user_id} (deleted)"


def _top_tools(rows: list[dict]) -> list[dict]:
    tools = defaultdict(lambda: {"calls": 0, "errors": 0, "denied": 0})
    for row in rows:
        figures = tools[(row["mcp"], row["tool"])]
        if row["status"] == ToolCallStatus.DENIED:
            figures["denied"] += row["calls"]
            continue
        figures["calls"] += row["calls"]
        figures["errors"] += row["calls"] if row["status"] in _FAILED else 0
    ranked = sorted(tools.items(), key=lambda kv: (-kv[1]["calls"], -kv[1]["denied"], kv[0]))
    return [{"mcp": mcp, "tool": tool, **figures} for (mcp, tool), figures in ranked[:TOP]]


def _latency(rows: list[dict]) -> list[dict]:
    buckets = defaultdict(list)
    for row in rows:
        buckets[row["mcp"]].append((row["bucket_ms"], row["calls"]))
    latency = []
    for mcp, pairs in buckets.items():
        pairs.sort()
        latency.append(
            {
                "mcp": mcp,
                "calls": sum(count for _, count in pairs),
                "p50_ms": percentile(pairs, 50),
                "p95_ms": percentile(pairs, 95),
            }
        )
    return sorted(latency, key=lambda row: (-row["calls"], row["mcp"]))


def _hit_rate(read: int, prompt: int) -> float | None:
    """cache_read / (input + cache_read + cache_write), as the analytics tool computes it."""
    return round(read / prompt, 4) if prompt else None


def _cache(daily: list[dict], days: list[date]) -> dict:
    parts = {name: _daily_sum(daily, days, f"tokens_{name}") for name in _PROMPT_PARTS}
    prompt = [sum(values) for values in zip(*parts.values(), strict=True)]
    totals = {name: sum(values) for name, values in parts.items()}
    return {
        "hit_rate": _hit_rate(totals["cache_read"], sum(totals.values())),
        "per_day": [_hit_rate(r, p) for r, p in zip(parts["cache_read"], prompt, strict=True)],
        "input_tokens": totals["input"],
        "cache_read_tokens": totals["cache_read"],
        "cache_write_tokens": totals["cache_write"],
    }


def _refusals(daily: list[dict], denied_calls: list[dict], days: list[date]) -> dict:
    def requests(status: str) -> list[int]:
        return _daily_sum([row for row in daily if row["status"] == status], days, "requests")

    return {
        "denied_requests": requests(Status.DENIED),
        "denied_tool_calls": _daily_sum(denied_calls, days, "calls"),
        "rate_limited": requests(Status.RATE_LIMITED),
    }


def top_requests(period: DashboardPeriod, ordering: str) -> list[dict]:
    """The period's top requests by ``ordering``, each with its admin change URL."""
    logs = AuditLog.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
    logs = logs.order_by(ordering, "-id").only(
        "created_at",
        "user_email",
        "source",
        "status",
        "model",
        "duration_ms",
        "cost_usd",
        "message",
    )[:TOP]
    return [
        {
            "id": log.pk,
            "created_at": log.created_at.isoformat(),
            "user_email": log.user_email,
            "source": log.source,
            "status": log.status,
            "model": log.model,
            "duration_ms": log.duration_ms,
            "cost_usd": round(float(log.cost_usd), 6),
            "message": Truncator(log.message).chars(80),
            "url": reverse("admin:audit_auditlog_change", args=[log.pk]),
        }
        for log in logs
    ]
