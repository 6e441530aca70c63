"""The App Home tab: who you are to OMNI2, what you may use, what you spent this month.

Published with ``views.publish`` each time the person opens the tab (``app_home_opened``),
worked out for them at that moment, like ``/omni-help``.
"""

from decimal import Decimal

from django.utils import timezone

from audit.models import AuditLog
from audit.selectors import audit_totals
from permissions.models import User
from permissions.policy.engine import UserPolicy
from permissions.selectors import user_policy_for

from .client import slack_call
from .dedupe import delivery_mark_done
from .formatting import mrkdwn_escape
from .identity import slack_user_resolve
from .selectors import slack_permitted_mcps, slack_permitted_tools

MAX_MCPS = 30  # a Home view holds at most 100 blocks
MAX_TOOL_NAMES = 25


def slack_home_publish(*, key: str, slack_user_id: str) -> None:
    """Publish ``slack_user_id``'s Home view (queued on ``app_home_opened``)."""
    user = slack_user_resolve(slack_user_id=slack_user_id)
    view = {"type": "home", "blocks": home_blocks(user=user, slack_user_id=slack_user_id)}
    slack_call("views_publish", user_id=slack_user_id, view=view)
    delivery_mark_done(key=key)


def home_budget_usd(policy: UserPolicy) -> Decimal | None:
    """The person's monthly budget, if one is set.

    HOOK: budgets are being added to the policy by another change; this reads its field
    (``monthly_budget_usd`` on ``UserPolicy``) once it exists, and None until then.
    """
    value = getattr(policy, "monthly_budget_usd", None)
    return Decimal(str(value)) if value is not None else None


def _month_usage(*, user: User | None, slack_user_id: str) -> dict:
    """Requests and cost since the first of this month (UTC), from the audit trail."""
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    logs = AuditLog.objects.filter(created_at__gte=start)
    # A known user's requests from every way in; a stranger's are those of their Slack id.
    logs = (
        logs.filter(user=user)
        if user is not None
        else logs.filter(user__isnull=True, slack_user_id=slack_user_id)
    )
    return audit_totals(logs=logs)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def _usage_text(usage: dict, budget: Decimal | None) -> str:
    n = usage["requests"]
    text = f"*This month*: {n} request{'' if n == 1 else 's'} · 💰 ${usage['cost_usd']:.4f}"
    if budget is not None:
        share = (Decimal(str(usage["cost_usd"])) / budget * 100) if budget else Decimal(100)
        text += f" of your ${budget:.2f} budget ({share:.0f}%)"
    return text


def _mcp_lines(user: User | None) -> list[dict]:
    mcps = slack_permitted_mcps(user=user)
    if not mcps:
        return [_section("You have no MCP servers available. Ask an admin for access.")]
    blocks = []
    for mcp in mcps[:MAX_MCPS]:
        tools = [t["name"] for t in slack_permitted_tools(user=user, mcp=mcp["name"])]
        shown = ", ".join(f"`{mrkdwn_escape(t)}`" for t in tools[:MAX_TOOL_NAMES])
        more = f" …and {len(tools) - MAX_TOOL_NAMES} more" if len(tools) > MAX_TOOL_NAMES else ""
        blocks.append(
            _section(f"*{mrkdwn_escape(mcp['name'])}* ({len(tools)} tools)\n{shown}{more}")
        )
    if len(mcps) > MAX_MCPS:
        blocks.append(_section(f"…and {len(mcps) - MAX_MCPS} more servers."))
    return blocks


def home_blocks(*, user: User | None, slack_user_id: str) -> list[dict]:
    """The Home view's blocks for this person, as the live policy and the audit trail say now."""
    policy = user_policy_for(user)
    who = mrkdwn_escape(user.email) if user is not None else "not linked to an OMNI2 account"
    usage = _month_usage(user=user, slack_user_id=slack_user_id)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "OMNI2"}},
        _section(f"👤 *Role*: {mrkdwn_escape(policy.role)} ({who})"),
        _section(_usage_text(usage, home_budget_usd(policy))),
        {"type": "divider"},
        _section("*MCP servers and tools you may use*"),
        *_mcp_lines(user),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Ask with `/omni`, a mention or a DM."}],
        },
    ]
