"""Alerts for admins in ``OMNI2_SLACK_ALERT_CHANNEL``, computed by a celery beat task.

- *Probing*: one user's denied requests in the last ``OMNI2_ALERT_DENIALS_WINDOW_SECONDS``
  reach ``OMNI2_ALERT_DENIALS_THRESHOLD`` (a request counts once, whether it was refused
  itself or the model asked for a tool it may not call).
- *MCP servers*: one went unreachable or its breaker opened, and when it came back
  (each change once per ``OMNI2_ALERT_MCP_WINDOW_SECONDS``).
- *Cost*: a UTC day's LLM cost went over ``OMNI2_ALERT_DAILY_COST_USD``.

Each alert is sent at most once per window: its key names the window (the denial window's
slot, the server's change, the day) and is claimed with an atomic cache ``add`` that
lasts the window, so overlapping runs or several beat processes send it once. A post
that fails releases its claim and the next run tries again.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone

from audit.models import AuditLog, Status, ToolCallStatus
from orchestration.mcp.health import mcp_health_summary

from .client import SlackError, slack_call
from .formatting import mrkdwn_escape, text_message

logger = logging.getLogger(__name__)

DAY = 24 * 3600
MCP_DOWN = {"unreachable": "is unreachable", "circuit_open": "has its circuit breaker open"}
MCP_UP = "healthy"


@dataclass(frozen=True)
class Alert:
    key: str
    text: str
    ttl: int  # seconds the claim lasts: the alert's window
    on_sent: Callable[[], None] | None = None


def slack_alerts_check(*, now: datetime | None = None) -> list[str]:
    """Post every alert that is due and not yet sent in its window; the keys posted."""
    if not (settings.OMNI2_SLACK_ALERT_CHANNEL and settings.SLACK_BOT_TOKEN):
        return []
    now = now or timezone.now()
    due = [*_denial_bursts(now), *_mcp_changes(), *_daily_cost(now)]
    return [alert.key for alert in due if _send_once(alert)]


def _send_once(alert: Alert) -> bool:
    key = f"slack:alert:{alert.key}"
    if not cache.add(key, 1, timeout=alert.ttl):
        # Sent in this window already. A server's change is not taken as known: it is
        # alerted once the window ends, unless the server is back to its old state by then.
        return False
    try:
        slack_call(
            "chat_postMessage",
            channel=settings.OMNI2_SLACK_ALERT_CHANNEL,
            **text_message(alert.text),
        )
    except SlackError as exc:
        cache.delete(key)
        logger.warning("slack: alert %s not sent: %s", alert.key, exc)
        return False
    if alert.on_sent:
        alert.on_sent()
    return True


# --- probing ------------------------------------------------------------------------------


def _who(row: dict) -> str:
    if row["user_email"]:
        return mrkdwn_escape(row["user_email"])
    if row["slack_user_id"]:
        return f"<@{mrkdwn_escape(row['slack_user_id'])}> (no OMNI2 account)"
    return "an anonymous caller"


def _denial_bursts(now: datetime) -> list[Alert]:
    window = settings.OMNI2_ALERT_DENIALS_WINDOW_SECONDS
    slot = int(now.timestamp()) // window  # the window this run falls in
    denied = Q(status=Status.DENIED) | Q(tool_calls__status=ToolCallStatus.DENIED)
    rows = (
        AuditLog.objects.filter(created_at__gt=now - timedelta(seconds=window))
        .filter(denied)
        .values("user_email", "slack_user_id")
        .annotate(n=Count("id", distinct=True))
        .filter(n__gte=settings.OMNI2_ALERT_DENIALS_THRESHOLD)
        .order_by("user_email", "slack_user_id")
    )
    return [
        Alert(
            key=f"denials:{row['user_email'] or row['slack_user_id'] or '-'}:{slot}",
            text=f"🕵️ *Possible probing*: {_who(row)} had {row['n']} denied requests "
            f"in the last {window // 60} minutes.",
            ttl=window,
        )
        for row in rows
    ]


# --- MCP servers --------------------------------------------------------------------------


def _state_key(name: str) -> str:
    return f"slack:alert:mcp-state:{name}"


def _mcp_changes() -> list[Alert]:
    """A server that went down (unreachable, breaker open) or came back since the last run."""
    alerts = []
    for row in mcp_health_summary():
        name, status = row["name"], row["status"]
        if status not in MCP_DOWN and status != MCP_UP:
            continue  # disabled or not probed: no news
        before = cache.get(_state_key(name), MCP_UP)
        if (status == MCP_UP) == (before == MCP_UP):
            continue

        def remember(name=name, status=status):
            cache.set(_state_key(name), status, timeout=None)

        escaped = mrkdwn_escape(name)
        if status == MCP_UP:
            text, change = f"✅ MCP server *{escaped}* is back.", "up"
        else:
            text, change = f"🔴 MCP server *{escaped}* {MCP_DOWN[status]}.", "down"
        window = settings.OMNI2_ALERT_MCP_WINDOW_SECONDS  # a flapping server: one per window
        alerts.append(Alert(f"mcp:{name}:{change}", text, window, on_sent=remember))
    return alerts


# --- cost -------------------------------------------------------------------------------------


def _daily_cost(now: datetime) -> list[Alert]:
    threshold = settings.OMNI2_ALERT_DAILY_COST_USD
    if threshold <= 0:
        return []
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    spent = AuditLog.objects.filter(
        created_at__gte=start, created_at__lt=start + timedelta(days=1)
    ).aggregate(cost=Sum("cost_usd"))["cost"]
    if spent is None or float(spent) <= threshold:
        return []
    text = (
        f"💰 *Daily cost*: ${float(spent):.2f} spent on {start:%Y-%m-%d} (UTC), "
        f"over the ${threshold:.2f} threshold."
    )
    return [Alert(f"cost:{start:%Y-%m-%d}", text, DAY)]
