"""validate_policy, add_user and load_demo, as a newcomer runs them."""

import re

import pytest
from django.core.management import CommandError, call_command

from permissions.models import McpServer, User
from permissions.policy.snapshot import policy_snapshot
from permissions.services import discovered_tools_sync

pytestmark = pytest.mark.django_db

LINE = re.compile(r"^(\S+) (ALLOW|DENY) step=(\d) pattern=(\S+) (.+)$")


def run(*args, **options) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue().splitlines()


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # what `make run` sets for the demo
    call_command("load_demo", stdout=None)
    server = McpServer.objects.get(name="database_mcp")
    discovered_tools_sync(
        server=server,
        tools=[
            {"name": n}
            for n in (
                "list_available_databases",
                "get_database_health",
                "get_top_queries",
                "get_performance_trends",
                "analyze_mysql_query",
                "analyze_postgres_query",
                "compare_mysql_query_plans",
                "compare_postgres_query_plans",
            )
        ],
    )


def test_validate_policy_prints_one_line_per_tool_with_step_and_pattern(demo):
    lines = run("validate_policy", user="junior.dba@company.com", mcp="database_mcp")
    assert len(lines) == 8 and all(LINE.match(line) for line in lines)
    parsed = {m[1]: (m[2], m[3], m[4]) for m in map(LINE.match, lines)}
    assert parsed["compare_mysql_query_plans"] == ("DENY", "3", "compare_*_plans")
    assert parsed["get_top_queries"] == ("ALLOW", "4", "get_*")


def test_validate_policy_explains_a_tool_not_discovered_yet(demo):
    lines = run(
        "validate_policy",
        user="senior.dev@company.com",
        mcp="database_mcp",
        tool="compare_oracle_query_plans",
    )
    assert lines == [
        "compare_oracle_query_plans ALLOW step=4 pattern=compare_*_query_plans "
        "Your override for database_mcp grants it."
    ]


def test_validate_policy_without_an_mcp_covers_every_server_as_mcp_dot_tool(demo):
    lines = run("validate_policy", user="nobody@elsewhere.com", tool="get_top_queries")
    assert [line.split()[0] for line in lines] == [
        "database_mcp.get_top_queries",
        "github_mcp.get_top_queries",
        "omni2_analytics_mcp.get_top_queries",
        "qa_mcp.get_top_queries",
    ]
    assert lines[1].split()[1:3] == ["DENY", "step=1"]  # github_mcp is disabled in the demo


def test_add_user_creates_a_user_and_refuses_duplicates_and_unknown_roles():
    run(
        "add_user",
        email="Eve@X.com",
        role="analyst",
        name="Eve",
        slack_id="U42",
        databases="dwh, reporting_*",
    )
    eve = User.objects.get(email="eve@x.com")
    assert (eve.role.name, eve.name, eve.slack_user_id, eve.allowed_databases) == (
        "analyst",
        "Eve",
        "U42",
        ["dwh", "reporting_*"],
    )
    assert policy_snapshot().user(slack_user_id="U42").email == "eve@x.com"
    with pytest.raises(CommandError, match="already exists"):
        run("add_user", email="eve@x.com", role="analyst")
    with pytest.raises(CommandError, match="Unknown role 'dbaa'"):
        run("add_user", email="new@x.com", role="dbaa")
    with pytest.raises(CommandError, match="whitespace"):
        run("add_user", email="new@x.com", role="analyst", databases="a b")


def test_load_demo_fills_an_empty_database_once(settings):
    settings.DEBUG = True  # what `make run` sets for the demo
    run("load_demo")
    admin = User.objects.get(email="admin@example.com")
    assert admin.check_password("admin") and admin.role.name == "super_admin" and admin.is_superuser
    assert set(McpServer.objects.values_list("name", flat=True)) == {
        "omni2_analytics_mcp",
        "database_mcp",
        "qa_mcp",
        "github_mcp",
    }
    assert (
        User.objects.filter(
            email__in=[
                "junior.dba@company.com",
                "senior.dev@company.com",
                "contractor@partner.com",
                "dba@company.com",
            ]
        ).count()
        == 4
    )
    assert run("load_demo") == ["Database already has users; demo data not loaded."]


def test_load_demo_refuses_without_debug_and_creates_no_admin(settings):
    settings.DEBUG = False  # a deployment's default
    with pytest.raises(CommandError, match="only in the embedded demo"):
        run("load_demo")
    assert not User.objects.filter(email="admin@example.com").exists()
    assert not McpServer.objects.exists()


def test_the_demo_keeps_analytics_for_admins(demo):
    server = McpServer.objects.get(name="omni2_analytics_mcp")
    discovered_tools_sync(
        server=server, tools=[{"name": "get_cost_summary"}, {"name": "get_failed_queries"}]
    )
    words = {
        email: run(
            "validate_policy", user=email, mcp="omni2_analytics_mcp", tool="get_cost_summary"
        )[0].split()[1]
        for email in (
            "platform.admin@company.com",
            "dba@company.com",
            "analyst@company.com",
            "junior.dba@company.com",
            "stranger@x.com",
        )
    }
    assert words == {
        "platform.admin@company.com": "ALLOW",
        "dba@company.com": "DENY",
        "analyst@company.com": "DENY",
        "junior.dba@company.com": "ALLOW",
        "stranger@x.com": "DENY",
    }
    failed = run(
        "validate_policy",
        user="junior.dba@company.com",
        mcp="omni2_analytics_mcp",
        tool="get_failed_queries",
    )
    assert failed[0].split()[1:3] == ["DENY", "step=4"]


def test_validate_policy_says_when_a_whole_server_is_admin_only(demo):
    server = McpServer.objects.get(name="omni2_analytics_mcp")
    discovered_tools_sync(server=server, tools=[{"name": "get_cost_summary"}])
    [line] = run("validate_policy", user="dba@company.com", mcp="omni2_analytics_mcp")
    assert line == (
        "get_cost_summary DENY step=3 pattern=* Every tool of omni2_analytics_mcp is admin-only "
        "and role 'dba' is not an admin role."
    )


def test_a_role_added_after_the_demo_does_not_get_analytics(demo, make_user):
    from permissions.models import Role

    Role.objects.create(name="auditor")
    make_user(role="auditor", email="new.auditor@company.com")
    server = McpServer.objects.get(name="omni2_analytics_mcp")
    discovered_tools_sync(
        server=server, tools=[{"name": "get_cost_summary"}, {"name": "get_token_usage"}]
    )
    lines = run("validate_policy", user="new.auditor@company.com", mcp="omni2_analytics_mcp")
    assert [line.split()[1:3] for line in lines] == [["DENY", "step=3"], ["DENY", "step=3"]]
