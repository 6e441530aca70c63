"""Single requests worth a look: get_top_expensive_queries, get_slow_queries,
get_high_iteration_queries, get_failed_queries."""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.db.models import Avg, Count, Max, QuerySet, Sum

from ..models import AuditLog, Status, ToolCallLog, ToolCallStatus
from .common import money, nearest_rank, period_logs, preview, rate, request_rows
from .periods import Period

FailedStatus = Literal["any", "error", "warning", "denied", "rate_limited"]
FAILED_STATUSES = (Status.ERROR, Status.WARNING, Status.DENIED, Status.RATE_LIMITED)


def _logs(period: Period, user: str | None) -> QuerySet[AuditLog]:
    logs = period_logs(period=period)
    return logs.filter(user_email=user.strip().lower()) if user else logs


def analytics_top_expensive_queries(
    *, period: Period, limit: int = 10, user: str | None = None
) -> dict:
    """The costliest requests of the period (rows that cost nothing are left out)."""
    logs = _logs(period, user)
    total = money(logs.aggregate(cost=Sum("cost_usd"))["cost"])
    rows = request_rows(logs.filter(cost_usd__gt=0).order_by("-cost_usd", "-id")[:limit])
    for row in rows:
        row["share_of_period_cost"] = rate(row["cost_usd"], total)
    return {"period": period.to_json(), "user": user, "period_cost_usd": total, "queries": rows}


def analytics_slow_queries(
    *, period: Period, limit: int = 10, min_duration_ms: int = 0, user: str | None = None
) -> dict:
    """The longest-running requests, with the period's duration percentiles for comparison."""
    logs = _logs(period, user)
    slow = logs.filter(duration_ms__gte=min_duration_ms).order_by("-duration_ms", "-id")[:limit]
    return {
        "period": period.to_json(),
        "user": user,
        "min_duration_ms": min_duration_ms,
        "durations_ms": _duration_summary(logs),
        "queries": request_rows(slow),
    }


def _duration_summary(logs: QuerySet[AuditLog]) -> dict:
    figures = logs.aggregate(requests=Count("id"), avg=Avg("duration_ms"), max=Max("duration_ms"))
    ordered = logs.order_by("duration_ms").values_list("duration_ms", flat=True)
    count = figures["requests"]
    return {
        "requests": count,
        "average": round(figures["avg"] or 0, 1),
        "max": figures["max"],
        "p50": nearest_rank(ordered, 0.50, count),
        "p95": nearest_rank(ordered, 0.95, count),
    }


def analytics_high_iteration_queries(
    *, period: Period, limit: int = 10, min_iterations: int = 3, user: str | None = None
) -> dict:
    """Requests that needed many model turns; ``at_cap`` ones hit OMNI2_MAX_ITERATIONS and were cut off."""
    logs = _logs(period, user)
    cap = settings.OMNI2_MAX_ITERATIONS
    many = logs.filter(iterations__gte=min_iterations)
    figures = logs.aggregate(requests=Count("id"), avg=Avg("iterations"))
    rows = request_rows(many.order_by("-iterations", "-cost_usd", "-id")[:limit])
    for row in rows:
        row["at_cap"] = row["iterations"] >= cap
    return {
        "period": period.to_json(),
        "user": user,
        "min_iterations": min_iterations,
        "max_iterations_setting": cap,
        "requests": figures["requests"],
        "average_iterations": round(figures["avg"] or 0, 2),
        "matching": many.count(),
        "at_cap": logs.filter(iterations__gte=cap).count(),
        "queries": rows,
    }


def analytics_failed_queries(
    *, period: Period, limit: int = 20, status: FailedStatus = "any", user: str | None = None
) -> dict:
    """Requests that did not succeed (error, warning, denied, rate_limited), newest first,
    each with the tool calls that failed or were refused."""
    wanted = FAILED_STATUSES if status == "any" else (status,)
    failed = _logs(period, user).filter(status__in=wanted)
    rows = request_rows(failed.order_by("-created_at", "-id")[:limit])
    calls = _failed_calls([row["id"] for row in rows])
    for row in rows:
        row["failed_tool_calls"] = calls.get(row["id"], [])
    return {
        "period": period.to_json(),
        "user": user,
        "status": status,
        "matching": failed.count(),
        "queries": rows,
    }


def _failed_calls(audit_ids: list[int]) -> dict[int, list[dict]]:
    calls = (
        ToolCallLog.objects.filter(audit_id__in=audit_ids)
        .exclude(status=ToolCallStatus.SUCCESS)
        .order_by("id")
        .values("audit_id", "mcp", "tool", "status", "error", "denial_reason", "duration_ms")
    )
    found: dict[int, list[dict]] = {}
    for call in calls:
        audit_id = call.pop("audit_id")
        call["error"], call["denial_reason"] = (
            preview(call["error"]),
            preview(call["denial_reason"]),
        )
        found.setdefault(audit_id, []).append(call)
    return found
