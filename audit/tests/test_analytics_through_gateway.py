"""omni2_analytics_mcp reached through POST /api/mcp/tools/call under the demo policy (config/demo/).

The demo declares it as a stdio server (``python manage.py run_analytics_mcp --transport stdio``);
OMNI2's own pool starts it, pointed at the test database, so these tests are transactional.
"""

import io

import pytest
from django.conf import settings
from django.core.management import call_command

from audit.models import AuditLog
from audit.tests.test_analytics_seed import seed_audit_trail
from orchestration.mcp.discovery import mcp_tools_refresh
from orchestration.mcp.pool import close_pool

pytestmark = pytest.mark.django_db(transaction=True)
DEMO = settings.BASE_DIR / "config" / "demo"
MCP = "omni2_analytics_mcp"


@pytest.fixture(scope="module", autouse=True)
def _stdio_server_ends_with_the_module():
    # The pool keeps the stdio server (and its database connection) between tests; it must be
    # gone before the test database is dropped.
    yield
    close_pool()


@pytest.fixture
def demo_policy(roles):
    call_command(
        "import_policy",
        "--mcps",
        str(DEMO / "mcps.yaml"),
        "--users",
        str(DEMO / "users.yaml"),
        stdout=io.StringIO(),
    )
    [refreshed] = mcp_tools_refresh(names=[MCP])
    assert refreshed == {"name": MCP, "ok": True, "tools": 11, "error": ""}


def call(client, tool, arguments=None):
    return client.post(
        "/api/mcp/tools/call",
        {"mcp": MCP, "tool": tool, "arguments": arguments or {}},
        format="json",
    )


def test_an_admin_gets_the_cost_summary(demo_policy, make_user, authed_client):
    seed_audit_trail(make_user)
    response = call(
        authed_client(role="admin"), "get_cost_summary", {"period": "today", "group_by": "model"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert (body["result"]["requests"], body["result"]["cost_usd"]) == (6, 0.02788)
    assert body["result"]["groups"][0]["model"] == "claude-sonnet-4-5"
    audit = AuditLog.objects.get(pk=body["audit_id"])
    assert audit.status == "success" and audit.tools_called == [f"{MCP}.get_cost_summary"]


@pytest.mark.parametrize("role", ["read_only", "dba", "contractor", "analyst"])
def test_other_roles_are_denied_analytics(demo_policy, authed_client, role):
    client = authed_client(role=role)
    response = call(client, "get_cost_summary", {"period": "week"})
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"
    denial = AuditLog.objects.get(user=client.user)
    assert denial.status == "denied" and denial.tools_called == []


def test_only_admins_see_the_analytics_tools(demo_policy, authed_client):
    def listed(role):
        response = authed_client(role=role).get(f"/api/mcp/tools/list?mcp={MCP}")
        assert response.status_code == 200, response.content
        return {tool["name"] for tool in response.json()["tools"]}

    assert len(listed("admin")) == len(listed("super_admin")) == 11
    assert listed("read_only") == set()


def test_a_bad_period_is_refused_before_the_server_is_called(demo_policy, authed_client):
    response = call(authed_client(role="admin"), "get_slow_queries", {"period": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_non_admin_granted_analytics_by_override_sees_only_their_own_rows(
    demo_policy, make_user, authed_client
):
    from audit.services import ToolCallRecord, audit_record
    from permissions.models import User

    seed_audit_trail(make_user)  # alice, bob and carol: six requests today
    junior = User.objects.get(email="junior.dba@company.com")  # custom override: analytics get_*
    audit_record(
        user=junior,
        source="api",
        status="error",
        message="junior's question",
        error="boom",
        duration_ms=100_000,
        tool_calls=[
            ToolCallRecord(mcp="database_mcp", tool="get_top_queries", status="error", error="boom")
        ],
    )
    client = authed_client(user=junior)

    summary = call(client, "get_cost_summary", {"period": "today", "group_by": "user"}).json()
    assert summary["success"] is True, summary
    assert summary["result"]["requests"] == 1
    assert [group["user_email"] for group in summary["result"]["groups"]] == [
        "junior.dba@company.com"
    ]
    assert summary["result"]["period"]["only_user"] == "junior.dba@company.com"
    slow = call(client, "get_slow_queries", {"period": "today", "limit": 100}).json()["result"]
    assert {row["user_email"] for row in slow["queries"]} == {"junior.dba@company.com"}
    assert (
        call(client, "get_slow_queries", {"period": "today", "user": "alice@example.com"}).json()[
            "result"
        ]["queries"]
        == []
    )
    tools = call(client, "get_tool_popularity", {"period": "today"}).json()["result"]["tools"]
    assert {(row["mcp"], row["tool"]) for row in tools} <= {
        ("database_mcp", "get_top_queries"),
        (MCP, "get_cost_summary"),
        (MCP, "get_slow_queries"),
    }


def test_an_admin_still_sees_every_user_s_rows(demo_policy, make_user, authed_client):
    seed_audit_trail(make_user)
    summary = call(
        authed_client(role="admin"), "get_cost_summary", {"period": "today", "group_by": "user"}
    ).json()
    assert {group["user_email"] for group in summary["result"]["groups"]} == {
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    }
    assert "only_user" not in summary["result"]["period"]
