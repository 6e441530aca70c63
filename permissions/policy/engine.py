"""The policy engine: SPEC §4.2 as plain functions over frozen values.

Nothing here imports Django. ``permissions.policy.rows`` turns the admin-edited rows into a
plain ``dict`` (the *policy data*, JSON-safe so it can sit in a shared cache);
:func:`snapshot_build` compiles that into an immutable :class:`PolicySnapshot`;
:func:`decide` answers one question and says why. Every pattern is compiled once per
snapshot, and the global rules are pre-applied to every discovered tool, so a warm
decision is a handful of dict lookups and at most a few regex matches.

Policy data (what :func:`snapshot_build` reads)::

    {"global": {"blocked": [...], "admin_only": [...], "default_decision": "allow"|"deny"},
     "default_user": {"role": str, "is_admin": bool, "is_super_admin": bool,
                      "allowed_databases": [...]},
     "mcps": [{"name", "enabled", "admin_only", "tool_mode", "tool_patterns", "database_argument",
               "tools": [discovered names],
               "role_restrictions": {role: {"mode", "patterns"}}}],
     "users": [{"id", "email", "slack_user_id", "role", "is_admin", "is_super_admin",
                "allowed_databases", "overrides": {mcp: {"mode", "tools", "deny"}}}],
     "profiles": [{"name", "description", "tools": ["mcp.tool" patterns]}]}

A user's policy is found by the user's id (``users_by_id``); e-mail and Slack id are only for
naming a person from outside (a Slack event, ``validate_policy --user``).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

# Modes, as stored in the tables and written in the YAML.
ALLOW_ALL, ALLOW_ONLY, ALLOW_ALL_EXCEPT = "allow_all", "allow_only", "allow_all_except"
DENY = "deny"
INHERIT, CUSTOM, ALL = "inherit", "custom", "all"
TOOL_MODES = (ALLOW_ALL, ALLOW_ONLY, ALLOW_ALL_EXCEPT)
RESTRICTION_MODES = (ALLOW_ALL, ALLOW_ONLY, DENY)
OVERRIDE_MODES = (INHERIT, CUSTOM, ALL)
DECISIONS = ("allow", "deny")
DEFAULT_DATABASE_ARGUMENTS = ("database", "database_name", "db", "db_name")
SERVER_ADMIN_ONLY = "*"  # the admin-only pattern an admin_only MCP's tools count as matched by

# Step numbers of SPEC §4.2; the database check runs after an allow, as step 7.
STEP_AVAILABLE, STEP_BLOCKED, STEP_ADMIN_ONLY, STEP_OVERRIDE, STEP_ROLE, STEP_DEFAULT = (
    1,
    2,
    3,
    4,
    5,
    6,
)
STEP_DATABASE = 7

_PATTERN_CHARS = re.compile(r"[A-Za-z0-9_*?\[\]!-]+")
_DATABASE_CHARS = re.compile(r"[A-Za-z0-9_*?\[\]!.-]+")  # database names may hold dots


def pattern_problem(pattern: object, *, database: bool = False) -> str | None:
    """Why ``pattern`` is not a valid tool (or database) pattern, or None when it is."""
    if not isinstance(pattern, str):
        return f"pattern {pattern!r} is not a string"
    if not pattern:
        return "empty pattern"
    if any(char.isspace() for char in pattern):
        return f"pattern {pattern!r} contains whitespace"
    if not (_DATABASE_CHARS if database else _PATTERN_CHARS).fullmatch(pattern):
        extra = " ." if database else ""
        return f"pattern {pattern!r} may only use letters, digits and _ - * ? [ ] !{extra}"
    return None


def profile_pattern_problem(pattern: object) -> str | None:
    """Why ``pattern`` is not a profile pattern (``<mcp pattern>.<tool pattern>``), or None."""
    if not isinstance(pattern, str) or "." not in pattern:
        return f"pattern {pattern!r} must be mcp.tool, e.g. database_mcp.get_* or *.list_*"
    mcp, _, tool = pattern.partition(".")
    return pattern_problem(mcp) or pattern_problem(tool)


def specificity(pattern: str) -> float:
    """Count of non-wildcard characters; an exact name (no wildcard at all) is infinite."""
    count, wild, i, n = 0, False, 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char in "*?":
            wild = True
        elif char == "[" and (end := _class_end(pattern, i)) > 0:
            wild, i = True, end  # a character class matches one char, like '?'
        else:
            count += 1
        i += 1
    return count if wild else math.inf


def _class_end(pattern: str, start: int) -> int:
    """Index of the ']' closing the class opened at ``start``, or -1 (fnmatch's rules)."""
    j = start + 1
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    j = pattern.find("]", j)
    return j


@dataclass(frozen=True, eq=False, slots=True)
class PatternSet:
    """Shell-style patterns compiled once. Matching is case-sensitive, like tool names."""

    patterns: tuple[str, ...]
    _each: tuple[tuple[str, object, float], ...]  # (pattern, bound match, specificity)
    _any: object  # one alternation for the common "does anything match" question

    @classmethod
    def of(cls, patterns: Iterable[str]) -> PatternSet:
        return _pattern_set(tuple(dict.fromkeys(patterns)))  # keep order, drop repeats

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def first(self, name: str) -> str | None:
        """The first pattern that matches ``name``."""
        if self._any is None or self._any(name) is None:
            return None
        for pattern, match, _ in self._each:
            if match(name):
                return pattern
        return None  # unreachable: the alternation matched, so one pattern does

    def best(self, name: str) -> tuple[str, float] | None:
        """The most specific matching pattern and its specificity."""
        if self._any is None or self._any(name) is None:
            return None
        return max(((p, s) for p, match, s in self._each if match(name)), key=lambda ps: ps[1])


@lru_cache(maxsize=8192)
def _pattern_set(patterns: tuple[str, ...]) -> PatternSet:
    # Sets are immutable, so users with the same list (say ["*"]) share one compiled set,
    # within a snapshot and across rebuilds.
    each = tuple((p, re.compile(fnmatch.translate(p)).match, specificity(p)) for p in patterns)
    joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
    return PatternSet(patterns, each, re.compile(joined).match if patterns else None)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    step: int
    pattern: str | None
    reason: str
    code: str  # not_available | blocked | admin_only | override | role | default | database

    @property
    def word(self) -> str:
        return "ALLOW" if self.allowed else "DENY"


@dataclass(frozen=True, slots=True)
class ToolFacts:
    """What the global rules say about one tool name, worked out once per snapshot."""

    blocked: str | None
    admin_only: str | None
    admin_only_specificity: float


@dataclass(frozen=True, slots=True)
class RoleRule:
    mode: str
    patterns: PatternSet


@dataclass(frozen=True, slots=True)
class Override:
    mode: str
    tools: PatternSet
    deny: PatternSet


@dataclass(frozen=True, eq=False, slots=True)
class McpPolicy:
    name: str
    enabled: bool
    tool_mode: str
    tool_patterns: PatternSet
    database_arguments: tuple[str, ...]
    known_tools: tuple[str, ...]  # every discovered tool, hidden ones too (for explanations)
    tools: tuple[str, ...]  # the discovered tools the tool policy lets anyone see
    facts: Mapping[str, ToolFacts]  # for ``tools`` only
    role_restrictions: Mapping[str, RoleRule]
    admin_only: bool = False  # every tool is admin-only at step 3, as if matched by "*"

    def hiding_pattern(self, tool: str) -> tuple[bool, str | None]:
        """(hidden?, the pattern responsible) under this MCP's tool policy."""
        return _hiding(self.tool_mode, self.tool_patterns, tool)


def _hiding(mode: str, patterns: PatternSet, tool: str) -> tuple[bool, str | None]:
    if mode == ALLOW_ALL:
        return False, None
    hit = patterns.first(tool)
    return (hit is None if mode == ALLOW_ONLY else hit is not None), hit


@dataclass(frozen=True, eq=False, slots=True)
class UserPolicy:
    email: str
    role: str
    is_admin: bool
    is_super_admin: bool
    allowed_databases: PatternSet
    overrides: Mapping[str, Override]
    slack_user_id: str | None = None
    user_id: int | None = None  # None for the default user and for rows built without one

    @property
    def is_privileged(self) -> bool:
        return self.is_admin or self.is_super_admin


@dataclass(frozen=True, eq=False, slots=True)
class Profile:
    """A named set of ``mcp.tool`` patterns (SPEC §13): it only ever narrows what a user may do."""

    name: str
    description: str
    patterns: tuple[str, ...]
    # Each pattern split at its first dot: the MCP part and the tool part match separately,
    # so a '*' never runs across the dot.
    parts: tuple[tuple[PatternSet, PatternSet], ...] = field(repr=False)

    def allows(self, mcp: str, tool: str) -> bool:
        return any(m.first(mcp) is not None and t.first(tool) is not None for m, t in self.parts)


@dataclass(frozen=True, eq=False, slots=True)
class PolicySnapshot:
    version: str
    blocked: PatternSet
    admin_only: PatternSet
    default_allow: bool
    mcps: Mapping[str, McpPolicy]
    users_by_id: Mapping[int, UserPolicy]
    users_by_email: Mapping[str, UserPolicy]
    users_by_slack_id: Mapping[str, UserPolicy]
    default_user: UserPolicy
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    # Derived answers that depend only on the snapshot, e.g. a role's tools on one MCP.
    memo: dict = field(default_factory=dict, repr=False)

    def user(self, *, email: str | None = None, slack_user_id: str | None = None) -> UserPolicy:
        """The user behind a Slack id or an e-mail; the default user when neither is known."""
        found = self.users_by_slack_id.get(slack_user_id) if slack_user_id else None
        if found is None and email:
            found = self.users_by_email.get(email.strip().lower())
        return found or self.default_user


# --- building a snapshot ----------------------------------------------------------


def snapshot_build(data: Mapping, *, version: str = "") -> PolicySnapshot:
    rules = data.get("global") or {}
    blocked, admin_only = (
        PatternSet.of(rules.get("blocked", ())),
        PatternSet.of(rules.get("admin_only", ())),
    )
    users = [user_policy_build(row) for row in data.get("users", ())]
    return PolicySnapshot(
        version=version,
        blocked=blocked,
        admin_only=admin_only,
        default_allow=rules.get("default_decision", "allow") == "allow",
        mcps={row["name"]: _mcp_build(row, blocked, admin_only) for row in data.get("mcps", ())},
        users_by_id={user.user_id: user for user in users if user.user_id is not None},
        users_by_email={user.email: user for user in users},
        users_by_slack_id={user.slack_user_id: user for user in users if user.slack_user_id},
        default_user=user_policy_build({"email": "", **(data.get("default_user") or {})}),
        profiles={row["name"]: profile_build(row) for row in data.get("profiles", ())},
    )


def profile_build(row: Mapping) -> Profile:
    patterns = tuple(dict.fromkeys(row.get("tools", ())))
    split = (pattern.partition(".") for pattern in patterns)
    return Profile(
        name=row["name"],
        description=row.get("description") or "",
        patterns=patterns,
        parts=tuple((PatternSet.of([m]), PatternSet.of([t])) for m, _, t in split),
    )


def user_policy_build(row: Mapping) -> UserPolicy:
    is_admin, is_super = bool(row.get("is_admin")), bool(row.get("is_super_admin"))
    # SPEC §4.4: admins and super_admins have every database, whatever the row says.
    databases = ("*",) if is_admin or is_super else row.get("allowed_databases", ())
    overrides = {
        mcp: Override(
            o["mode"], PatternSet.of(o.get("tools", ())), PatternSet.of(o.get("deny", ()))
        )
        for mcp, o in (row.get("overrides") or {}).items()
    }
    return UserPolicy(
        email=(row.get("email") or "").lower(),
        role=row.get("role") or "read_only",
        is_admin=is_admin,
        is_super_admin=is_super,
        allowed_databases=PatternSet.of(databases),
        overrides=overrides,
        slack_user_id=row.get("slack_user_id") or None,
        user_id=row.get("id"),
    )


def _mcp_build(row: Mapping, blocked: PatternSet, admin_only: PatternSet) -> McpPolicy:
    mode, patterns = row.get("tool_mode", ALLOW_ALL), PatternSet.of(row.get("tool_patterns", ()))
    server_admin_only = bool(row.get("admin_only"))
    known = tuple(sorted(set(row.get("tools", ()))))
    visible_tools = tuple(tool for tool in known if not _hiding(mode, patterns, tool)[0])
    return McpPolicy(
        name=row["name"],
        enabled=bool(row.get("enabled", True)),
        tool_mode=mode,
        tool_patterns=patterns,
        database_arguments=(row["database_argument"],)
        if row.get("database_argument")
        else DEFAULT_DATABASE_ARGUMENTS,
        known_tools=known,
        tools=visible_tools,
        facts={
            tool: tool_facts(blocked, admin_only, tool, whole_server=server_admin_only)
            for tool in visible_tools
        },
        role_restrictions={
            role: RoleRule(r["mode"], PatternSet.of(r.get("patterns", ())))
            for role, r in (row.get("role_restrictions") or {}).items()
        },
        admin_only=server_admin_only,
    )


def tool_facts(
    blocked: PatternSet, admin_only: PatternSet, tool: str, *, whole_server: bool = False
) -> ToolFacts:
    """``whole_server``: the tool's MCP is admin-only, so with no global pattern matching, the
    tool counts as matched by ``*`` (any custom grant that names it is at least as specific)."""
    strictest = admin_only.best(tool)
    if strictest is None and whole_server:
        strictest = (SERVER_ADMIN_ONLY, 0.0)
    return ToolFacts(
        blocked=blocked.first(tool),
        admin_only=strictest[0] if strictest else None,
        admin_only_specificity=strictest[1] if strictest else 0,
    )


# --- deciding ---------------------------------------------------------------------------


def visible(snapshot: PolicySnapshot, mcp: str, tool: str) -> bool:
    """Whether ``tool`` exists for callers at all: enabled MCP, discovered, not hidden.

    False is a 404 over REST. :func:`decide` does not require discovery, so a tool not yet
    discovered can still be explained; callers that serve real calls ask this first.
    """
    server = snapshot.mcps.get(mcp)
    return server is not None and server.enabled and tool in server.facts


def decide(
    snapshot: PolicySnapshot,
    user: UserPolicy,
    mcp: str,
    tool: str,
    arguments: Mapping | None = None,
) -> Decision:
    """May ``user`` call ``tool`` on ``mcp`` (with ``arguments``)? SPEC §4.2, with the reason."""
    server = snapshot.mcps.get(mcp)
    if server is None:
        return Decision(
            False, STEP_AVAILABLE, None, f"There is no MCP server named '{mcp}'.", "not_available"
        )
    if not server.enabled:
        return Decision(
            False, STEP_AVAILABLE, None, f"MCP server '{mcp}' is disabled.", "not_available"
        )
    facts = server.facts.get(tool)
    if facts is None:
        hidden, pattern = server.hiding_pattern(tool)
        if hidden:
            return Decision(
                False,
                STEP_AVAILABLE,
                pattern,
                f"'{tool}' is hidden by {mcp}'s tool policy ({server.tool_mode}).",
                "not_available",
            )
        facts = tool_facts(
            snapshot.blocked, snapshot.admin_only, tool, whole_server=server.admin_only
        )
    allowed, step, pattern, code, template, extra = _steps(snapshot, user, server, tool, facts)
    if allowed and arguments:
        denial = _database_check(server, user, arguments)
        if denial is not None:
            return denial
    return Decision(
        allowed,
        step,
        pattern,
        template.format(tool=tool, mcp=mcp, role=user.role, extra=extra),
        code,
    )


# Steps 2–6 answer a *verdict*: (allowed, step, pattern, code, reason template, extra).
# The sentence is only formatted when a Decision is wanted, so listing a user's tools
# (thousands of verdicts) pays for no strings it throws away.
Verdict = tuple[bool, int, "str | None", str, str, str]


def _steps(
    snapshot: PolicySnapshot, user: UserPolicy, server: McpPolicy, tool: str, facts: ToolFacts
) -> Verdict:
    """Steps 2–6 for a tool that exists on an enabled MCP."""
    if facts.blocked is not None and not user.is_super_admin:
        return (
            False,
            STEP_BLOCKED,
            facts.blocked,
            "blocked",
            "'{tool}' is blocked for everyone but super admins.",
            "",
        )
    override = user.overrides.get(server.name)
    if facts.admin_only is not None and not user.is_privileged:
        denial = _admin_only_denial(override, tool, facts)
        if denial is not None:
            return denial
    if override is not None and override.mode != INHERIT:
        return _override_verdict(override, tool)
    rule = server.role_restrictions.get(user.role)
    if rule is not None:
        return _role_verdict(rule, tool)
    if snapshot.default_allow:
        return (
            True,
            STEP_DEFAULT,
            None,
            "default",
            "No rule names this tool; the default is allow.",
            "",
        )
    return (
        False,
        STEP_DEFAULT,
        None,
        "default",
        "No rule grants this tool; the default is deny.",
        "",
    )


def _admin_only_denial(override: Override | None, tool: str, facts: ToolFacts) -> Verdict | None:
    """Step 3: None when a custom grant at least as specific as the admin-only pattern lifts it."""
    grant = override.tools.best(tool) if override is not None and override.mode == CUSTOM else None
    if grant is not None and grant[1] >= facts.admin_only_specificity:
        return None
    template = "'{tool}' is admin-only and role '{role}' is not an admin role."
    if facts.admin_only == SERVER_ADMIN_ONLY:
        template = "Every tool of {mcp} is admin-only and role '{role}' is not an admin role."
    if grant is None:
        return False, STEP_ADMIN_ONLY, facts.admin_only, "admin_only", template, ""
    template += " Your grant '{extra}' is less specific than the admin-only pattern, so it does not lift that."
    return False, STEP_ADMIN_ONLY, facts.admin_only, "admin_only", template, grant[0]


def _override_verdict(override: Override, tool: str) -> Verdict:
    if override.mode == ALL:
        return (
            True,
            STEP_OVERRIDE,
            "*",
            "override",
            "Your override for {mcp} grants every tool.",
            "",
        )
    denied = override.deny.first(tool)
    if denied is not None:
        return False, STEP_OVERRIDE, denied, "override", "Your override for {mcp} denies it.", ""
    granted = override.tools.first(tool)
    if granted is not None:
        return True, STEP_OVERRIDE, granted, "override", "Your override for {mcp} grants it.", ""
    if not override.tools:
        return (
            False,
            STEP_OVERRIDE,
            None,
            "override",
            "Your override for {mcp} grants no tools.",
            "",
        )
    return False, STEP_OVERRIDE, None, "override", "Your override for {mcp} does not list it.", ""


def _role_verdict(rule: RoleRule, tool: str) -> Verdict:
    if rule.mode == ALLOW_ALL:
        return True, STEP_ROLE, None, "role", "Role '{role}' may use every tool of {mcp}.", ""
    hit = rule.patterns.first(tool)
    if rule.mode == ALLOW_ONLY:
        if hit is not None:
            return True, STEP_ROLE, hit, "role", "Role '{role}' may use it on {mcp}.", ""
        return (
            False,
            STEP_ROLE,
            None,
            "role",
            "Role '{role}' may only use listed tools on {mcp}; not this one.",
            "",
        )
    if hit is not None:
        return False, STEP_ROLE, hit, "role", "Role '{role}' is denied it on {mcp}.", ""
    return True, STEP_ROLE, None, "role", "Role '{role}' is not denied it on {mcp}.", ""


def _database_check(server: McpPolicy, user: UserPolicy, arguments: Mapping) -> Decision | None:
    """A denial when an argument names a database outside the user's patterns, else None."""
    for argument in server.database_arguments:
        value = arguments.get(argument)
        if value is None or value == "":
            continue
        for name in value if isinstance(value, (list, tuple)) else (value,):
            if user.allowed_databases.first(str(name)) is None:
                allowed = ", ".join(user.allowed_databases.patterns) or "none"
                return Decision(
                    False,
                    STEP_DATABASE,
                    None,
                    f"Database '{name}' (argument '{argument}') "
                    f"is not among your allowed databases ({allowed}).",
                    "database",
                )
    return None


def permitted_tools(
    snapshot: PolicySnapshot, user: UserPolicy, mcp: str | None = None
) -> list[tuple[str, str]]:
    """Every (mcp, tool) the user may call, over the discovered, visible tools, sorted."""
    names = [mcp] if mcp is not None else sorted(snapshot.mcps)
    found = []
    for name in names:
        server = snapshot.mcps.get(name)
        if server is not None and server.enabled:
            found.extend((name, tool) for tool in _permitted_on(snapshot, user, server))
    return found


def profile_allows(snapshot: PolicySnapshot, profile: str | None, mcp: str, tool: str) -> bool:
    """Whether ``profile`` (None: no profile) lets ``mcp.tool`` through. An unknown profile lets
    nothing through: a name that no longer exists must never widen what a caller sees."""
    if profile is None:
        return True
    found = snapshot.profiles.get(profile)
    return found is not None and found.allows(mcp, tool)


def profile_narrow(
    snapshot: PolicySnapshot, profile: str | None, permitted: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The (mcp, tool) pairs of ``permitted`` that ``profile`` keeps, in order: a profile only
    ever removes tools, it never adds one the policy denies."""
    return [(mcp, tool) for mcp, tool in permitted if profile_allows(snapshot, profile, mcp, tool)]


def _permitted_on(snapshot: PolicySnapshot, user: UserPolicy, server: McpPolicy) -> tuple[str, ...]:
    override = user.overrides.get(server.name)
    if override is not None and override.mode != INHERIT:
        return _allowed_tools(snapshot, user, server)
    # Without an override the answer depends on the role alone, so everyone with
    # that role shares it: the full list stays fast for a thousand users.
    key = (server.name, user.role, user.is_admin, user.is_super_admin)
    tools = snapshot.memo.get(key)
    if tools is None:
        tools = snapshot.memo[key] = _allowed_tools(snapshot, user, server)
    return tools


def _allowed_tools(
    snapshot: PolicySnapshot, user: UserPolicy, server: McpPolicy
) -> tuple[str, ...]:
    facts = server.facts
    return tuple(
        tool for tool in server.tools if _steps(snapshot, user, server, tool, facts[tool])[0]
    )


def explain(
    snapshot: PolicySnapshot, user: UserPolicy, mcp: str, tools: Iterable[str] = ()
) -> list[tuple[str, Decision]]:
    """A decision for every known tool of ``mcp`` (hidden ones too) plus any ``tools`` named."""
    server = snapshot.mcps.get(mcp)
    names = sorted(set(server.known_tools if server else ()) | set(tools))
    return [(tool, decide(snapshot, user, mcp, tool)) for tool in names]
