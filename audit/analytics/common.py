"""Building blocks of the analytics reports: the rows of a period, money, request rows, groups.

Everything returned is JSON-ready: money is a float rounded to the micro-dollar (as in
``/api/audit/stats``), times are ISO 8601 strings in UTC.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from django.db.models import Count, Q, QuerySet, Sum

from ..models import AuditLog, Status, ToolCallLog, ToolCallStatus
from ..selectors import audit_logs_in_scope, audit_totals
from .periods import Period

MAX_LIMIT = 100
TEXT_PREVIEW_CHARS = 300  # messages and errors are cut: results go to a model's context
GroupBy = Literal["user", "mcp", "model"]
_GROUP_FIELDS = {"user": "user_email", "model": "model"}
_TOKEN_PARTS = ("input", "output", "cache_read", "cache_write")


def period_logs(*, period: Period) -> QuerySet[AuditLog]:
    """The period's requests (the same filter as ``audit_stats``, no upper bound), of
    ``period.only_user`` when set: every report reads its rows through here or ``period_calls``."""
    logs = audit_logs_in_scope(user_scope=None).filter(created_at__gte=period.since)
    return logs if period.only_user is None else _own(logs, "user_email", period.only_user)


def period_calls(*, period: Period) -> QuerySet[ToolCallLog]:
    calls = ToolCallLog.objects.filter(created_at__gte=period.since)
    return calls if period.only_user is None else _own(calls, "audit__user_email", period.only_user)


def _own(rows: QuerySet, field: str, email: str) -> QuerySet:
    # A caller without an e-mail (an unknown Slack user) owns no rows, not every anonymous one.
    return rows.filter(**{field: email}) if email else rows.none()


def money(value) -> float:
    return float((value or Decimal(0)).quantize(Decimal("0.000001")))


def rate(part: int | float, whole: int | float) -> float | None:
    """``part / whole`` rounded to 4 places; None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


def preview(text: str) -> str:
    return text if len(text) <= TEXT_PREVIEW_CHARS else text[: TEXT_PREVIEW_CHARS - 1] + "…"


REQUEST_FIELDS = (
    "id",
    "created_at",
    "user_email",
    "user_role",
    "source",
    "status",
    "model",
    "message",
    "error",
    "duration_ms",
    "iterations",
    "cost_usd",
    "tokens_input",
    "tokens_output",
    "tokens_cache_read",
    "tokens_cache_write",
    "tools_called",
)


def request_rows(logs: QuerySet[AuditLog]) -> list[dict]:
    """Audit rows as the tools list them (``logs`` already ordered and sliced)."""
    return [request_row(values) for values in logs.values(*REQUEST_FIELDS)]


def request_row(values: dict) -> dict:
    return {
        **values,
        "created_at": values["created_at"].isoformat(),
        "message": preview(values["message"]),
        "error": preview(values["error"]),
        "cost_usd": money(values["cost_usd"]),
    }


def _request_sums() -> dict:
    # The same expressions as audit_totals, per group.
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(status=Status.ERROR)),
        "cost": Sum("cost_usd"),
        "input": Sum("tokens_input"),
        "output": Sum("tokens_output"),
        "cache_read": Sum("tokens_cache_read"),
        "cache_write": Sum("tokens_cache_write"),
    }


def _sums_json(sums: dict) -> dict:
    return {
        "requests": sums["requests"],
        "errors": sums["errors"],
        "cost_usd": money(sums["cost"]),
        "tokens": {part: sums[part] or 0 for part in _TOKEN_PARTS},
    }


def requests_grouped(
    *, logs: QuerySet[AuditLog], calls: QuerySet[ToolCallLog], group_by: str
) -> list[dict]:
    """Requests, errors, cost and tokens per user, model or MCP, most expensive first."""
    if group_by == "mcp":
        rows = requests_by_mcp(logs=logs, calls=calls)
    else:
        key = _GROUP_FIELDS[group_by]
        grouped = logs.values(key).annotate(**_request_sums()).order_by(key)
        rows = [{key: row[key], **_sums_json(row)} for row in grouped]
    key = _group_key(group_by)
    return sorted(rows, key=lambda row: (-row["cost_usd"], -row["requests"], row[key]))


def _group_key(group_by: str) -> str:
    return _GROUP_FIELDS.get(group_by, group_by)


def requests_by_mcp(*, logs: QuerySet[AuditLog], calls: QuerySet[ToolCallLog]) -> list[dict]:
    """Per MCP, the requests that called one of its tools (denied calls excluded, as in mcps_accessed).

    A request that used several MCPs counts toward each, so these rows may add up to more
    than the period's total. One query per MCP: a deployment has a handful of them.
    """
    reached = calls.exclude(status=ToolCallStatus.DENIED)
    names = reached.order_by("mcp").values_list("mcp", flat=True).distinct()
    return [
        {
            "mcp": name,
            **audit_totals(logs=logs.filter(pk__in=reached.filter(mcp=name).values("audit_id"))),
        }
        for name in names
    ]


def nearest_rank(values: QuerySet, fraction: float, count: int) -> int | None:
    """The nearest-rank percentile of an ordered one-column queryset of ``count`` rows."""
    if not count:
        return None
    return values[max(math.ceil(fraction * count) - 1, 0)]


def groups_json(*, group_by: str, rows: list[dict], limit: int) -> dict:
    """The grouped part of a report: at most ``limit`` rows, and how many there were."""
    return {"group_by": group_by, "groups": rows[:limit], "groups_total": len(rows)}
