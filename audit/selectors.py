"""Reads over the audit trail, shared by the REST API, the admin and the analytics MCP.

Every read starts from a scope: ``user_scope=None`` means every user's rows (admins only;
callers decide who is an admin with :func:`audit_sees_everything`), a user means that
user's rows and nothing else.
"""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from .models import AuditLog, Status, ToolCallLog, ToolCallStatus

LOG_ORDERINGS = (
    "-created_at",
    "created_at",
    "-cost_usd",
    "cost_usd",
    "-duration_ms",
    "duration_ms",
    "-iterations",
    "iterations",
)
_FAILED_CALLS = (ToolCallStatus.ERROR, ToolCallStatus.TIMEOUT, ToolCallStatus.UNAVAILABLE)


def audit_sees_everything(user) -> bool:
    role = getattr(user, "role", None)
    return bool(role and (role.is_admin or role.is_super_admin))


def audit_scope_for(viewer):
    """The ``user_scope`` a viewer may read: None (everyone) for admins, else themselves."""
    return None if audit_sees_everything(viewer) else viewer


def _since(days: int):
    return timezone.now() - timedelta(days=days)


def audit_logs_in_scope(*, user_scope) -> QuerySet[AuditLog]:
    logs = AuditLog.objects.all()
    return logs if user_scope is None else logs.filter(user=user_scope)


def tool_calls_in_scope(*, user_scope, days: int) -> QuerySet[ToolCallLog]:
    calls = ToolCallLog.objects.filter(created_at__gte=_since(days))
    return calls if user_scope is None else calls.filter(audit__user=user_scope)


def audit_log_list(
    *,
    user_scope,
    days: int = 7,
    user_email: str | None = None,
    status: str | None = None,
    source: str | None = None,
    ordering: str = "-created_at",
) -> QuerySet[AuditLog]:
    """Rows of the last ``days`` days inside the scope, filtered; tool calls prefetched."""
    logs = audit_logs_in_scope(user_scope=user_scope).filter(created_at__gte=_since(days))
    if user_email:
        logs = logs.filter(user_email=user_email.strip().lower())
    if status:
        logs = logs.filter(status=status)
    if source:
        logs = logs.filter(source=source)
    if ordering not in LOG_ORDERINGS:
        raise ValueError(f"Unknown ordering {ordering!r}.")
    return logs.order_by(ordering, "-id").prefetch_related("tool_calls")


def _money(value) -> float:
    return float((value or Decimal(0)).quantize(Decimal("0.000001")))


def _call_counts() -> dict:
    return {
        "calls": Count("id"),
        "errors": Count("id", filter=Q(status__in=_FAILED_CALLS)),
        "denied": Count("id", filter=Q(status=ToolCallStatus.DENIED)),
        "avg_duration_ms": Avg("duration_ms"),
    }


def _call_rows(rows) -> list[dict]:
    return [{**row, "avg_duration_ms": round(row["avg_duration_ms"] or 0, 1)} for row in rows]


def audit_by_user(*, logs: QuerySet[AuditLog]) -> list[dict]:
    rows = (
        logs.values("user_email")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=Q(status=Status.ERROR)),
            cost_usd=Sum("cost_usd"),
        )
        .order_by("-cost_usd", "-requests", "user_email")
    )
    return [{**row, "cost_usd": _money(row["cost_usd"])} for row in rows]


def audit_by_mcp(*, calls: QuerySet[ToolCallLog]) -> list[dict]:
    rows = calls.values("mcp").annotate(**_call_counts()).order_by("-calls", "mcp")
    return _call_rows(rows)


def audit_by_tool(*, calls: QuerySet[ToolCallLog]) -> list[dict]:
    rows = calls.values("mcp", "tool").annotate(**_call_counts()).order_by("-calls", "mcp", "tool")
    return _call_rows(rows)


def audit_totals(*, logs: QuerySet[AuditLog]) -> dict:
    """Requests, errors, cost and tokens of ``logs`` (any filtered queryset, admin included)."""
    sums = logs.aggregate(
        requests=Count("id"),
        errors=Count("id", filter=Q(status=Status.ERROR)),
        cost=Sum("cost_usd"),
        input=Sum("tokens_input"),
        output=Sum("tokens_output"),
        cache_read=Sum("tokens_cache_read"),
        cache_write=Sum("tokens_cache_write"),
    )
    tokens = {part: sums[part] or 0 for part in ("input", "output", "cache_read", "cache_write")}
    return {
        "requests": sums["requests"],
        "errors": sums["errors"],
        "cost_usd": _money(sums["cost"]),
        "tokens": tokens,
    }


def audit_stats(*, user_scope, days: int) -> dict:
    """The body of ``GET /api/audit/stats`` (SPEC §9), JSON-ready."""
    logs = audit_logs_in_scope(user_scope=user_scope).filter(created_at__gte=_since(days))
    calls = tool_calls_in_scope(user_scope=user_scope, days=days)
    by_status = dict(logs.values_list("status").annotate(n=Count("id")).order_by("status"))
    return {
        "days": days,
        **audit_totals(logs=logs),
        "by_status": by_status,
        "by_user": audit_by_user(logs=logs),
        "by_mcp": audit_by_mcp(calls=calls),
        "by_tool": audit_by_tool(calls=calls),
    }
