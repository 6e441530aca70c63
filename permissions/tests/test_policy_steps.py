"""Each step of SPEC §4.2 on its own, on snapshots built from plain policy data (no database)."""

import math

import pytest

from permissions.policy.engine import (
    decide,
    explain,
    pattern_problem,
    permitted_tools,
    snapshot_build,
    specificity,
    visible,
)

ROLES = {"admin": (True, False), "super_admin": (False, True)}


def policy(*, blocked=(), admin_only=(), default="allow", mcps=None, users=(), default_user=None):
    mcps = mcps if mcps is not None else [mcp()]
    return snapshot_build(
        {
            "global": {
                "blocked": list(blocked),
                "admin_only": list(admin_only),
                "default_decision": default,
            },
            "default_user": default_user or {"role": "read_only", "allowed_databases": []},
            "mcps": mcps,
            "users": list(users),
        },
        version="test",
    )


def mcp(
    name="db",
    tools=("get_health", "drop_table", "compare_x_plans"),
    mode="allow_all",
    patterns=(),
    restrictions=None,
    enabled=True,
    database_argument="",
    admin_only=False,
):
    return {
        "name": name,
        "enabled": enabled,
        "tool_mode": mode,
        "tool_patterns": list(patterns),
        "tools": list(tools),
        "role_restrictions": restrictions or {},
        "database_argument": database_argument,
        "admin_only": admin_only,
    }


def user(role="dev", email="u@x.com", overrides=None, databases=("*",), slack=None):
    is_admin, is_super = ROLES.get(role, (False, False))
    return {
        "email": email,
        "role": role,
        "is_admin": is_admin,
        "is_super_admin": is_super,
        "allowed_databases": list(databases),
        "overrides": overrides or {},
        "slack_user_id": slack,
    }


def check(snapshot, tool, *, mcp_name="db", email="u@x.com", arguments=None):
    return decide(snapshot, snapshot.user(email=email), mcp_name, tool, arguments)


# --- step 1: not available ---------------------------------------------------------------------


def test_an_unknown_mcp_is_not_available():
    d = check(policy(users=[user()]), "get_health", mcp_name="nope")
    assert (d.allowed, d.step, d.code) == (False, 1, "not_available")


def test_a_disabled_mcp_is_not_available_even_to_a_super_admin():
    snapshot = policy(mcps=[mcp(enabled=False)], users=[user("super_admin")])
    assert check(snapshot, "get_health").code == "not_available"
    assert permitted_tools(snapshot, snapshot.user(email="u@x.com")) == []


@pytest.mark.parametrize(
    "mode, patterns, hidden",
    [
        ("allow_only", ["get_*"], "drop_table"),
        ("allow_all_except", ["drop_*"], "drop_table"),
    ],
)
def test_a_tool_hidden_by_the_mcp_tool_policy_is_not_available(mode, patterns, hidden):
    snapshot = policy(mcps=[mcp(mode=mode, patterns=patterns)], users=[user("super_admin")])
    d = check(snapshot, hidden)
    assert (d.allowed, d.step, d.code) == (False, 1, "not_available")
    assert check(snapshot, "get_health").allowed
    assert not visible(snapshot, "db", hidden) and visible(snapshot, "db", "get_health")


def test_an_undiscovered_tool_is_decided_by_the_rules_but_is_not_visible():
    snapshot = policy(users=[user()])
    assert check(snapshot, "get_new_thing").allowed
    assert not visible(snapshot, "db", "get_new_thing")


# --- step 2: blocked -----------------------------------------------------------------------------


def test_a_blocked_tool_is_denied_even_to_an_admin():
    snapshot = policy(blocked=["drop_*"], users=[user("admin", overrides={"db": {"mode": "all"}})])
    d = check(snapshot, "drop_table")
    assert (d.allowed, d.step, d.pattern, d.code) == (False, 2, "drop_*", "blocked")


def test_a_super_admin_passes_the_blocked_step():
    d = check(policy(blocked=["drop_*"], users=[user("super_admin")]), "drop_table")
    assert (d.allowed, d.step) == (True, 6)


# --- step 3: admin-only and the specificity rule ----------------------------------------------------


def test_an_admin_only_tool_is_denied_to_a_plain_role():
    d = check(policy(admin_only=["compare_*"], users=[user()]), "compare_x_plans")
    assert (d.allowed, d.step, d.pattern, d.code) == (False, 3, "compare_*", "admin_only")


@pytest.mark.parametrize("role", ["admin", "super_admin"])
def test_admin_roles_pass_the_admin_only_step(role):
    d = check(policy(admin_only=["compare_*"], users=[user(role)]), "compare_x_plans")
    assert (d.allowed, d.step) == (True, 6)


def test_a_more_specific_custom_grant_lifts_admin_only():
    # The seed's senior developer: compare_*_query_plans (20 literal chars) ≥ compare_*_plans (14).
    snapshot = policy(
        admin_only=["compare_*_plans"],
        mcps=[mcp(tools=["compare_oracle_query_plans"])],
        users=[user(overrides={"db": {"mode": "custom", "tools": ["compare_*_query_plans"]}})],
    )
    d = check(snapshot, "compare_oracle_query_plans")
    assert (d.allowed, d.step, d.pattern) == (True, 4, "compare_*_query_plans")


def test_a_less_specific_custom_grant_does_not_lift_admin_only():
    # The seed's junior DBA: get_* (4) does not unlock *_history (8).
    snapshot = policy(
        admin_only=["*_history"],
        mcps=[mcp(tools=["get_query_history"])],
        users=[user(overrides={"db": {"mode": "custom", "tools": ["get_*"]}})],
    )
    d = check(snapshot, "get_query_history")
    assert (d.allowed, d.step, d.pattern) == (False, 3, "*_history")
    assert "get_*" in d.reason


def test_an_equally_specific_grant_lifts_admin_only_and_an_exact_name_always_does():
    snapshot = policy(
        admin_only=["get_*_x"],
        mcps=[mcp(tools=["get_a_x"])],
        users=[
            user(email="a@x.com", overrides={"db": {"mode": "custom", "tools": ["get_?_x"]}}),
            user(email="b@x.com", overrides={"db": {"mode": "custom", "tools": ["get_a_x"]}}),
        ],
    )
    assert check(snapshot, "get_a_x", email="a@x.com").allowed
    assert check(snapshot, "get_a_x", email="b@x.com").allowed


def test_mode_all_does_not_lift_admin_only():
    snapshot = policy(admin_only=["compare_*"], users=[user(overrides={"db": {"mode": "all"}})])
    assert check(snapshot, "compare_x_plans").step == 3


def test_the_strictest_matching_admin_only_pattern_is_the_one_to_beat():
    snapshot = policy(
        admin_only=["*_plans", "compare_x_*"],
        mcps=[mcp(tools=["compare_x_plans"])],
        users=[user(overrides={"db": {"mode": "custom", "tools": ["compare_*"]}})],
    )
    d = check(snapshot, "compare_x_plans")
    assert (d.allowed, d.step, d.pattern) == (False, 3, "compare_x_*")


# --- step 3 for a whole MCP: admin_only: true ----------------------------------------------------------


def test_every_tool_of_an_admin_only_mcp_is_denied_to_a_role_nobody_wrote_a_rule_for():
    snapshot = policy(mcps=[mcp(admin_only=True)], users=[user("brand_new_role")])
    d = check(snapshot, "get_health")
    assert (d.allowed, d.step, d.pattern, d.code) == (False, 3, "*", "admin_only")
    assert "Every tool of db is admin-only" in d.reason
    assert permitted_tools(snapshot, snapshot.user(email="u@x.com")) == []
    assert check(snapshot, "get_not_discovered_yet").step == 3


@pytest.mark.parametrize("role", ["admin", "super_admin"])
def test_admins_keep_every_tool_of_an_admin_only_mcp(role):
    snapshot = policy(mcps=[mcp(admin_only=True)], users=[user(role)])
    assert check(snapshot, "get_health").allowed
    assert len(permitted_tools(snapshot, snapshot.user(email="u@x.com"))) == 3


def test_a_role_rule_allowing_all_does_not_open_an_admin_only_mcp():
    snapshot = policy(
        mcps=[mcp(admin_only=True, restrictions={"dev": {"mode": "allow_all", "patterns": []}})],
        users=[user("dev"), user("dev", email="v@x.com", overrides={"db": {"mode": "inherit"}})],
    )
    assert check(snapshot, "get_health").step == 3
    assert check(snapshot, "get_health", email="v@x.com").step == 3


def test_a_custom_override_naming_a_tool_of_an_admin_only_mcp_grants_it_and_mode_all_does_not():
    snapshot = policy(
        mcps=[mcp(admin_only=True)],
        users=[
            user(overrides={"db": {"mode": "custom", "tools": ["get_*"], "deny": []}}),
            user(email="all@x.com", overrides={"db": {"mode": "all"}}),
        ],
    )
    granted = check(snapshot, "get_health")
    assert (granted.allowed, granted.step, granted.pattern) == (True, 4, "get_*")
    assert check(snapshot, "drop_table").step == 3  # not named by the override: still admin-only
    assert check(snapshot, "get_health", email="all@x.com").step == 3


def test_on_an_admin_only_mcp_a_global_admin_only_pattern_still_sets_the_bar():
    snapshot = policy(
        admin_only=["compare_x_*"],
        mcps=[mcp(admin_only=True)],
        users=[user(overrides={"db": {"mode": "custom", "tools": ["compare_*"]}})],
    )
    d = check(snapshot, "compare_x_plans")
    assert (d.allowed, d.step, d.pattern) == (False, 3, "compare_x_*")


# --- step 4: the user's override ---------------------------------------------------------------------


def test_override_all_grants_every_tool_over_a_denying_role():
    snapshot = policy(
        mcps=[mcp(restrictions={"dev": {"mode": "deny", "patterns": ["*"]}})],
        users=[user(overrides={"db": {"mode": "all"}})],
    )
    d = check(snapshot, "get_health")
    assert (d.allowed, d.step, d.code) == (True, 4, "override")


def test_override_custom_allows_what_it_lists_minus_what_it_denies():
    snapshot = policy(
        mcps=[mcp(tools=["get_a", "get_b", "list_c"])],
        users=[user(overrides={"db": {"mode": "custom", "tools": ["get_*"], "deny": ["get_b"]}})],
    )
    assert check(snapshot, "get_a").allowed
    denied, unlisted = check(snapshot, "get_b"), check(snapshot, "list_c")
    assert (denied.allowed, denied.step, denied.pattern) == (False, 4, "get_b")
    assert (unlisted.allowed, unlisted.step, unlisted.pattern) == (False, 4, None)


def test_override_custom_with_no_tools_blocks_the_mcp():
    snapshot = policy(users=[user(overrides={"db": {"mode": "custom", "tools": []}})])
    assert permitted_tools(snapshot, snapshot.user(email="u@x.com")) == []
    assert "no tools" in check(snapshot, "get_health").reason


def test_override_inherit_falls_through_to_the_role():
    snapshot = policy(
        mcps=[mcp(restrictions={"dev": {"mode": "allow_only", "patterns": ["list_*"]}})],
        users=[user(overrides={"db": {"mode": "inherit"}})],
    )
    assert check(snapshot, "get_health").step == 5


# --- step 5: role restrictions; step 6: the default --------------------------------------------------


@pytest.mark.parametrize(
    "mode, patterns, tool, allowed",
    [
        ("allow_all", [], "drop_table", True),
        ("allow_only", ["get_*"], "get_health", True),
        ("allow_only", ["get_*"], "drop_table", False),
        ("deny", ["drop_*"], "drop_table", False),
        ("deny", ["drop_*"], "get_health", True),
    ],
)
def test_role_restrictions(mode, patterns, tool, allowed):
    snapshot = policy(
        default="deny",
        mcps=[mcp(restrictions={"dev": {"mode": mode, "patterns": patterns}})],
        users=[user()],
    )
    d = check(snapshot, tool)
    assert (d.allowed, d.step, d.code) == (allowed, 5, "role")


def test_a_restriction_for_another_role_does_not_apply():
    snapshot = policy(
        mcps=[mcp(restrictions={"ops": {"mode": "deny", "patterns": ["*"]}})], users=[user()]
    )
    assert check(snapshot, "get_health").step == 6


@pytest.mark.parametrize("default, allowed", [("allow", True), ("deny", False)])
def test_the_default_decision(default, allowed):
    d = check(policy(default=default, users=[user()]), "get_health")
    assert (d.allowed, d.step, d.code) == (allowed, 6, "default")


# --- allowed_databases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("argument", ["database", "database_name", "db", "db_name"])
def test_every_default_database_argument_is_checked(argument):
    snapshot = policy(users=[user(databases=["dev_*"])])
    assert check(snapshot, "get_health", arguments={argument: "dev_1"}).allowed
    d = check(snapshot, "get_health", arguments={argument: "prod"})
    assert (d.allowed, d.step, d.code) == (False, 7, "database")


def test_a_configured_database_argument_replaces_the_default_names():
    snapshot = policy(mcps=[mcp(database_argument="target")], users=[user(databases=["dev"])])
    assert not check(snapshot, "get_health", arguments={"target": "prod"}).allowed
    assert check(snapshot, "get_health", arguments={"target": "dev", "database": "prod"}).allowed


def test_a_list_of_databases_must_all_be_allowed_and_none_means_no_database():
    snapshot = policy(users=[user(databases=["a", "b"])])
    assert check(snapshot, "get_health", arguments={"database": ["a", "b"]}).allowed
    assert not check(snapshot, "get_health", arguments={"database": ["a", "c"]}).allowed
    assert check(snapshot, "get_health", arguments={"database": None, "query": "x"}).allowed


def test_no_allowed_databases_means_none_and_admins_have_all():
    snapshot = policy(
        users=[user(email="n@x.com", databases=[]), user("admin", email="a@x.com", databases=[])]
    )
    assert not check(snapshot, "get_health", email="n@x.com", arguments={"db": "x"}).allowed
    assert check(snapshot, "get_health", email="a@x.com", arguments={"db": "x"}).allowed


def test_a_denied_tool_stays_denied_whatever_the_database():
    d = check(policy(blocked=["get_*"], users=[user()]), "get_health", arguments={"database": "x"})
    assert d.code == "blocked"


# --- identities ----------------------------------------------------------------------------------------------


def test_an_unknown_identity_is_the_default_user():
    snapshot = policy(
        mcps=[mcp(restrictions={"read_only": {"mode": "allow_only", "patterns": ["get_*"]}})],
        default_user={"role": "read_only", "allowed_databases": ["demo"]},
        users=[user()],
    )
    nobody = snapshot.user(email="who@else.com", slack_user_id="U404")
    assert nobody is snapshot.default_user
    assert decide(snapshot, nobody, "db", "get_health", {"database": "demo"}).allowed
    assert not decide(snapshot, nobody, "db", "drop_table").allowed
    assert not decide(snapshot, nobody, "db", "get_health", {"database": "prod"}).allowed


def test_users_are_found_by_slack_id_or_case_insensitive_email():
    snapshot = policy(users=[user(email="Dee@X.com", slack="U1")])
    assert snapshot.user(slack_user_id="U1").email == "dee@x.com"
    assert snapshot.user(email="DEE@x.COM").email == "dee@x.com"


# --- patterns and explanations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("compare_*_plans", 14),
        ("compare_*_query_plans", 20),
        ("get_*", 4),
        ("*_history", 8),
        ("*", 0),
        ("get_?", 4),
        ("get_[ab]x", 5),
        ("get_[!a]", 4),
        ("get_health", math.inf),
        ("a[b", math.inf),
    ],
)
def test_specificity_counts_the_literal_characters(pattern, expected):
    assert specificity(pattern) == expected


@pytest.mark.parametrize("pattern", ["", "get *", " get_*", "get_*\t", "get.x", "get/x", "ünï"])
def test_bad_patterns_are_refused(pattern):
    assert pattern_problem(pattern) is not None


def test_database_patterns_may_hold_dots():
    assert pattern_problem("orcl.world", database=True) is None


def test_explain_covers_every_known_tool_hidden_ones_included_plus_named_extras():
    snapshot = policy(mcps=[mcp(mode="allow_all_except", patterns=["drop_*"])], users=[user()])
    rows = dict(explain(snapshot, snapshot.user(email="u@x.com"), "db", ["brand_new"]))
    assert set(rows) == {"get_health", "drop_table", "compare_x_plans", "brand_new"}
    assert rows["drop_table"].code == "not_available" and rows["brand_new"].allowed


def test_permitted_tools_lists_visible_allowed_tools_in_order():
    snapshot = policy(
        blocked=["drop_*"],
        mcps=[mcp("b", tools=["z", "a"]), mcp("a", tools=["drop_it", "get"])],
        users=[user()],
    )
    assert permitted_tools(snapshot, snapshot.user(email="u@x.com")) == [
        ("a", "get"),
        ("b", "a"),
        ("b", "z"),
    ]
    assert permitted_tools(snapshot, snapshot.user(email="u@x.com"), "b") == [
        ("b", "a"),
        ("b", "z"),
    ]
