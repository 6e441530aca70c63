"""Fixtures for the permissions tests: seed policy files, admin clients, a second process."""

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# The tools the seed's README lists per MCP, plus one admin-only *_history tool.
SEED_TOOLS = {
    "database_mcp": [
        "list_available_databases",
        "get_database_health",
        "get_top_queries",
        "get_performance_trends",
        "analyze_oracle_query",
        "analyze_mysql_query",
        "compare_oracle_query_plans",
        "compare_mysql_query_plans",
    ],
    "omni2_analytics_mcp": [
        "get_cost_summary",
        "get_top_expensive_queries",
        "get_slow_queries",
        "get_error_summary",
        "get_failed_queries",
        "get_active_users",
        "get_tool_popularity",
        "get_mcp_health_summary",
        "get_query_history",
    ],
    "github_mcp": ["search_repositories", "get_file_contents"],
}


@pytest.fixture(autouse=True)
def fresh_policy_version(django_db_setup, django_db_blocker):
    """Each test starts from a policy version no earlier test has filled (stored outside the
    test's own transaction, so its rollback cannot bring an old version back)."""
    from permissions.policy.snapshot import policy_invalidate

    with django_db_blocker.unblock():
        policy_invalidate()
    yield
    with django_db_blocker.unblock():
        policy_invalidate()


@pytest.fixture
def seed_policy(db):
    """The seed's README policy (global rules, database_mcp restrictions, the four example
    users) imported from YAML, with the seed's tools discovered."""
    from permissions.models import McpServer
    from permissions.policy.yaml_io import policy_import
    from permissions.policy.yaml_spec import mcps_file_parse, users_file_parse
    from permissions.services import discovered_tools_sync

    policy_import(
        mcps=mcps_file_parse(FIXTURES / "seed_mcps.yaml"),
        users=users_file_parse(FIXTURES / "seed_users.yaml"),
    )
    for name, tools in SEED_TOOLS.items():
        discovered_tools_sync(
            server=McpServer.objects.get(name=name), tools=[{"name": t} for t in tools]
        )


@pytest.fixture
def admin_client(db, client):
    from permissions.models import User

    staff = User.objects.create_superuser("root@example.com", "pw", name="Root")
    client.force_login(staff)
    return client


@pytest.fixture
def write_yaml(tmp_path):
    """``write_yaml(name, text) -> path`` of a policy file in a temporary directory."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
