"""Policy rows → the plain policy data that ``permissions.policy.engine.snapshot_build`` compiles.

Six queries whatever the size of the policy; the result is JSON-safe so it can live in
the shared cache and be rebuilt into a snapshot by any process.
"""

from collections import defaultdict

from permissions.models import (
    DEFAULT_ROLE,
    DiscoveredTool,
    GlobalPolicy,
    McpProfile,
    McpServer,
    Role,
    RoleRestriction,
    User,
    UserOverride,
)


def policy_data_load() -> dict:
    rules = (
        GlobalPolicy.objects.select_related("default_role").filter(pk=1).first() or GlobalPolicy()
    )
    overrides = _overrides_by_user()
    users = User.objects.filter(is_active=True).select_related("role")
    return {
        "global": {
            "blocked": rules.blocked_patterns,
            "admin_only": rules.admin_only_patterns,
            "default_decision": rules.default_decision,
        },
        "default_user": _default_user_data(rules),
        "mcps": _mcps_data(),
        "users": [user_data(user, overrides[user.pk]) for user in users],
        "profiles": list(McpProfile.objects.values("name", "description", "tools")),
    }


def _default_user_data(rules: GlobalPolicy) -> dict:
    role = (
        rules.default_role
        or Role.objects.filter(name=DEFAULT_ROLE).first()
        or Role(name=DEFAULT_ROLE)
    )
    return {
        "role": role.name,
        "is_admin": role.is_admin,
        "is_super_admin": role.is_super_admin,
        "allowed_databases": rules.default_allowed_databases,
    }


def _mcps_data() -> list[dict]:
    tools, restrictions = defaultdict(list), defaultdict(dict)
    for mcp_id, name in DiscoveredTool.objects.values_list("mcp_id", "name"):
        tools[mcp_id].append(name)
    for row in RoleRestriction.objects.values("mcp_id", "role__name", "mode", "patterns"):
        restrictions[row["mcp_id"]][row["role__name"]] = {
            "mode": row["mode"],
            "patterns": row["patterns"],
        }
    return [
        {
            "name": mcp.name,
            "enabled": mcp.enabled,
            "admin_only": mcp.admin_only,
            "tool_mode": mcp.tool_policy_mode,
            "tool_patterns": mcp.tool_patterns,
            "database_argument": mcp.database_argument,
            "tools": tools[mcp.pk],
            "role_restrictions": restrictions[mcp.pk],
        }
        for mcp in McpServer.objects.only(
            "name",
            "enabled",
            "admin_only",
            "tool_policy_mode",
            "tool_patterns",
            "database_argument",
        )
    ]


def _overrides_by_user(user_ids: list[int] | None = None) -> defaultdict[int, dict]:
    rows = (
        UserOverride.objects.all()
        if user_ids is None
        else UserOverride.objects.filter(user_id__in=user_ids)
    )
    overrides = defaultdict(dict)
    for row in rows.values("user_id", "mcp__name", "mode", "tools", "deny"):
        overrides[row["user_id"]][row["mcp__name"]] = {
            "mode": row["mode"],
            "tools": row["tools"],
            "deny": row["deny"],
        }
    return overrides


def user_data(user: User, overrides: dict) -> dict:
    return {
        "id": user.pk,
        "email": user.email.lower(),
        "slack_user_id": user.slack_user_id,
        "role": user.role.name,
        "is_admin": user.role.is_admin,
        "is_super_admin": user.role.is_super_admin,
        "allowed_databases": user.allowed_databases,
        "overrides": overrides,
    }


def user_data_load(user: User) -> dict:
    """One user's policy data, read straight from the rows (for a user not in the snapshot yet)."""
    return user_data(user, _overrides_by_user([user.pk])[user.pk])
