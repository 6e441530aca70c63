"""Every analytics report against the seeded trail of test_analytics_seed (known answers)."""

import json

import pytest

from audit.analytics.health import analytics_error_summary, analytics_mcp_health_summary
from audit.analytics.periods import period_resolve
from audit.analytics.requests import (
    analytics_failed_queries,
    analytics_high_iteration_queries,
    analytics_slow_queries,
    analytics_top_expensive_queries,
)
from audit.analytics.spend import (
    analytics_cache_hit_rate,
    analytics_cost_summary,
    analytics_token_usage,
)
from audit.analytics.usage import analytics_active_users, analytics_tool_popularity
from audit.tests.test_analytics_seed import HAIKU, SONNET, TIMEOUT_ERROR, seed_audit_trail

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(make_user):
    return seed_audit_trail(make_user)


def today():
    return period_resolve(period="today")


def ids(trail, *names):
    return [trail["rows"][name].pk for name in names]


@pytest.mark.parametrize(
    ("period", "requests", "errors", "cost", "tokens"),
    [
        (
            "today",
            6,
            1,
            0.02788,
            {"input": 3600, "output": 1600, "cache_read": 15000, "cache_write": 2000},
        ),
        (
            "week",
            7,
            2,
            0.03088,
            {"input": 4600, "output": 1600, "cache_read": 15000, "cache_write": 2000},
        ),
        (
            "month",
            8,
            2,
            0.04288,
            {"input": 14600, "output": 2600, "cache_read": 15000, "cache_write": 2000},
        ),
        (
            3650,
            9,
            2,
            3.04288,
            {"input": 1014600, "output": 2600, "cache_read": 15000, "cache_write": 2000},
        ),
    ],
)
def test_cost_summary_totals_follow_the_period(trail, period, requests, errors, cost, tokens):
    summary = analytics_cost_summary(period=period_resolve(period=period))
    assert (summary["requests"], summary["errors"], summary["cost_usd"]) == (requests, errors, cost)
    assert summary["tokens"] == tokens
    assert summary["average_cost_usd"] == round(cost / requests, 6)


def test_cost_summary_by_user(trail):
    summary = analytics_cost_summary(period=today(), group_by="user")
    assert summary["groups"] == [
        {"user_email": "alice@example.com", "requests": 2, "errors": 0, "cost_usd": 0.0266},
        {"user_email": "carol@example.com", "requests": 1, "errors": 0, "cost_usd": 0.00088},
        {"user_email": "bob@example.com", "requests": 3, "errors": 1, "cost_usd": 0.0004},
    ]
    assert (summary["group_by"], summary["groups_total"]) == ("user", 3)


def test_cost_summary_by_model(trail):
    groups = analytics_cost_summary(period=today(), group_by="model")["groups"]
    assert [(g["model"], g["requests"], g["errors"], g["cost_usd"]) for g in groups] == [
        (SONNET, 1, 0, 0.021),
        (HAIKU, 3, 1, 0.00688),
        ("", 2, 0, 0.0),
    ]
    assert groups[1]["tokens"] == {
        "input": 1600,
        "output": 600,
        "cache_read": 15000,
        "cache_write": 2000,
    }


def test_cost_summary_by_mcp_counts_a_request_toward_each_mcp_it_used(trail):
    groups = analytics_cost_summary(period=today(), group_by="mcp")["groups"]
    assert [
        (g["mcp"], g["requests"], g["cost_usd"], g["calls"], g["errors"], g["denied"])
        for g in groups
    ] == [
        ("database_mcp", 3, 0.027, 4, 1, 0),
        ("qa_mcp", 2, 0.02188, 2, 1, 0),
        ("github_mcp", 1, 0.0056, 1, 0, 0),
        ("omni2_analytics_mcp", 0, 0.0, 1, 0, 1),
    ]
    assert groups[0]["avg_duration_ms"] == 7725.0


def test_a_limit_cuts_the_groups_but_says_how_many_there_were(trail):
    summary = analytics_cost_summary(period=today(), group_by="mcp", limit=2)
    assert [g["mcp"] for g in summary["groups"]] == ["database_mcp", "qa_mcp"]
    assert summary["groups_total"] == 4


def test_top_expensive_queries(trail):
    report = analytics_top_expensive_queries(period=today())
    assert [q["id"] for q in report["queries"]] == ids(trail, "R2", "R1", "R6", "R3")
    first = report["queries"][0]
    assert (first["cost_usd"], first["share_of_period_cost"], first["user_email"]) == (
        0.021,
        0.7532,
        "alice@example.com",
    )
    assert first["tools_called"] == ["database_mcp.get_top_queries", "qa_mcp.compare_csv_files"]
    assert report["period_cost_usd"] == 0.02788


def test_top_expensive_queries_of_one_user_and_a_limit(trail):
    report = analytics_top_expensive_queries(
        period=period_resolve(period=3650), user="BOB@example.com", limit=1
    )
    assert [q["id"] for q in report["queries"]] == ids(trail, "R9")
    assert report["period_cost_usd"] == 3.0004


def test_slow_queries_with_the_periods_percentiles(trail):
    report = analytics_slow_queries(period=today(), min_duration_ms=2000)
    assert [q["id"] for q in report["queries"]] == ids(trail, "R3", "R2", "R6")
    assert report["durations_ms"] == {
        "requests": 6,
        "average": 6951.0,
        "max": 30000,
        "p50": 1200,
        "p95": 30000,
    }


def test_slow_queries_over_a_longer_period(trail):
    report = analytics_slow_queries(period=period_resolve(period=3650), limit=1)
    assert [q["duration_ms"] for q in report["queries"]] == [99999]


def test_high_iteration_queries_mark_the_ones_cut_off_at_the_cap(trail, settings):
    settings.OMNI2_MAX_ITERATIONS = 10
    report = analytics_high_iteration_queries(period=today())
    assert [(q["id"], q["iterations"], q["at_cap"]) for q in report["queries"]] == [
        (trail["rows"]["R2"].pk, 10, True),
        (trail["rows"]["R6"].pk, 4, False),
    ]
    assert (
        report["requests"],
        report["average_iterations"],
        report["matching"],
        report["at_cap"],
    ) == (6, 2.83, 2, 1)
    assert analytics_high_iteration_queries(period=period_resolve(period="week"))["matching"] == 3


def test_failed_queries_come_newest_first_with_their_failed_tool_calls(trail):
    report = analytics_failed_queries(period=today())
    assert [q["id"] for q in report["queries"]] == ids(trail, "R5", "R4", "R3")
    r5, r4, r3 = report["queries"]
    assert r5["failed_tool_calls"] == []
    assert r4["failed_tool_calls"] == [
        {
            "mcp": "omni2_analytics_mcp",
            "tool": "get_cost_summary",
            "status": "denied",
            "error": "",
            "duration_ms": 0,
            "denial_reason": "role read_only may not use omni2_analytics_mcp",
        }
    ]
    assert [(c["tool"], c["status"], c["error"]) for c in r3["failed_tool_calls"]] == [
        ("get_database_health", "timeout", "timed out")
    ]
    assert r3["error"] == TIMEOUT_ERROR and report["matching"] == 3


def test_failed_queries_of_one_status(trail):
    report = analytics_failed_queries(period=period_resolve(period="week"), status="error")
    assert [q["id"] for q in report["queries"]] == ids(trail, "R3", "R7")
    assert (
        analytics_failed_queries(period=today(), status="rate_limited", user="bob@example.com")[
            "matching"
        ]
        == 1
    )


def test_error_summary(trail):
    summary = analytics_error_summary(period=today())
    assert (summary["requests"], summary["errors"], summary["error_rate"]) == (6, 1, 0.1667)
    assert summary["by_status"] == {"denied": 1, "error": 1, "rate_limited": 1, "success": 3}
    assert [
        (t["mcp"], t["tool"], t["errors"], t["denied"], t["error_rate"])
        for t in summary["failing_tools"]
    ] == [
        ("database_mcp", "get_database_health", 1, 0, 0.5),
        ("qa_mcp", "compare_csv_files", 1, 0, 0.5),
        ("omni2_analytics_mcp", "get_cost_summary", 0, 1, None),
    ]
    assert summary["common_errors"] == [{"error": TIMEOUT_ERROR, "count": 1}]
    assert "groups" not in summary
    assert (
        analytics_error_summary(period=period_resolve(period="week"))["common_errors"][0]["count"]
        == 2
    )


def test_error_summary_grouped(trail):
    by_user = analytics_error_summary(period=today(), group_by="user")["groups"]
    assert [(g["user_email"], g["errors"], g["requests"], g["error_rate"]) for g in by_user] == [
        ("bob@example.com", 1, 3, 0.3333),
        ("alice@example.com", 0, 2, 0.0),
        ("carol@example.com", 0, 1, 0.0),
    ]
    by_mcp = analytics_error_summary(period=period_resolve(period="week"), group_by="mcp")["groups"]
    assert [(g["mcp"], g["errors"], g["error_rate"]) for g in by_mcp][:2] == [
        ("database_mcp", 2, 0.4),
        ("qa_mcp", 1, 0.5),
    ]
    by_model = analytics_error_summary(period=today(), group_by="model")["groups"]
    assert by_model[0]["model"] == HAIKU and by_model[0]["errors"] == 1


def test_active_users(trail):
    report = analytics_active_users(period=today())
    assert (report["active_users"], report["requests"]) == (3, 6)
    bob, alice, carol = report["groups"]
    assert (
        bob["user_email"],
        bob["role"],
        bob["requests"],
        bob["errors"],
        bob["denied"],
        bob["rate_limited"],
    ) == ("bob@example.com", "read_only", 3, 1, 1, 1)
    assert (bob["source_api"], bob["source_slack"], bob["source_mcp"], bob["cost_usd"]) == (
        2,
        1,
        0,
        0.0004,
    )
    assert (alice["user_email"], alice["requests"], alice["cost_usd"]) == (
        "alice@example.com",
        2,
        0.0266,
    )
    assert carol["user_email"] == "carol@example.com"
    assert bob["first_seen"] == trail["rows"]["R3"].created_at.isoformat()
    assert bob["last_seen"] == trail["rows"]["R5"].created_at.isoformat()


def test_active_users_by_role(trail):
    groups = analytics_active_users(period=period_resolve(period="week"), group_by="role")["groups"]
    assert [(g["role"], g["users"], g["requests"]) for g in groups] == [
        ("read_only", 1, 3),
        ("dba", 1, 2),
        ("power_user", 1, 2),
    ]


def test_an_active_user_shows_their_latest_role_once(trail, make_user):
    from audit.services import audit_record
    from permissions.models import Role

    alice = trail["alice"]
    alice.role = Role.objects.get(name="admin")
    alice.save()
    audit_record(user=alice, source="api", status="success", message="promoted")
    groups = analytics_active_users(period=today())["groups"]
    assert [
        (g["user_email"], g["role"], g["requests"])
        for g in groups
        if g["user_email"] == alice.email
    ] == [("alice@example.com", "admin", 3)]


def test_tool_popularity(trail):
    report = analytics_tool_popularity(period=today())
    assert report["calls"] == 8 and report["tools_total"] == 5
    assert [
        (t["mcp"], t["tool"], t["calls"], t["users"], t["share"], t["success_rate"])
        for t in report["tools"]
    ] == [
        ("database_mcp", "get_database_health", 2, 2, 0.25, 0.5),
        ("database_mcp", "get_top_queries", 2, 1, 0.25, 1.0),
        ("qa_mcp", "compare_csv_files", 2, 2, 0.25, 0.5),
        ("github_mcp", "search_repositories", 1, 1, 0.125, 1.0),
        ("omni2_analytics_mcp", "get_cost_summary", 1, 1, 0.125, 0.0),
    ]


def test_tool_popularity_of_one_mcp(trail):
    report = analytics_tool_popularity(period=today(), mcp="database_mcp", limit=1)
    assert report["calls"] == 4 and report["tools_total"] == 2
    assert [t["tool"] for t in report["tools"]] == ["get_database_health"]


def test_mcp_health_summary(trail):
    servers = {s["mcp"]: s for s in analytics_mcp_health_summary(period=today())["servers"]}
    assert list(servers) == ["database_mcp", "qa_mcp", "github_mcp", "omni2_analytics_mcp"]
    db = servers["database_mcp"]
    assert (db["calls"], db["errors"], db["error_rate"], db["status"], db["p95_duration_ms"]) == (
        4,
        1,
        0.25,
        "failing",
        30000,
    )
    assert db["by_status"] == {
        "success": 3,
        "error": 0,
        "denied": 0,
        "timeout": 1,
        "unavailable": 0,
    }
    assert (db["last_call"]["tool"], db["last_call"]["status"]) == (
        "get_database_health",
        "timeout",
    )
    assert db["last_error"]["error"] == "timed out"
    assert (servers["github_mcp"]["status"], servers["github_mcp"]["last_error"]) == (
        "healthy",
        None,
    )
    assert (servers["qa_mcp"]["status"], servers["omni2_analytics_mcp"]["status"]) == (
        "failing",
        "idle",
    )


def test_mcp_health_summary_sees_the_older_outage_over_the_week(trail):
    db = analytics_mcp_health_summary(period=period_resolve(period="week"))["servers"][0]
    assert (db["calls"], db["errors"], db["by_status"]["unavailable"], db["error_rate"]) == (
        5,
        2,
        1,
        0.4,
    )


def test_token_usage(trail):
    report = analytics_token_usage(period=today())
    assert (report["requests"], report["total_tokens"], report["cost_usd"]) == (6, 22200, 0.02788)
    assert report["average_per_request"] == {
        "input": 600.0,
        "output": 266.7,
        "cache_read": 2500.0,
        "cache_write": 333.3,
    }
    assert [(g["model"], g["total_tokens"]) for g in report["groups"]] == [
        (HAIKU, 19200),
        (SONNET, 3000),
        ("", 0),
    ]
    by_user = analytics_token_usage(period=today(), group_by="user")["groups"]
    assert [(g["user_email"], g["total_tokens"]) for g in by_user] == [
        ("alice@example.com", 16500),
        ("carol@example.com", 5200),
        ("bob@example.com", 500),
    ]
    by_mcp = analytics_token_usage(period=today(), group_by="mcp")["groups"]
    assert by_mcp[0]["mcp"] == "database_mcp" and by_mcp[0]["tokens"]["cache_read"] == 10000


def test_cache_hit_rate(trail):
    report = analytics_cache_hit_rate(period=today())
    assert (report["prompt_tokens"], report["cache_read_tokens"], report["hit_rate"]) == (
        20600,
        15000,
        0.7282,
    )
    assert (
        report["llm_requests"],
        report["cached_requests"],
        report["requests_with_cache_hits_rate"],
    ) == (4, 2, 0.5)
    assert report["estimated_savings_usd"] == 0.0108  # 15,000 haiku tokens x ($0.80 - $0.08) / 1e6
    assert [(g["model"], g["hit_rate"]) for g in report["groups"]] == [
        (HAIKU, 0.8065),
        ("", None),
        (SONNET, 0.0),
    ]


def test_cache_hit_rate_by_user(trail):
    groups = analytics_cache_hit_rate(period=today(), group_by="user")["groups"]
    assert [(g["user_email"], g["hit_rate"], g["estimated_savings_usd"]) for g in groups] == [
        ("alice@example.com", 0.6667, 0.0072),
        ("carol@example.com", 0.9804, 0.0036),
        ("bob@example.com", 0.0, 0.0),
    ]


@pytest.mark.parametrize(
    "report",
    [
        analytics_cost_summary,
        analytics_top_expensive_queries,
        analytics_slow_queries,
        analytics_high_iteration_queries,
        analytics_error_summary,
        analytics_failed_queries,
        analytics_active_users,
        analytics_tool_popularity,
        analytics_mcp_health_summary,
        analytics_token_usage,
        analytics_cache_hit_rate,
    ],
)
def test_every_report_is_plain_json(trail, report):
    result = report(period=today())
    assert json.loads(json.dumps(result)) == result
    assert result["period"]["name"] == "today"


def test_an_empty_trail_gives_zeros_not_errors(db):
    period = today()
    assert analytics_cost_summary(period=period)["cost_usd"] == 0.0
    assert analytics_slow_queries(period=period)["durations_ms"]["p95"] is None
    assert analytics_cache_hit_rate(period=period)["hit_rate"] is None
    assert analytics_mcp_health_summary(period=period)["servers"] == []
