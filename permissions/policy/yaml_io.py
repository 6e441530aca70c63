"""Policy import and export (SPEC §4.3): parsed policy files ↔ the policy tables.

Import merges by MCP name and user e-mail, in one transaction: the first problem raises
:class:`PolicyFileError` and nothing is written. Within an entry the file is the whole
truth for policy (tool policy, role restrictions, overrides, databases); ``name`` and
``slack_user_id`` are only changed when the entry gives them.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import ProtectedError

from permissions.models import (
    GlobalPolicy,
    McpProfile,
    McpServer,
    Role,
    RoleRestriction,
    User,
    UserOverride,
    default_model_problem,
)

from .engine import ALL, ALLOW_ALL, ALLOW_ALL_EXCEPT, ALLOW_ONLY, CUSTOM
from .snapshot import policy_changed
from .yaml_spec import McpsFile, McpSpec, PolicyFileError, ProfileSpec, UsersFile, UserSpec


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __str__(self):
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.removed)} removed"
        )


@transaction.atomic
def policy_import(
    *, mcps: McpsFile | None = None, users: UsersFile | None = None, replace: bool = False
) -> ImportSummary:
    """Write the parsed files; ``replace`` also removes MCPs and deactivates users they omit."""
    summary = ImportSummary()
    if users is not None:
        _roles_import(users, summary)
    roles = {role.name: role for role in Role.objects.all()}
    if mcps is not None:
        _mcps_import(mcps, roles, replace, summary)
    if users is not None:
        _users_import(users, roles, replace, summary)
    policy_changed()  # bulk deletes above send no row signals
    return summary


def _roles_import(users: UsersFile, summary: ImportSummary) -> None:
    for spec in users.roles:
        if problem := default_model_problem(spec.fields.get("default_model") or ""):
            raise spec.where.error(problem, "default_model")
        role, created = Role.objects.get_or_create(name=spec.name, defaults=dict(spec.fields))
        if not created:
            for key, value in spec.fields.items():
                setattr(role, key, value)
            role.save()
        (summary.created if created else summary.updated).append(f"role {spec.name}")


def _mcps_import(
    mcps: McpsFile, roles: dict[str, Role], replace: bool, summary: ImportSummary
) -> None:
    if mcps.rules is not None:
        rules = GlobalPolicy.load()
        rules.blocked_patterns = list(mcps.rules.blocked)
        rules.admin_only_patterns = list(mcps.rules.admin_only)
        rules.default_decision = mcps.rules.default_decision
        rules.save()
    for spec in mcps.mcps:
        _mcp_import(spec, roles, summary)
    if replace:
        names = {spec.name for spec in mcps.mcps}
        for server in McpServer.objects.exclude(name__in=names):
            summary.removed.append(f"mcp {server.name}")
            server.delete()
    if mcps.profiles is not None:
        _profiles_import(mcps, replace, summary)


def _profiles_import(mcps: McpsFile, replace: bool, summary: ImportSummary) -> None:
    for spec in mcps.profiles:
        _profile_import(spec, summary)
    if not replace:
        return
    names = {spec.name for spec in mcps.profiles}
    for profile in McpProfile.objects.exclude(name__in=names):
        try:
            profile.delete()
        except ProtectedError:
            # Removing it would silently widen the keys bound to it; the admin decides.
            raise PolicyFileError(
                f"{mcps.path}: profiles: '{profile.name}' is not in the file but API keys are "
                "bound to it; revoke or rebind those keys first"
            ) from None
        summary.removed.append(f"profile {profile.name}")


def _profile_import(spec: ProfileSpec, summary: ImportSummary) -> None:
    _, created = McpProfile.objects.update_or_create(
        name=spec.name, defaults={"description": spec.description, "tools": list(spec.tools)}
    )
    (summary.created if created else summary.updated).append(f"profile {spec.name}")


def _mcp_import(spec: McpSpec, roles: dict[str, Role], summary: ImportSummary) -> None:
    unknown = sorted(set(spec.role_restrictions) - set(roles))
    if unknown:
        raise spec.where.error(f"unknown role '{unknown[0]}'", "role_restrictions")
    server = McpServer.objects.filter(name=spec.name).first() or McpServer(name=spec.name)
    (summary.updated if server.pk else summary.created).append(f"mcp {spec.name}")
    for attribute in (
        "description",
        "transport",
        "url",
        "command",
        "timeout_seconds",
        "database_argument",
        "enabled",
        "admin_only",
    ):
        setattr(server, attribute, getattr(spec, attribute))
    server.args, server.tool_patterns = list(spec.args), list(spec.tool_patterns)
    server.tool_policy_mode = spec.tool_mode
    server.set_bearer_token(spec.token)
    server.set_env(dict(spec.env))
    server.save()
    server.role_restrictions.exclude(role__name__in=list(spec.role_restrictions)).delete()
    for role_name, rule in spec.role_restrictions.items():
        RoleRestriction.objects.update_or_create(
            mcp=server,
            role=roles[role_name],
            defaults={"mode": rule.mode, "patterns": list(rule.patterns)},
        )


def _users_import(
    users: UsersFile, roles: dict[str, Role], replace: bool, summary: ImportSummary
) -> None:
    servers = {server.name: server for server in McpServer.objects.all()}
    if users.default_user is not None:
        _default_user_import(users, roles)
    for spec in users.users:
        _user_import(spec, roles, servers, summary)
    if replace:
        emails = {spec.email for spec in users.users}
        for user in User.objects.filter(is_active=True).exclude(email__in=emails):
            # Deactivated, not deleted: the audit trail keeps pointing at them.
            user.is_active = False
            user.save(update_fields=["is_active"])
            summary.removed.append(f"user {user.email} (deactivated)")


def _default_user_import(users: UsersFile, roles: dict[str, Role]) -> None:
    spec = users.default_user
    if spec.role not in roles:
        raise spec.where.error(f"unknown role '{spec.role}'", "role")
    rules = GlobalPolicy.load()
    rules.default_role, rules.default_allowed_databases = (
        roles[spec.role],
        list(spec.allowed_databases),
    )
    rules.save()


def _user_import(
    spec: UserSpec, roles: dict[str, Role], servers: dict[str, McpServer], summary: ImportSummary
) -> None:
    if spec.role not in roles:
        raise spec.where.error(f"unknown role '{spec.role}'")
    unknown = sorted(set(spec.overrides) - set(servers))
    if unknown:
        raise spec.where.error(f"unknown MCP '{unknown[0]}'", "allowed_mcps")
    user = User.objects.filter(email__iexact=spec.email).first()
    (summary.updated if user else summary.created).append(f"user {spec.email}")
    user = user or User()
    user.email = spec.email  # parsed lower-case: an older spelling of the same person is replaced
    if user.pk is None:
        user.set_unusable_password()
    _user_fields_apply(spec, user, roles)
    user.save()
    user.overrides.exclude(mcp__name__in=list(spec.overrides)).delete()
    for name, override in spec.overrides.items():
        UserOverride.objects.update_or_create(
            user=user,
            mcp=servers[name],
            defaults={
                "mode": override.mode,
                "tools": list(override.tools),
                "deny": list(override.deny),
            },
        )


def _user_fields_apply(spec: UserSpec, user: User, roles: dict[str, Role]) -> None:
    user.role, user.allowed_databases, user.is_active = (
        roles[spec.role],
        list(spec.allowed_databases),
        True,
    )
    if spec.name is not None:
        user.name = spec.name
    if spec.slack_user_id is not None:
        owner = (
            User.objects.filter(slack_user_id=spec.slack_user_id)
            .exclude(email__iexact=spec.email)
            .first()
        )
        if spec.slack_user_id and owner is not None:
            raise spec.where.error(
                f"slack_user_id {spec.slack_user_id} already belongs to {owner.email}"
            )
        user.slack_user_id = spec.slack_user_id or None
    if spec.super_admin:
        user.is_staff = user.is_superuser = True  # system owners manage OMNI2 in Django admin


# --- export ---------------------------------------------------------------------------------


def policy_export() -> tuple[dict, dict, list[str]]:
    """(mcps document, users document, the environment variables the placeholders name)."""
    variables: list[str] = []
    rules = GlobalPolicy.objects.filter(pk=1).first() or GlobalPolicy()
    mcps = {
        "global": {
            "blocked_tools": rules.blocked_patterns,
            "admin_only_tools": rules.admin_only_patterns,
            "default_decision": str(rules.default_decision),  # the enum itself on a new database
        },
        "mcps": [_mcp_export(server, variables) for server in McpServer.objects.all()],
        "profiles": [_profile_export(profile) for profile in McpProfile.objects.all()],
    }
    return mcps, _users_export(rules), variables


def _profile_export(profile: McpProfile) -> dict:
    entry = {"name": profile.name, "tools": profile.tools}
    if profile.description:
        entry["description"] = profile.description
    return entry


def _placeholder(name: str, variables: list[str]) -> str:
    # Secrets are never written in clear: the file names a variable to set before importing.
    variables.append(name)
    return f"${{{name}}}"


def _mcp_export(server: McpServer, variables: list[str]) -> dict:
    entry = {"name": server.name, "description": server.description, "transport": server.transport}
    if server.transport == McpServer.Transport.STDIO:
        entry.update(command=server.command, args=server.args)
    else:
        entry["url"] = server.url
    prefix = server.name.upper()
    if server.env_keys:
        entry["env"] = {
            key: _placeholder(f"{prefix}_{key.upper()}", variables) for key in server.env_keys
        }
    if server.has_bearer_token:
        entry["auth"] = {"type": "bearer", "token": _placeholder(f"{prefix}_TOKEN", variables)}
    entry.update(timeout_seconds=server.timeout_seconds, enabled=server.enabled)
    if server.admin_only:
        entry["admin_only"] = True
    if server.database_argument:
        entry["database_argument"] = server.database_argument
    entry["tool_policy"] = _tool_policy_export(server)
    restrictions = server.role_restrictions.select_related("role")
    if restrictions:
        entry["role_restrictions"] = {
            r.role.name: {ALLOW_ALL: True} if r.mode == ALLOW_ALL else {r.mode: r.patterns}
            for r in restrictions
        }
    return entry


def _tool_policy_export(server: McpServer) -> dict:
    key = {ALLOW_ONLY: "include", ALLOW_ALL_EXCEPT: "exclude"}.get(server.tool_policy_mode)
    return (
        {"mode": server.tool_policy_mode, key: server.tool_patterns} if key else {"mode": ALLOW_ALL}
    )


def _users_export(rules: GlobalPolicy) -> dict:
    users = (
        User.objects.filter(is_active=True)
        .select_related("role")
        .prefetch_related("overrides__mcp")
    )
    plain_super = [u for u in users if u.role.name == "super_admin" and not u.overrides.all()]
    return {
        "roles": {
            role.name: {
                "requests_per_hour": role.requests_per_hour,
                "is_admin": role.is_admin,
                "is_super_admin": role.is_super_admin,
                "default_model": role.default_model or None,
                "description": role.description,
            }
            for role in Role.objects.all()
        },
        "super_admins": [_identity_export(user) for user in plain_super],
        "users": [_user_export(user) for user in users if user not in plain_super],
        "default_user": {
            "role": rules.default_role.name if rules.default_role else "read_only",
            "allowed_databases": rules.default_allowed_databases,
        },
    }


def _identity_export(user: User) -> dict:
    entry = {"email": user.email, "name": user.name}
    if user.slack_user_id:
        entry["slack_user_id"] = user.slack_user_id
    return entry


def _user_export(user: User) -> dict:
    entry = {**_identity_export(user), "role": user.role.name}
    overrides = {o.mcp.name: _override_export(o) for o in user.overrides.all()}
    if overrides:
        entry["allowed_mcps"] = overrides
    entry["allowed_databases"] = user.allowed_databases
    return entry


def _override_export(override: UserOverride) -> dict | str:
    if override.mode == ALL:
        return "*"
    if override.mode == CUSTOM:
        return {"mode": CUSTOM, "tools": override.tools, "deny": override.deny}
    return {"mode": override.mode}


__all__ = ["ImportSummary", "PolicyFileError", "policy_export", "policy_import"]
