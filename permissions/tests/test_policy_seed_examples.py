"""The seed README's four permission examples and its "Example Resolution", exactly.

The policy is the seed's own YAML (tests/fixtures/), imported through ``import_policy``'s
code path and read through the cached snapshot, so the whole chain is exercised.
"""

import pytest

from permissions.policy.engine import decide, permitted_tools
from permissions.policy.snapshot import policy_snapshot
from permissions.selectors import user_policy_for, user_resolve

pytestmark = pytest.mark.usefixtures("seed_policy")


def decision_for(email, mcp, tool, arguments=None):
    return decide(
        policy_snapshot(), user_policy_for(user_resolve(email=email)), mcp, tool, arguments
    )


def allowed_tools(email, mcp):
    return {
        tool
        for _, tool in permitted_tools(
            policy_snapshot(), user_policy_for(user_resolve(email=email)), mcp
        )
    }


def test_the_example_resolution_denies_the_junior_dba_compare_at_the_admin_only_step():
    decision = decision_for("junior.dba@company.com", "database_mcp", "compare_oracle_query_plans")
    # Seed: "Step 1: global blocks → not in blocked_tools ✓; Step 2: admin-only → DENY (not admin)".
    # SPEC §4.2 numbers the MCP check first, so the admin-only step is 3 here.
    assert not decision.allowed
    assert (decision.step, decision.code, decision.pattern) == (3, "admin_only", "compare_*_plans")
    assert "admin" in decision.reason


def test_example_1_the_junior_dba_monitors_but_runs_nothing_expensive():
    assert allowed_tools("junior.dba@company.com", "database_mcp") == {
        "get_database_health",
        "get_top_queries",
        "get_performance_trends",
        "list_available_databases",
        "analyze_oracle_query",
        "analyze_mysql_query",
    }
    # "All analytics get_ operations" — literally get_*, so get_failed_queries too (the seed's
    # comment hopes otherwise; the demo policy adds a deny list for that) — except the
    # admin-only get_query_history, which get_* is too vague to unlock.
    assert allowed_tools("junior.dba@company.com", "omni2_analytics_mcp") == {
        "get_cost_summary",
        "get_top_expensive_queries",
        "get_slow_queries",
        "get_error_summary",
        "get_failed_queries",
        "get_active_users",
        "get_tool_popularity",
        "get_mcp_health_summary",
    }
    history = decision_for("junior.dba@company.com", "omni2_analytics_mcp", "get_query_history")
    assert (history.allowed, history.step, history.pattern) == (False, 3, "*_history")
    assert allowed_tools("junior.dba@company.com", "github_mcp") == {
        "search_repositories",
        "get_file_contents",
    }


def test_example_1_the_junior_dba_is_held_to_training_and_dev_databases():
    assert decision_for(
        "junior.dba@company.com", "database_mcp", "get_database_health", {"database": "training_db"}
    ).allowed
    denied = decision_for(
        "junior.dba@company.com", "database_mcp", "get_database_health", {"database": "prod_db"}
    )
    assert (denied.allowed, denied.code) == (False, "database")
    assert "prod_db" in denied.reason


def test_example_2_the_senior_developer_tunes_queries_including_the_special_grant():
    assert allowed_tools("senior.dev@company.com", "database_mcp") == {
        "get_database_health",
        "get_top_queries",
        "analyze_oracle_query",
        "analyze_mysql_query",
        "compare_oracle_query_plans",
        "compare_mysql_query_plans",
    }
    trends = decision_for("senior.dev@company.com", "database_mcp", "get_performance_trends")
    assert (trends.allowed, trends.step, trends.pattern) == (False, 4, "get_performance_trends")
    assert decision_for(
        "senior.dev@company.com", "database_mcp", "get_top_queries", {"database": "any_db"}
    ).allowed


def test_example_2_the_senior_developer_inherits_role_defaults_elsewhere():
    github = decision_for("senior.dev@company.com", "github_mcp", "get_file_contents")
    assert (github.allowed, github.step, github.code) == (True, 6, "default")


def test_example_3_the_contractor_lists_and_checks_health_on_the_test_database_only():
    assert allowed_tools("contractor@partner.com", "database_mcp") == {
        "list_available_databases",
        "get_database_health",
    }
    assert decision_for(
        "contractor@partner.com", "database_mcp", "get_database_health", {"database": "test_db"}
    ).allowed
    assert not decision_for(
        "contractor@partner.com", "database_mcp", "get_database_health", {"database": "dev_db"}
    ).allowed
    assert allowed_tools("contractor@partner.com", "omni2_analytics_mcp") == set()
    assert allowed_tools("contractor@partner.com", "github_mcp") == {"search_repositories"}


def test_example_4_the_dba_inherits_every_database_tool_except_the_admin_only_ones():
    # SPEC §4.2 step 3 holds for every non-admin role, so the DBA's allow_all stops at
    # compare_*_plans; the seed's "full access" predates that rule.
    assert allowed_tools("dba@company.com", "database_mcp") == {
        "list_available_databases",
        "get_database_health",
        "get_top_queries",
        "get_performance_trends",
        "analyze_oracle_query",
        "analyze_mysql_query",
    }
    health = decision_for(
        "dba@company.com", "database_mcp", "get_database_health", {"database": "prod_db"}
    )
    assert (health.allowed, health.step, health.code) == (True, 5, "role")
    compare = decision_for("dba@company.com", "database_mcp", "compare_mysql_query_plans")
    assert (compare.allowed, compare.step) == (False, 3)
