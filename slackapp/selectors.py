"""What a Slack user may use, for ``/omni-help``: the policy engine's answer plus descriptions."""

from permissions.models import DiscoveredTool, McpServer, User
from permissions.policy.engine import permitted_tools
from permissions.policy.snapshot import policy_snapshot
from permissions.selectors import user_policy_for


def _permitted(user: User | None, mcp: str | None = None) -> list[tuple[str, str]]:
    snapshot = policy_snapshot()
    return permitted_tools(snapshot, user_policy_for(user, snapshot), mcp=mcp)


def slack_permitted_mcps(*, user: User | None) -> list[dict]:
    """``[{"name", "description"}]`` for each MCP on which ``user`` may call at least one tool."""
    names = list(dict.fromkeys(mcp for mcp, _ in _permitted(user)))
    descriptions = dict(McpServer.objects.filter(name__in=names).values_list("name", "description"))
    return [{"name": name, "description": descriptions.get(name, "")} for name in names]


def slack_permitted_tools(*, user: User | None, mcp: str) -> list[dict]:
    """``[{"name", "description"}]`` of the tools ``user`` may call on ``mcp``; [] if none or unknown."""
    names = [tool for _, tool in _permitted(user, mcp=mcp)]
    descriptions = dict(
        DiscoveredTool.objects.filter(mcp__name=mcp, name__in=names).values_list(
            "name", "description"
        )
    )
    return [{"name": name, "description": descriptions.get(name, "")} for name in names]
