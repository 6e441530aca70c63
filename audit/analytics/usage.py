"""Who uses what: get_active_users and get_tool_popularity."""

from __future__ import annotations

from typing import Literal

from django.db.models import Count, Max, Min, Q, Sum

from ..models import Source, Status
from ..selectors import audit_by_tool
from .common import groups_json, money, period_calls, period_logs, rate
from .periods import Period

UserGroup = Literal["user", "role"]


def _activity() -> dict:
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(status=Status.ERROR)),
        "denied": Count("id", filter=Q(status=Status.DENIED)),
        "rate_limited": Count("id", filter=Q(status=Status.RATE_LIMITED)),
        **{f"source_{source}": Count("id", filter=Q(source=source)) for source in Source.values},
        "cost": Sum("cost_usd"),
    }


def analytics_active_users(
    *, period: Period, group_by: UserGroup = "user", limit: int = 20
) -> dict:
    """Who used OMNI2 in the period, most requests first (per user, or per role)."""
    logs = period_logs(period=period)
    rows = _by_role(logs) if group_by == "role" else _by_user(logs)
    grouped = groups_json(group_by=group_by, rows=rows, limit=limit)
    if group_by == "user":
        _add_latest_roles(logs, grouped["groups"])
    return {
        "period": period.to_json(),
        "active_users": logs.values("user_email").distinct().count(),
        "requests": logs.count(),
        **grouped,
    }


def _by_user(logs) -> list[dict]:
    rows = (
        logs.values("user_email")
        .annotate(first_seen=Min("created_at"), last_seen=Max("created_at"), **_activity())
        .order_by("-requests", "user_email")
    )
    return [_activity_json(row) for row in rows]


def _add_latest_roles(logs, rows: list[dict]) -> None:
    """The role as of each user's latest row: a role change shows once, as it is now.

    One query for the rows shown (a per-row subquery would run once per audit row, not per user).
    """
    if not rows:
        return
    latest = Q()
    for row in rows:
        latest |= Q(user_email=row["user_email"], created_at=row["last_seen"])
    roles = dict(
        logs.filter(latest).order_by("created_at", "id").values_list("user_email", "user_role")
    )
    for row in rows:
        row.update(
            role=roles.get(row["user_email"], ""),
            first_seen=row["first_seen"].isoformat(),
            last_seen=row["last_seen"].isoformat(),
        )


def _by_role(logs) -> list[dict]:
    rows = (
        logs.values("user_role")
        .annotate(users=Count("user_email", distinct=True), **_activity())
        .order_by("-requests", "user_role")
    )
    return [_activity_json(row, role=row.pop("user_role")) for row in rows]


def _activity_json(row: dict, **extra) -> dict:
    cost = row.pop("cost")
    return {**row, "cost_usd": money(cost), **extra}


def analytics_tool_popularity(*, period: Period, limit: int = 20, mcp: str | None = None) -> dict:
    """The most called tools (the rows of ``/api/audit/stats`` by_tool), with their share of all
    calls, success rate and how many distinct users called each."""
    calls = period_calls(period=period)
    if mcp:
        calls = calls.filter(mcp=mcp)
    users = {
        (row["mcp"], row["tool"]): row["users"]
        for row in calls.values("mcp", "tool")
        .annotate(users=Count("audit__user_email", distinct=True))
        .order_by()
    }
    rows = audit_by_tool(calls=calls)
    total = sum(row["calls"] for row in rows)
    for row in rows:
        succeeded = row["calls"] - row["errors"] - row["denied"]
        row.update(
            share=rate(row["calls"], total),
            success_rate=rate(succeeded, row["calls"]),
            users=users.get((row["mcp"], row["tool"]), 0),
        )
    return {
        "period": period.to_json(),
        "mcp": mcp,
        "calls": total,
        "tools_total": len(rows),
        "tools": rows[:limit],
    }
