"""The YAML policy files of SPEC §4.3/§4.4, parsed once into typed values at the edge.

Every key of §4.4 is accepted and no other: a typo in a security policy must not pass
silently. ``${VAR}`` (and ``${VAR:-default}``) is expanded from the environment in every
string. Problems are :class:`PolicyFileError` naming the file, the entry and the problem.
Nothing here touches the database; ``permissions.policy.yaml_io`` writes the parsed values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .engine import (
    ALL,
    ALLOW_ALL,
    ALLOW_ALL_EXCEPT,
    ALLOW_ONLY,
    CUSTOM,
    DECISIONS,
    DENY,
    INHERIT,
    OVERRIDE_MODES,
    TOOL_MODES,
    pattern_problem,
    profile_pattern_problem,
)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MCP_NAME = re.compile(r"[a-z0-9_]+")
_ROLE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROFILE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,64}")  # a slug, as McpProfile.name

MCPS_FILE_KEYS = ("global", "mcps", "profiles")
PROFILE_KEYS = ("name", "description", "tools")
GLOBAL_KEYS = ("blocked_tools", "admin_only_tools", "default_decision")
MCP_KEYS = (
    "name",
    "description",
    "transport",
    "url",
    "command",
    "args",
    "env",
    "auth",
    "timeout_seconds",
    "database_argument",
    "enabled",
    "admin_only",
    "tool_policy",
    "role_restrictions",
)
TOOL_POLICY_KEYS = {
    ALLOW_ALL: ("mode",),
    ALLOW_ONLY: ("mode", "include"),
    ALLOW_ALL_EXCEPT: ("mode", "exclude"),
}
RESTRICTION_KEYS = (ALLOW_ALL, ALLOW_ONLY, DENY)
USERS_FILE_KEYS = ("roles", "super_admins", "users", "default_user")
ROLE_KEYS = ("requests_per_hour", "is_admin", "is_super_admin", "default_model", "description")
SUPER_ADMIN_KEYS = ("email", "name", "slack_user_id")
USER_KEYS = ("email", "name", "role", "slack_user_id", "allowed_mcps", "allowed_databases")
OVERRIDE_KEYS = {CUSTOM: ("mode", "tools", "deny"), ALL: ("mode",), INHERIT: ("mode",)}
DEFAULT_USER_KEYS = ("role", "allowed_databases")
TRANSPORTS = ("http", "sse", "stdio")


class PolicyFileError(Exception):
    """A policy file that cannot be imported; the message names file, entry and problem."""


@dataclass(frozen=True)
class Where:
    """Where a value sits, for error messages: ``file: entry: key: problem``."""

    file: str
    entry: str = ""

    def error(self, problem: str, key: str = "") -> PolicyFileError:
        parts = [self.file, self.entry, key, problem]
        return PolicyFileError(": ".join(part for part in parts if part))


@dataclass(frozen=True)
class GlobalRules:
    blocked: tuple[str, ...] = ()
    admin_only: tuple[str, ...] = ()
    default_decision: str = "allow"


@dataclass(frozen=True)
class RestrictionSpec:
    mode: str
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class McpSpec:
    where: Where
    name: str
    description: str = ""
    transport: str = "http"
    url: str = ""
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    token: str = ""
    timeout_seconds: int = 30
    database_argument: str = ""
    enabled: bool = True
    admin_only: bool = False
    tool_mode: str = ALLOW_ALL
    tool_patterns: tuple[str, ...] = ()
    role_restrictions: Mapping[str, RestrictionSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileSpec:
    where: Where
    name: str
    tools: tuple[str, ...]  # mcp.tool patterns
    description: str = ""


@dataclass(frozen=True)
class McpsFile:
    path: str
    rules: GlobalRules | None
    mcps: tuple[McpSpec, ...]
    profiles: tuple[ProfileSpec, ...] | None = None  # None: the file has no profiles key


@dataclass(frozen=True)
class RoleSpec:
    where: Where
    name: str
    fields: Mapping[str, object]  # only the keys the file gives; the rest stay as stored


@dataclass(frozen=True)
class OverrideSpec:
    mode: str
    tools: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserSpec:
    where: Where
    email: str
    role: str
    name: str | None = None  # None: keep what is stored
    slack_user_id: str | None = None
    overrides: Mapping[str, OverrideSpec] = field(default_factory=dict)
    allowed_databases: tuple[str, ...] = ("*",)
    super_admin: bool = False


@dataclass(frozen=True)
class DefaultUserSpec:
    where: Where
    role: str = "read_only"
    allowed_databases: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsersFile:
    path: str
    roles: tuple[RoleSpec, ...]
    users: tuple[UserSpec, ...]
    default_user: DefaultUserSpec | None


# --- reading -------------------------------------------------------------------------------


def _load(path: str | Path, allowed: tuple[str, ...]) -> tuple[dict, Where]:
    where = Where(str(path))
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise where.error(f"cannot read the file ({exc.strerror})") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else ""
        raise Where(str(path), line).error(
            f"bad YAML: {getattr(exc, 'problem', None) or exc}"
        ) from exc
    return _mapping(document or {}, where, allowed), where


def _mapping(value, where: Where, allowed: tuple[str, ...], key: str = "") -> dict:
    if not isinstance(value, dict):
        raise where.error(f"expected a mapping, got {_kind(value)}", key)
    for name in value:
        if name not in allowed:
            raise where.error(f"unknown key '{name}' (allowed: {', '.join(allowed)})", key)
    return value


def _list(value, where: Where, key: str) -> list:
    if not isinstance(value, list):
        raise where.error(f"expected a list, got {_kind(value)}", key)
    return value


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _expand(text: str, where: Where, key: str) -> str:
    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise where.error(f"environment variable {name} is not set", key)
        return default

    return _VARIABLE.sub(substitute, text)


def _string(value, where: Where, key: str, *, allow_null: bool = False) -> str | None:
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(f"expected text, got {_kind(value)}", key)
    return _expand(str(value), where, key)


def _bool(value, where: Where, key: str) -> bool:
    if isinstance(value, str):
        value = {"true": True, "false": False}.get(
            _expand(value, where, key).strip().lower(), value
        )
    if not isinstance(value, bool):
        raise where.error(f"expected true or false, got {value!r}", key)
    return value


def _int(value, where: Where, key: str, *, low: int, high: int) -> int:
    if isinstance(value, str) and _expand(value, where, key).strip().isdigit():
        value = int(_expand(value, where, key))
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise where.error(f"expected a whole number from {low} to {high}, got {value!r}", key)
    return value


def _patterns(value, where: Where, key: str, *, database: bool = False) -> tuple[str, ...]:
    found = []
    for item in _list(value if value is not None else [], where, key):
        text = _string(item, where, key)
        if problem := pattern_problem(text, database=database):
            raise where.error(problem, key)
        found.append(text)
    return tuple(found)


def _choice(value, where: Where, key: str, choices: tuple[str, ...], what: str) -> str:
    text = _string(value, where, key)
    if text not in choices:
        raise where.error(f"unknown {what} '{text}' (use {', '.join(choices)})", key)
    return text


# --- mcps.yaml ---------------------------------------------------------------------------


def mcps_file_parse(path: str | Path) -> McpsFile:
    document, where = _load(path, MCPS_FILE_KEYS)
    rules = (
        _global_parse(document["global"], Where(where.file, "global"))
        if "global" in document
        else None
    )
    specs, seen = [], {}
    for index, raw in enumerate(_list(document.get("mcps") or [], where, "mcps")):
        spec = _mcp_parse(raw, Where(where.file, _entry("mcps", index, raw, "name")))
        if spec.name in seen:
            raise spec.where.error(f"duplicate MCP name (first at mcps[{seen[spec.name]}])")
        seen[spec.name] = index
        specs.append(spec)
    profiles = _profiles_parse(document["profiles"], where) if "profiles" in document else None
    return McpsFile(path=str(path), rules=rules, mcps=tuple(specs), profiles=profiles)


def _profiles_parse(raw, where: Where) -> tuple[ProfileSpec, ...]:
    specs, seen = [], {}
    for index, entry in enumerate(_list(raw or [], where, "profiles")):
        spec = _profile_parse(entry, Where(where.file, _entry("profiles", index, entry, "name")))
        if spec.name in seen:
            raise spec.where.error(f"duplicate profile name (first at profiles[{seen[spec.name]}])")
        seen[spec.name] = index
        specs.append(spec)
    return tuple(specs)


def _profile_parse(raw, where: Where) -> ProfileSpec:
    raw = _mapping(raw, where, PROFILE_KEYS)
    if "name" not in raw:
        raise where.error("missing name")
    name = _string(raw["name"], where, "name")
    if not _PROFILE_NAME.fullmatch(name):
        raise where.error(f"bad name '{name}' (use letters, digits, - and _)", "name")
    tools = []
    for item in _list(raw.get("tools") or [], where, "tools"):
        text = _string(item, where, "tools")
        if problem := profile_pattern_problem(text):
            raise where.error(problem, "tools")
        tools.append(text)
    return ProfileSpec(
        where=where,
        name=name,
        tools=tuple(tools),
        description=_string(raw.get("description") or "", where, "description"),
    )


def _entry(section: str, index: int, raw, name_key: str) -> str:
    name = raw.get(name_key) if isinstance(raw, dict) else None
    return f"{section}[{index}] ({name})" if isinstance(name, str) else f"{section}[{index}]"


def _global_parse(raw, where: Where) -> GlobalRules:
    raw = _mapping(raw or {}, where, GLOBAL_KEYS)
    return GlobalRules(
        blocked=_patterns(raw.get("blocked_tools"), where, "blocked_tools"),
        admin_only=_patterns(raw.get("admin_only_tools"), where, "admin_only_tools"),
        default_decision=_choice(
            raw.get("default_decision", "allow"),
            where,
            "default_decision",
            DECISIONS,
            "default_decision",
        ),
    )


def _mcp_parse(raw, where: Where) -> McpSpec:
    raw = _mapping(raw, where, MCP_KEYS)
    if "name" not in raw:
        raise where.error("missing name")
    name = _string(raw["name"], where, "name")
    if not _MCP_NAME.fullmatch(name):
        raise where.error(f"bad name '{name}' (use lower-case letters, digits and _)", "name")
    url, command = (
        _string(raw.get("url", ""), where, "url"),
        _string(raw.get("command", ""), where, "command"),
    )
    transport = _choice(
        raw.get("transport") or ("stdio" if command and not url else "http"),
        where,
        "transport",
        TRANSPORTS,
        "transport",
    )
    if transport == "stdio" and not command:
        raise where.error("a stdio server needs a command", "command")
    if transport != "stdio" and not url:
        raise where.error(f"an {transport} server needs a url", "url")
    mode, patterns = _tool_policy_parse(raw.get("tool_policy") or {"mode": ALLOW_ALL}, where)
    return McpSpec(
        where=where,
        name=name,
        transport=transport,
        url=url,
        command=command,
        description=_string(raw.get("description") or "", where, "description"),
        args=tuple(
            _string(arg, where, "args") for arg in _list(raw.get("args") or [], where, "args")
        ),
        env=_env_parse(raw.get("env") or {}, where),
        token=_auth_parse(raw.get("auth"), where),
        timeout_seconds=_int(
            raw.get("timeout_seconds", 30), where, "timeout_seconds", low=1, high=3600
        ),
        database_argument=_string(raw.get("database_argument") or "", where, "database_argument"),
        enabled=_bool(raw.get("enabled", True), where, "enabled"),
        admin_only=_bool(raw.get("admin_only", False), where, "admin_only"),
        tool_mode=mode,
        tool_patterns=patterns,
        role_restrictions=_restrictions_parse(raw.get("role_restrictions") or {}, where),
    )


def _env_parse(raw, where: Where) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise where.error(f"expected a mapping, got {_kind(raw)}", "env")
    for name in raw:
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise where.error(f"bad variable name {name!r}", "env")
    return {name: _string(value, where, f"env.{name}") for name, value in raw.items()}


def _auth_parse(raw, where: Where) -> str:
    if raw is None:
        return ""
    raw = _mapping(raw, where, ("type", "token"), "auth")
    if raw.get("type", "bearer") != "bearer":
        raise where.error(f"unknown auth type '{raw.get('type')}' (use bearer)", "auth.type")
    return _string(raw.get("token") or "", where, "auth.token")


def _tool_policy_parse(raw, where: Where) -> tuple[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise where.error(f"expected a mapping, got {_kind(raw)}", "tool_policy")
    mode = _choice(raw.get("mode", ALLOW_ALL), where, "tool_policy.mode", TOOL_MODES, "mode")
    _mapping(raw, where, TOOL_POLICY_KEYS[mode], "tool_policy")
    key = {ALLOW_ONLY: "include", ALLOW_ALL_EXCEPT: "exclude"}.get(mode)
    return mode, _patterns(raw.get(key), where, f"tool_policy.{key}") if key else ()


def _restrictions_parse(raw, where: Where) -> dict[str, RestrictionSpec]:
    if not isinstance(raw, dict):
        raise where.error(
            f"expected a mapping of role to rule, got {_kind(raw)}", "role_restrictions"
        )
    return {
        str(role): _restriction_parse(rule, where, f"role_restrictions.{role}")
        for role, rule in raw.items()
    }


def _restriction_parse(raw, where: Where, key: str) -> RestrictionSpec:
    raw = _mapping(raw, where, RESTRICTION_KEYS, key)
    if len(raw) != 1:
        raise where.error("give exactly one of allow_all, allow_only, deny", key)
    ((mode, value),) = raw.items()
    if mode == ALLOW_ALL:
        if not _bool(value, where, f"{key}.allow_all"):
            raise where.error("allow_all can only be true; use allow_only or deny", key)
        return RestrictionSpec(ALLOW_ALL)
    return RestrictionSpec(mode, _patterns(value, where, f"{key}.{mode}"))


# --- users.yaml ----------------------------------------------------------------------------


def users_file_parse(path: str | Path) -> UsersFile:
    document, where = _load(path, USERS_FILE_KEYS)
    roles_raw = document.get("roles") or {}
    if not isinstance(roles_raw, dict):
        raise where.error(
            f"expected a mapping of role name to fields, got {_kind(roles_raw)}", "roles"
        )
    roles = tuple(
        _role_parse(name, raw, Where(where.file, f"roles.{name}"))
        for name, raw in roles_raw.items()
    )
    users, seen = [], {}
    for section, parse in (("super_admins", _super_admin_parse), ("users", _user_parse)):
        for index, raw in enumerate(_list(document.get(section) or [], where, section)):
            spec = parse(raw, Where(where.file, _entry(section, index, raw, "email")))
            if spec.email in seen:
                raise spec.where.error(
                    f"{spec.email} is listed twice (first at {seen[spec.email]})"
                )
            seen[spec.email] = f"{section}[{index}]"
            users.append(spec)
    _check_slack_ids_unique(users)
    default = (
        _default_user_parse(document["default_user"], Where(where.file, "default_user"))
        if "default_user" in document
        else None
    )
    return UsersFile(path=str(path), roles=roles, users=tuple(users), default_user=default)


def _role_parse(name, raw, where: Where) -> RoleSpec:
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
        raise where.error(f"bad role name {name!r} (use letters, digits, _ and -)")
    raw = _mapping(raw or {}, where, ROLE_KEYS)
    fields = {}
    if "requests_per_hour" in raw:
        value = raw["requests_per_hour"]
        fields["requests_per_hour"] = (
            None if value is None else _int(value, where, "requests_per_hour", low=1, high=10**9)
        )
    for key in ("is_admin", "is_super_admin"):
        if key in raw:
            fields[key] = _bool(raw[key], where, key)
    for key in ("default_model", "description"):
        if key in raw:
            fields[key] = _string(raw[key], where, key, allow_null=True) or ""
    return RoleSpec(where=where, name=name, fields=fields)


def _email(raw: dict, where: Where) -> str:
    if "email" not in raw:
        raise where.error("missing email")
    email = _string(raw["email"], where, "email").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise where.error(f"bad e-mail address '{email}'", "email")
    return email


def _identity(raw: dict, where: Where) -> dict:
    return {
        "email": _email(raw, where),
        "name": _optional_text(raw, "name", where),
        "slack_user_id": _optional_text(raw, "slack_user_id", where),
    }


def _optional_text(raw: dict, key: str, where: Where) -> str | None:
    """None when the key is absent (keep what is stored); "" when it is given empty."""
    if key not in raw:
        return None
    return _string(raw[key], where, key, allow_null=True) or ""


def _super_admin_parse(raw, where: Where) -> UserSpec:
    raw = _mapping(raw, where, SUPER_ADMIN_KEYS)
    return UserSpec(where=where, role="super_admin", super_admin=True, **_identity(raw, where))


def _user_parse(raw, where: Where) -> UserSpec:
    raw = _mapping(raw, where, USER_KEYS)
    if "role" not in raw:
        raise where.error("missing role")
    overrides = raw.get("allowed_mcps") or {}
    if not isinstance(overrides, dict):
        raise where.error(
            f"expected a mapping of MCP name to access, got {_kind(overrides)}", "allowed_mcps"
        )
    databases = raw.get("allowed_databases", ["*"])
    return UserSpec(
        where=where,
        role=_string(raw["role"], where, "role"),
        overrides={
            str(mcp): _override_parse(value, where, f"allowed_mcps.{mcp}")
            for mcp, value in overrides.items()
        },
        allowed_databases=_patterns(databases, where, "allowed_databases", database=True),
        **_identity(raw, where),
    )


def _override_parse(raw, where: Where, key: str) -> OverrideSpec:
    if raw == "*":
        return OverrideSpec(ALL)  # the seed's shorthand for mode: all
    if isinstance(raw, str):
        raise where.error(f"expected \"*\" or a mapping with a mode, got '{raw}'", key)
    if not isinstance(raw, dict):
        raise where.error(f'expected "*" or a mapping with a mode, got {_kind(raw)}', key)
    if "mode" not in raw:
        raise where.error("missing mode", key)
    mode = _choice(raw["mode"], where, f"{key}.mode", OVERRIDE_MODES, "mode")
    _mapping(raw, where, OVERRIDE_KEYS[mode], key)
    if mode != CUSTOM:
        return OverrideSpec(mode)
    return OverrideSpec(
        CUSTOM,
        _patterns(raw.get("tools"), where, f"{key}.tools"),
        _patterns(raw.get("deny"), where, f"{key}.deny"),
    )


def _check_slack_ids_unique(users: list[UserSpec]) -> None:
    owners = {}
    for spec in users:
        if spec.slack_user_id:
            if spec.slack_user_id in owners:
                raise spec.where.error(
                    f"slack_user_id {spec.slack_user_id} is also {owners[spec.slack_user_id]}'s"
                )
            owners[spec.slack_user_id] = spec.email


def _default_user_parse(raw, where: Where) -> DefaultUserSpec:
    raw = _mapping(raw or {}, where, DEFAULT_USER_KEYS)
    return DefaultUserSpec(
        where=where,
        role=_string(raw.get("role") or "read_only", where, "role"),
        allowed_databases=_patterns(
            raw.get("allowed_databases"), where, "allowed_databases", database=True
        ),
    )


# --- writing ---------------------------------------------------------------------------------


def yaml_dump(document: dict, path: str | Path, header: str = "") -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    Path(path).write_text(header + text)
