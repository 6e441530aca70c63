"""How well things went: get_error_summary and get_mcp_health_summary."""

from __future__ import annotations

from django.db.models import Count, Q

from ..models import Status, ToolCallStatus
from ..selectors import audit_by_mcp, audit_by_tool, audit_totals
from .common import (
    GroupBy,
    groups_json,
    nearest_rank,
    period_calls,
    period_logs,
    preview,
    rate,
    requests_grouped,
)
from .periods import Period

_FAILED = (ToolCallStatus.ERROR, ToolCallStatus.TIMEOUT, ToolCallStatus.UNAVAILABLE)
# Share of the calls that reached a server and failed, above which it is "degraded" / "failing".
DEGRADED_AT, FAILING_AT = 0.05, 0.25


def analytics_error_summary(
    *, period: Period, group_by: GroupBy | None = None, limit: int = 10
) -> dict:
    """Requests by status, the error rate, failing tools and the most common error messages.

    ``errors`` counts requests with status "error" (as ``/api/audit/stats`` does); denials,
    rate-limit refusals and warnings are in ``by_status``.
    """
    logs, calls = period_logs(period=period), period_calls(period=period)
    totals = audit_totals(logs=logs)
    by_status = dict(logs.values_list("status").annotate(n=Count("id")).order_by("status"))
    summary = {
        "period": period.to_json(),
        "requests": totals["requests"],
        "errors": totals["errors"],
        "error_rate": rate(totals["errors"], totals["requests"]),
        "by_status": by_status,
        "failing_tools": _failing_tools(calls)[:limit],
        "common_errors": _common_errors(logs, limit),
    }
    if group_by:
        summary.update(
            groups_json(group_by=group_by, rows=_error_groups(logs, calls, group_by), limit=limit)
        )
    return summary


def _failing_tools(calls) -> list[dict]:
    rows = [
        {**row, "error_rate": rate(row["errors"], row["calls"] - row["denied"])}
        for row in audit_by_tool(calls=calls)
        if row["errors"] or row["denied"]
    ]
    return sorted(rows, key=lambda row: (-row["errors"], -row["denied"], row["mcp"], row["tool"]))


def _common_errors(logs, limit: int) -> list[dict]:
    failed = logs.filter(status__in=(Status.ERROR, Status.WARNING)).exclude(error="")
    rows = failed.values("error").annotate(count=Count("id")).order_by("-count", "error")[:limit]
    return [{"error": preview(row["error"]), "count": row["count"]} for row in rows]


def _error_groups(logs, calls, group_by: str) -> list[dict]:
    if group_by == "mcp":  # tool calls that failed on each server
        rows = [
            {**row, "error_rate": rate(row["errors"], row["calls"] - row["denied"])}
            for row in audit_by_mcp(calls=calls)
        ]
        return sorted(rows, key=lambda row: (-row["errors"], -row["denied"], row["mcp"]))
    rows = [
        {key: row[key] for key in row if key != "tokens"}
        for row in requests_grouped(logs=logs, calls=calls, group_by=group_by)
    ]
    for row in rows:
        row["error_rate"] = rate(row["errors"], row["requests"])
    key = "user_email" if group_by == "user" else "model"
    return sorted(rows, key=lambda row: (-row["errors"], -row["requests"], row[key]))


def analytics_mcp_health_summary(*, period: Period) -> dict:
    """Per MCP server, how its tool calls went: calls, failures by kind, error rate, durations,
    the last call and the last error. Denied calls never reached the server and do not count
    against it. status: healthy (<5 % failed), degraded (<25 %), failing, or idle."""
    calls = period_calls(period=period)
    servers = [_server_health(calls, row) for row in audit_by_mcp(calls=calls)]
    return {
        "period": period.to_json(),
        "thresholds": {"degraded": DEGRADED_AT, "failing": FAILING_AT},
        "servers": servers,
    }


def _server_health(calls, row: dict) -> dict:
    mine = calls.filter(mcp=row["mcp"])
    kinds = mine.aggregate(
        **{kind: Count("id", filter=Q(status=kind)) for kind in ToolCallStatus.values}
    )
    reached = row["calls"] - row["denied"]
    error_rate = rate(row["errors"], reached)
    durations = (
        mine.exclude(status=ToolCallStatus.DENIED)
        .order_by("duration_ms")
        .values_list("duration_ms", flat=True)
    )
    return {
        **row,
        "by_status": kinds,
        "error_rate": error_rate,
        "status": _health_label(error_rate),
        "p95_duration_ms": nearest_rank(durations, 0.95, reached),
        "last_call": _last(mine),
        "last_error": _last(mine.filter(status__in=_FAILED)),
    }


def _health_label(error_rate: float | None) -> str:
    if error_rate is None:
        return "idle"
    if error_rate >= FAILING_AT:
        return "failing"
    return "degraded" if error_rate >= DEGRADED_AT else "healthy"


def _last(calls) -> dict | None:
    call = (
        calls.order_by("-created_at", "-id").values("created_at", "tool", "status", "error").first()
    )
    if call is None:
        return None
    return {**call, "created_at": call["created_at"].isoformat(), "error": preview(call["error"])}
