"""The analytics figures are exactly those of GET /api/audit/stats for the same period."""

import pytest

from audit.analytics.health import analytics_error_summary, analytics_mcp_health_summary
from audit.analytics.periods import period_resolve
from audit.analytics.spend import analytics_cost_summary, analytics_token_usage
from audit.analytics.usage import analytics_tool_popularity
from audit.tests.test_analytics_seed import seed_audit_trail

pytestmark = pytest.mark.django_db
PERIODS = [("week", 7), ("month", 30), (1, 1), (3650, 3650)]
CALL_FIELDS = ("calls", "errors", "denied", "avg_duration_ms")


@pytest.fixture
def stats(make_user, authed_client):
    seed_audit_trail(make_user)
    admin = authed_client(role="admin")

    def get(days: int) -> dict:
        response = admin.get(f"/api/audit/stats?days={days}")
        assert response.status_code == 200, response.content
        return response.json()

    return get


def only(rows: list[dict], keys) -> list[dict]:
    return [{key: row[key] for key in keys} for row in rows]


@pytest.mark.parametrize(("period", "days"), PERIODS)
def test_totals_and_users_agree(stats, period, days):
    expected = stats(days)
    summary = analytics_cost_summary(
        period=period_resolve(period=period), group_by="user", limit=100
    )
    assert summary["period"]["days"] == days
    for key in ("requests", "errors", "cost_usd", "tokens"):
        assert summary[key] == expected[key], key
    assert summary["groups"] == expected["by_user"]
    assert (
        analytics_token_usage(period=period_resolve(period=period))["tokens"] == expected["tokens"]
    )


@pytest.mark.parametrize(("period", "days"), PERIODS)
def test_mcps_and_tools_agree(stats, period, days):
    expected = stats(days)
    resolved = period_resolve(period=period)
    by_mcp = analytics_cost_summary(period=resolved, group_by="mcp", limit=100)["groups"]
    assert sorted(only(by_mcp, ("mcp", *CALL_FIELDS)), key=lambda row: row["mcp"]) == sorted(
        expected["by_mcp"], key=lambda row: row["mcp"]
    )
    servers = analytics_mcp_health_summary(period=resolved)["servers"]
    assert only(servers, ("mcp", *CALL_FIELDS)) == expected["by_mcp"]
    tools = analytics_tool_popularity(period=resolved, limit=100)["tools"]
    assert only(tools, ("mcp", "tool", *CALL_FIELDS)) == expected["by_tool"]


@pytest.mark.parametrize(("period", "days"), PERIODS)
def test_statuses_agree(stats, period, days):
    expected = stats(days)
    summary = analytics_error_summary(period=period_resolve(period=period))
    assert (summary["requests"], summary["errors"]) == (expected["requests"], expected["errors"])
    assert summary["by_status"] == expected["by_status"]


def test_the_periods_really_differ(stats):
    # Guards the agreement tests: the seed puts rows in each window, so a wrong window shows.
    assert [stats(days)["requests"] for days in (1, 7, 30, 3650)] == [6, 7, 8, 9]
