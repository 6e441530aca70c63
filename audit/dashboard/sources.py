"""Grouped figures of a period, from the daily rollups or straight from the audit tables.

Both sources answer the same five questions with the same rows, so ``figures`` builds one JSON
from either: ``RollupSource`` is what the dashboard reads (a few thousand rollup rows for 90
days); ``TrailSource`` reads the audit rows themselves, the baseline of ``bench/dashboard.py``
and the tests' oracle (both must agree to the micro-dollar).
"""

from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import TruncDate

from ..models import (
    AuditDailyRollup,
    AuditLog,
    AuditUserDailyRollup,
    ToolCallDailyRollup,
    ToolCallDurationRollup,
    ToolCallLog,
    ToolCallStatus,
)
from .period import DashboardPeriod

TOKENS = ("tokens_input", "tokens_output", "tokens_cache_read", "tokens_cache_write")
DAILY_SUMS = ("requests", "cost_micros", *TOKENS)


class RollupSource:
    """The dashboard's reads: the rollup rows of the period's days (zero rows left out)."""

    def __init__(self, period: DashboardPeriod):
        self.days = {"day__gte": period.first, "day__lte": period.last}

    def daily(self) -> list[dict]:
        """Per day, model and status: requests, cost_micros and the four token counts."""
        rows = AuditDailyRollup.objects.filter(**self.days, requests__gt=0)
        return list(rows.values("day", "model", "status", *DAILY_SUMS))

    def top_users(self, limit: int) -> list[dict]:
        rows = AuditUserDailyRollup.objects.filter(**self.days).values("user_id")
        rows = rows.annotate(n=Sum("requests"), micros=Sum("cost_micros")).filter(n__gt=0)
        rows = rows.order_by("-micros", "-n", "user_id")[:limit]
        return [_renamed(row, n="requests", micros="cost_micros") for row in rows]

    def tools(self) -> list[dict]:
        """Per MCP, tool and status over the period: calls."""
        rows = ToolCallDailyRollup.objects.filter(**self.days).values("mcp", "tool", "status")
        return _calls(rows.annotate(n=Sum("calls")).filter(n__gt=0))

    def denied_calls(self) -> list[dict]:
        rows = ToolCallDailyRollup.objects.filter(**self.days, status=ToolCallStatus.DENIED)
        return _calls(rows.values("day").annotate(n=Sum("calls")).filter(n__gt=0))

    def durations(self) -> list[dict]:
        """Per MCP and duration bucket: calls that reached the MCP."""
        rows = ToolCallDurationRollup.objects.filter(**self.days).values("mcp", "bucket_ms")
        return _calls(rows.annotate(n=Sum("calls")).filter(n__gt=0))


def duration_bucket_expression(field: str = "duration_ms") -> Case:
    """``figures.duration_bucket`` in SQL (integer division on both databases)."""
    steps = [When(**{f"{field}__lt": 100}, then=F(field))]
    steps += [
        When(**{f"{field}__lt": 10 ** (n + 2)}, then=F(field) / Value(10**n) * Value(10**n))
        for n in range(1, 9)
    ]
    return Case(*steps, default=F(field) / Value(10**9) * Value(10**9), output_field=IntegerField())


class TrailSource:
    """The same rows computed from AuditLog and ToolCallLog (no rollup): slow on a large trail."""

    def __init__(self, period: DashboardPeriod):
        self.window = {"created_at__gte": period.since, "created_at__lt": period.until}

    def daily(self) -> list[dict]:
        rows = AuditLog.objects.filter(**self.window).annotate(day=TruncDate("created_at"))
        rows = rows.values("day", "model", "status").annotate(
            requests=Count("id"), cost=Sum("cost_usd"), **{f"sum_{t}": Sum(t) for t in TOKENS}
        )
        renames = {f"sum_{t}": t for t in TOKENS}
        return [_with_micros(_renamed(row, **renames)) for row in rows.order_by()]

    def top_users(self, limit: int) -> list[dict]:
        rows = AuditLog.objects.filter(**self.window).values("user_id")
        rows = rows.annotate(requests=Count("id"), cost=Sum("cost_usd"))
        rows = rows.order_by("-cost", "-requests", "user_id")[:limit]
        return [{**_with_micros(row), "user_id": row["user_id"] or 0} for row in rows]

    def tools(self) -> list[dict]:
        rows = ToolCallLog.objects.filter(**self.window).values("mcp", "tool", "status")
        return _calls(rows.annotate(n=Count("id")).order_by())

    def denied_calls(self) -> list[dict]:
        rows = ToolCallLog.objects.filter(**self.window, status=ToolCallStatus.DENIED)
        rows = rows.annotate(day=TruncDate("created_at")).values("day")
        return _calls(rows.annotate(n=Count("id")).order_by())

    def durations(self) -> list[dict]:
        rows = ToolCallLog.objects.filter(~Q(status=ToolCallStatus.DENIED), **self.window)
        rows = rows.annotate(bucket_ms=duration_bucket_expression()).values("mcp", "bucket_ms")
        return _calls(rows.annotate(n=Count("id")).order_by())


def _renamed(row: dict, **names: str) -> dict:
    return {names.get(key, key): value for key, value in row.items()}


def _calls(rows) -> list[dict]:
    return [_renamed(row, n="calls") for row in rows]


def _with_micros(row: dict) -> dict:
    cost = row.pop("cost") or Decimal(0)
    return {**row, "cost_micros": int((Decimal(cost) * 1_000_000).to_integral_value())}
