"""The audit trail the analytics tests read, written through the real audit service.

Rows are append-only, so three are moved into the past the way a maintenance job would
(on PostgreSQL, ``omni2.audit_maintenance`` lets the triggers through for one transaction).
Prices per million tokens: claude-3-5-haiku $0.80 / $4 / $0.08 / $1 (input, output,
cache read, cache write); claude-sonnet-4-5 $3 / $15 / $0.30 / $3.75.

| row | when | user (role) | status | model | cost | ms | iter | tool calls |
|---|---|---|---|---|---|---|---|---|
| R1 | now | alice (dba) | success | haiku | 0.0056 | 1200 | 2 | db.health ok 100, db.top ok 300, github.search ok 50 |
| R2 | now | alice, slack | success | sonnet | 0.021 | 8000 | 10 | db.top ok 500, qa.compare ok 2000 |
| R3 | now | bob (read_only) | error | haiku | 0.0004 | 30000 | 1 | db.health timeout 30000 |
| R4 | now | bob | denied | – | 0 | 5 | 0 | analytics.get_cost_summary denied |
| R5 | now | bob, slack | rate_limited | – | 0 | 1 | 0 | – |
| R6 | now | carol (power_user) | success | haiku | 0.00088 | 2500 | 4 | qa.compare error 100 |
| R7 | 3 days ago | carol | error | sonnet | 0.003 | 4000 | 3 | db.health unavailable 0 |
| R8 | 20 days ago | alice | success | haiku | 0.012 | 700 | 1 | – |
| R9 | 40 days ago | bob | success | sonnet | 3.0 | 99999 | 1 | – |
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction

from audit.models import AuditLog
from audit.services import ToolCallRecord, audit_record

HAIKU, SONNET = "claude-3-5-haiku-20241022", "claude-sonnet-4-5"
TIMEOUT_ERROR = "database_mcp timed out"


def usage(input_tokens=0, output_tokens=0, cache_read_tokens=0, cache_write_tokens=0) -> dict:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
    }


def call(mcp, tool, status="success", duration_ms=0, **fields) -> ToolCallRecord:
    return ToolCallRecord(mcp=mcp, tool=tool, status=status, duration_ms=duration_ms, **fields)


def audit_backdate(log: AuditLog, *, days: int) -> None:
    """Move one row and its tool calls ``days`` into the past (a maintenance job's UPDATE)."""
    when = log.created_at - timedelta(days=days)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL omni2.audit_maintenance = 'on'")
        cursor.execute("UPDATE audit_auditlog SET created_at = %s WHERE id = %s", [when, log.pk])
        cursor.execute(
            "UPDATE audit_toolcalllog SET created_at = %s WHERE audit_id = %s", [when, log.pk]
        )


def seed_audit_trail(make_user) -> dict:
    """Write R1–R9 of the table above; returns the users and the rows by name."""
    alice = make_user(role="dba", email="alice@example.com")
    bob = make_user(role="read_only", email="bob@example.com")
    carol = make_user(role="power_user", email="carol@example.com")
    rows = {
        "R1": audit_record(
            user=alice,
            source="api",
            status="success",
            message="How healthy is prod?",
            model=HAIKU,
            usage=usage(1000, 500, 10_000, 2000),
            duration_ms=1200,
            iterations=2,
            tool_calls=[
                call("database_mcp", "get_database_health", duration_ms=100),
                call("database_mcp", "get_top_queries", duration_ms=300),
                call("github_mcp", "search_repositories", duration_ms=50),
            ],
        ),
        "R2": audit_record(
            user=alice,
            source="slack",
            status="success",
            message="Compare the nightly exports",
            model=SONNET,
            usage=usage(2000, 1000),
            duration_ms=8000,
            iterations=10,
            tool_calls=[
                call("database_mcp", "get_top_queries", duration_ms=500),
                call("qa_mcp", "compare_csv_files", duration_ms=2000),
            ],
        ),
        "R3": audit_record(
            user=bob,
            source="api",
            status="error",
            message="Health of training_db?",
            model=HAIKU,
            usage=usage(500),
            error=TIMEOUT_ERROR,
            duration_ms=30_000,
            iterations=1,
            tool_calls=[
                call("database_mcp", "get_database_health", "timeout", 30_000, error="timed out")
            ],
        ),
        "R4": audit_record(
            user=bob,
            source="api",
            status="denied",
            message="What did we spend?",
            duration_ms=5,
            tool_calls=[
                call(
                    "omni2_analytics_mcp",
                    "get_cost_summary",
                    "denied",
                    denial_reason="role read_only may not use omni2_analytics_mcp",
                )
            ],
        ),
        "R5": audit_record(
            user=bob, source="slack", status="rate_limited", message="again?", duration_ms=1
        ),
        "R6": audit_record(
            user=carol,
            source="api",
            status="success",
            message="Diff these CSVs",
            model=HAIKU,
            usage=usage(100, 100, 5000),
            duration_ms=2500,
            iterations=4,
            tool_calls=[call("qa_mcp", "compare_csv_files", "error", 100, error="file not found")],
        ),
        "R7": audit_record(
            user=carol,
            source="api",
            status="error",
            message="Slow queries on dev_db?",
            model=SONNET,
            usage=usage(1000),
            error=TIMEOUT_ERROR,
            duration_ms=4000,
            iterations=3,
            tool_calls=[
                call(
                    "database_mcp", "get_database_health", "unavailable", error="connection refused"
                )
            ],
        ),
        "R8": audit_record(
            user=alice,
            source="api",
            status="success",
            message="Last month's top tables",
            model=HAIKU,
            usage=usage(10_000, 1000),
            duration_ms=700,
            iterations=1,
        ),
        "R9": audit_record(
            user=bob,
            source="api",
            status="success",
            message="Summarise everything",
            model=SONNET,
            usage=usage(1_000_000),
            duration_ms=99_999,
            iterations=1,
        ),
    }
    for name, days in (("R7", 3), ("R8", 20), ("R9", 40)):
        audit_backdate(rows[name], days=days)
    return {"alice": alice, "bob": bob, "carol": carol, "rows": rows}


@pytest.mark.django_db
def test_the_seed_costs_what_the_table_says(make_user):
    rows = seed_audit_trail(make_user)["rows"]
    costs = {name: float(AuditLog.objects.get(pk=log.pk).cost_usd) for name, log in rows.items()}
    assert costs == {
        "R1": 0.0056,
        "R2": 0.021,
        "R3": 0.0004,
        "R4": 0.0,
        "R5": 0.0,
        "R6": 0.00088,
        "R7": 0.003,
        "R8": 0.012,
        "R9": 3.0,
    }
    assert AuditLog.objects.get(pk=rows["R9"].pk).tool_calls.count() == 0
    assert {log.status for log in AuditLog.objects.all()} == {
        "success",
        "error",
        "denied",
        "rate_limited",
    }


@pytest.mark.django_db
def test_backdated_rows_take_their_tool_calls_along(make_user):
    rows = seed_audit_trail(make_user)["rows"]
    moved = AuditLog.objects.get(pk=rows["R7"].pk)
    assert [call.created_at for call in moved.tool_calls.all()] == [moved.created_at]
    assert rows["R7"].created_at - moved.created_at == timedelta(days=3)
