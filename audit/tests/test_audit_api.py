from datetime import timedelta

import pytest
from django.db import connection

from audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_users(make_user, record, tool_call):
    """Alice and Bob, each with rows of every source and status, some with tool calls."""
    alice, bob = (
        make_user(role="dba", email="alice@example.com"),
        make_user(email="bob@example.com"),
    )
    for user, mcp in ((alice, "database_mcp"), (bob, "github_mcp")):
        for source, status in (
            ("api", "success"),
            ("slack", "error"),
            ("mcp", "denied"),
            ("api", "rate_limited"),
        ):
            record(
                user,
                source=source,
                status=status,
                message=f"{user.email} {status}",
                model="claude-3-5-haiku-20241022",
                usage={"input_tokens": 1000, "output_tokens": 10},
                tool_calls=[tool_call(mcp=mcp)],
            )
    return alice, bob


def emails(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["user_email"] for row in response.json()["results"]}


def test_a_user_sees_their_own_rows(authed_client, two_users):
    alice, _ = two_users
    body = authed_client(user=alice).get("/api/audit/logs").json()
    assert body["count"] == 4 and len(body["results"]) == 4
    row = body["results"][0]
    assert row["user_email"] == "alice@example.com"
    assert row["tool_calls"][0]["mcp"] == "database_mcp"
    assert set(row) >= {
        "id",
        "created_at",
        "source",
        "status",
        "message",
        "answer_preview",
        "error",
        "duration_ms",
        "iterations",
        "model",
        "tokens_input",
        "tokens_output",
        "tokens_cache_read",
        "tokens_cache_write",
        "cost_usd",
        "tools_called",
        "mcps_accessed",
        "slack",
        "tool_calls",
    }
    assert row["cost_usd"] == 0.00084 and row["slack"]["channel"] == ""


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?user=bob@example.com",
        "?user=BOB@example.com",
        "?status=error",
        "?source=slack",
        "?days=3650",
        "?limit=500",
        "?ordering=cost_usd",
        "?ordering=-duration_ms",
        "?ordering=created_at",
        "?ordering=iterations",
        "?user=bob@example.com&status=denied&source=mcp",
    ],
)
def test_a_user_never_sees_another_users_rows(authed_client, two_users, query):
    alice, _ = two_users
    assert emails(authed_client(user=alice).get(f"/api/audit/logs{query}")) <= {"alice@example.com"}


def test_naming_another_user_gives_nothing(authed_client, two_users):
    alice, _ = two_users
    assert authed_client(user=alice).get("/api/audit/logs?user=bob@example.com").json() == {
        "count": 0,
        "results": [],
    }


def test_another_users_row_by_id_is_a_404(authed_client, two_users):
    alice, bob = two_users
    client = authed_client(user=alice)
    for log in AuditLog.objects.filter(user=bob):
        response = client.get(f"/api/audit/logs/{log.pk}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    own = AuditLog.objects.filter(user=alice).first()
    assert client.get(f"/api/audit/logs/{own.pk}").json()["id"] == own.pk


@pytest.mark.parametrize("role", ["admin", "super_admin"])
def test_an_admin_sees_everyone_and_filters_by_user(authed_client, two_users, role):
    client = authed_client(role=role)
    assert emails(client.get("/api/audit/logs")) == {"alice@example.com", "bob@example.com"}
    assert emails(client.get("/api/audit/logs?user=bob@example.com")) == {"bob@example.com"}
    bob_log = AuditLog.objects.filter(user_email="bob@example.com").first()
    assert client.get(f"/api/audit/logs/{bob_log.pk}").status_code == 200


def test_filters_narrow_the_rows(authed_client, two_users):
    client = authed_client(role="admin")
    rows = client.get("/api/audit/logs?status=error&source=slack").json()["results"]
    assert {(r["status"], r["source"]) for r in rows} == {("error", "slack")} and len(rows) == 2
    assert client.get("/api/audit/logs?limit=3").json()["count"] == 3


def test_days_leaves_out_older_rows(authed_client, make_user, record):
    user = make_user()
    old = record(user, message="old")
    record(user, message="new")
    with (
        connection.cursor() as cursor
    ):  # backdating is a maintenance job, not something the app does
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL omni2.audit_maintenance = 'on'")
        cursor.execute(
            "UPDATE audit_auditlog SET created_at = %s WHERE id = %s",
            [old.created_at - timedelta(days=10), old.pk],
        )
    client = authed_client(user=user)
    assert [r["message"] for r in client.get("/api/audit/logs").json()["results"]] == ["new"]
    assert len(client.get("/api/audit/logs?days=11").json()["results"]) == 2


@pytest.mark.parametrize(
    "query",
    [
        "days=0",
        "days=abc",
        "days=99999",
        "limit=0",
        "limit=501",
        "limit=x",
        "status=ok",
        "source=email",
        "user=not-an-email",
        "ordering=password",
    ],
)
def test_bad_filters_are_a_400(authed_client, query):
    response = authed_client().get(f"/api/audit/logs?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_audit_api_needs_a_key(api_client):
    for path in ("/api/audit/logs", "/api/audit/stats", "/api/audit/logs/1"):
        assert api_client.get(path).status_code == 401


def test_stats_cover_only_the_callers_rows(authed_client, two_users):
    alice, _ = two_users
    stats = authed_client(user=alice).get("/api/audit/stats?days=7").json()
    assert stats["days"] == 7
    assert (stats["requests"], stats["errors"]) == (4, 1)
    assert stats["cost_usd"] == 0.00336  # 4 × (1000 × $0.80 + 10 × $4.00) / 1e6
    assert stats["tokens"] == {"input": 4000, "output": 40, "cache_read": 0, "cache_write": 0}
    assert [row["user_email"] for row in stats["by_user"]] == ["alice@example.com"]
    assert [row["mcp"] for row in stats["by_mcp"]] == ["database_mcp"]
    assert stats["by_tool"] == [
        {
            "mcp": "database_mcp",
            "tool": "get_database_health",
            "calls": 4,
            "errors": 0,
            "denied": 0,
            "avg_duration_ms": 0.0,
        }
    ]
    assert stats["by_status"] == {"denied": 1, "error": 1, "rate_limited": 1, "success": 1}


def test_an_admins_stats_cover_everyone(authed_client, two_users):
    stats = authed_client(role="admin").get("/api/audit/stats").json()
    assert stats["days"] == 30 and stats["requests"] == 8
    assert {row["user_email"]: row["requests"] for row in stats["by_user"]} == {
        "alice@example.com": 4,
        "bob@example.com": 4,
    }
    assert {row["mcp"] for row in stats["by_mcp"]} == {"database_mcp", "github_mcp"}


@pytest.mark.parametrize("query", ["days=0", "days=x", "days=100000"])
def test_bad_stats_filters_are_a_400(authed_client, query):
    response = authed_client().get(f"/api/audit/stats?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "path",
    [
        "/api/audit/logs/99999999999999999999",
        "/api/audit/logs/abc",
        "/api/audit/logs/123456789012345678",
    ],
)
def test_an_impossible_or_missing_id_is_a_404(authed_client, path):
    response = authed_client(role="admin").get(path)
    assert response.status_code == 404
