"""The audit dashboard: its JSON over a seeded trail (exact figures), who may see it, bad periods.

The trail, written through the real audit service and moved back in time the way a
maintenance job would (the rollup triggers follow the UPDATE). D0 is the day R1 was written.
Prices per million tokens: haiku $0.80 / $4 / $0.08 / $1, sonnet $3 / $15 / $0.30 / $3.75.

| row | day | user | status | model | tokens in/out/read/write | cost | ms | tool calls (ms) |
|---|---|---|---|---|---|---|---|---|
| R1 | D0 | alice | success | haiku | 1000/500/10000/2000 | 0.0056 | 1200 | db.health 100, db.top 300, github.search 50, github.delete denied |
| R2 | D0 | alice | success | sonnet | 1000/1000/0/0 | 0.018 | 8000 | db.top 1234, qa.compare 2345 |
| R3 | D0 | bob | error | haiku | 500/0/0/0 | 0.0004 | 30000 | db.health timeout 30000 |
| R4 | D0 | bob | denied | – | – | 0 | 5 | analytics.cost denied |
| R5 | D0 | bob | rate_limited | – | – | 0 | 1 | – |
| R6 | D-1 | carol | success | haiku | 100/100/0/0 | 0.00048 | 2500 | qa.compare error 100 |
| R7 | D-3 | carol | error | sonnet | 1000/0/0/0 | 0.003 | 4000 | db.health unavailable 0 |
| R8 | D-1 | dave (deleted since) | success | haiku | 2000/0/0/0 | 0.0016 | 700 | – |
| R9 | D-10 | bob | success | sonnet | 1000000/0/0/0 | 3.0 | 99999 | – |
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from audit.dashboard.figures import dashboard_data, duration_bucket, percentile
from audit.dashboard.period import DashboardPeriod, dashboard_period_parse
from audit.dashboard.sources import RollupSource, TrailSource
from audit.models import AuditLog, ToolCallDurationRollup
from audit.services import audit_record
from audit.tests.test_analytics_seed import HAIKU, SONNET, audit_backdate, call, usage

pytestmark = pytest.mark.django_db

PAGE, DATA = "/admin/audit/auditlog/dashboard/", "/admin/audit/auditlog/dashboard/data"
DB, GH, QA = "database_mcp", "github_mcp", "qa_mcp"


def _row(user, status, model="", tokens=(), ms=0, calls=(), source="api"):
    return audit_record(
        user=user,
        source=source,
        message=f"{status} question",
        status=status,
        model=model,
        usage=usage(*tokens),
        duration_ms=ms,
        tool_calls=list(calls),
    )


def seed_dashboard_trail(make_user) -> dict:
    """Write R1–R9 of the table above; returns the rows by name and D0."""
    alice = make_user(role="dba", email="alice@example.com")
    bob = make_user(role="read_only", email="bob@example.com")
    carol = make_user(role="power_user", email="carol@example.com")
    dave = make_user(role="read_only", email="dave@example.com")
    health, top = ("get_database_health", "get_top_queries")
    rows = {
        "R1": _row(alice, "success", HAIKU, (1000, 500, 10_000, 2000), 1200, [
            call(DB, health, duration_ms=100), call(DB, top, duration_ms=300),
            call(GH, "search_repositories", duration_ms=50), call(GH, "delete_repo", "denied"),
        ]),
        "R2": _row(alice, "success", SONNET, (1000, 1000), 8000, [
            call(DB, top, duration_ms=1234), call(QA, "compare_csv_files", duration_ms=2345),
        ]),
        "R3": _row(bob, "error", HAIKU, (500,), 30000, [call(DB, health, "timeout", 30000)]),
        "R4": _row(bob, "denied", ms=5, calls=[call("analytics_mcp", "get_cost_summary", "denied")]),
        "R5": _row(bob, "rate_limited", ms=1, source="slack"),
        "R6": _row(carol, "success", HAIKU, (100, 100), 2500, [
            call(QA, "compare_csv_files", "error", 100),
        ]),
        "R7": _row(carol, "error", SONNET, (1000,), 4000, [call(DB, health, "unavailable", 0)]),
        "R8": _row(dave, "success", HAIKU, (2000,), 700),
        "R9": _row(bob, "success", SONNET, (1_000_000,), 99999),
    }  # fmt: skip
    for name, days in (("R6", 1), ("R7", 3), ("R8", 1), ("R9", 10)):
        audit_backdate(rows[name], days=days)
    rows["dave_id"] = dave.pk
    dave.delete()
    return {"rows": rows, "d0": rows["R1"].created_at.date()}


@pytest.fixture
def trail(make_user):
    return seed_dashboard_trail(make_user)


def week(trail) -> DashboardPeriod:
    return dashboard_period_parse(params={"period": "7"}, today=trail["d0"])


def only_on(days: int, index: int, value):
    """A per-day list of ``days`` zeros with ``value`` at ``index``."""
    values = [0] * days
    values[index] = value
    return values


def test_the_week_in_figures(trail):
    data = dashboard_data(period=week(trail))
    d0 = trail["d0"]
    assert data["period"] == {
        "name": "7 days",
        "from": str(d0 - timedelta(days=6)),
        "to": str(d0),
        "days": 7,
    }
    assert data["days"] == [str(d0 - timedelta(days=6 - n)) for n in range(7)]
    assert data["totals"] == {"requests": 8, "errors": 2, "cost_usd": 0.02908, "tool_calls": 8}
    assert data["cost_by_model"] == [
        {"model": SONNET, "cost_usd": [0, 0, 0, 0.003, 0, 0, 0.018], "total_usd": 0.021},
        {"model": HAIKU, "cost_usd": [0, 0, 0, 0, 0, 0.00208, 0.006], "total_usd": 0.00808},
    ]
    assert data["requests_by_status"] == [
        {"status": "success", "requests": [0, 0, 0, 0, 0, 2, 2], "total": 4},
        {"status": "error", "requests": [0, 0, 0, 1, 0, 0, 1], "total": 2},
        {"status": "denied", "requests": only_on(7, 6, 1), "total": 1},
        {"status": "rate_limited", "requests": only_on(7, 6, 1), "total": 1},
    ]


def test_top_users_by_cost_name_deleted_users_by_their_recorded_email(trail):
    users = dashboard_data(period=week(trail))["top_users"]
    assert [(u["email"], u["requests"], u["cost_usd"]) for u in users] == [
        ("alice@example.com", 2, 0.0236),
        ("carol@example.com", 2, 0.00348),
        ("dave@example.com", 1, 0.0016),
        ("bob@example.com", 3, 0.0004),
    ]
    assert users[2]["user_id"] == trail["rows"]["dave_id"]


def test_tools_latency_cache_and_refusals(trail):
    data = dashboard_data(period=week(trail))
    assert data["top_tools"] == [
        {"mcp": DB, "tool": "get_database_health", "calls": 3, "errors": 2, "denied": 0},
        {"mcp": DB, "tool": "get_top_queries", "calls": 2, "errors": 0, "denied": 0},
        {"mcp": QA, "tool": "compare_csv_files", "calls": 2, "errors": 1, "denied": 0},
        {"mcp": GH, "tool": "search_repositories", "calls": 1, "errors": 0, "denied": 0},
        {"mcp": "analytics_mcp", "tool": "get_cost_summary", "calls": 0, "errors": 0, "denied": 1},
        {"mcp": GH, "tool": "delete_repo", "calls": 0, "errors": 0, "denied": 1},
    ]
    # database_mcp: 0, 100, 300, 1234 → 1200, 30000; qa_mcp: 100, 2345 → 2300; denied calls left out.
    assert data["mcp_latency"] == [
        {"mcp": DB, "calls": 5, "p50_ms": 300, "p95_ms": 30000},
        {"mcp": QA, "calls": 2, "p50_ms": 100, "p95_ms": 2300},
        {"mcp": GH, "calls": 1, "p50_ms": 50, "p95_ms": 50},
    ]
    # 10,000 read of 1000+500+1000+100+1000+2000 input, 10,000 read and 2000 written.
    assert data["cache"] == {
        "hit_rate": 0.5682,
        "per_day": [None, None, None, 0.0, None, 0.0, 0.6897],
        "input_tokens": 5600,
        "cache_read_tokens": 10_000,
        "cache_write_tokens": 2000,
    }
    assert data["refusals"] == {
        "denied_requests": only_on(7, 6, 1),
        "denied_tool_calls": only_on(7, 6, 2),
        "rate_limited": only_on(7, 6, 1),
    }


def test_slowest_and_costliest_requests_link_to_their_audit_rows(trail):
    data, rows = dashboard_data(period=week(trail)), trail["rows"]
    names = {log.pk: name for name, log in rows.items() if isinstance(log, AuditLog)}
    assert [names[r["id"]] for r in data["slowest"]] == [
        "R3", "R2", "R7", "R6", "R1", "R8", "R4", "R5"
    ]  # fmt: skip
    assert [names[r["id"]] for r in data["costliest"]] == [
        "R2", "R1", "R7", "R8", "R6", "R3", "R5", "R4"
    ]  # fmt: skip
    first = data["slowest"][0]
    assert first["url"] == f"/admin/audit/auditlog/{rows['R3'].pk}/change/"
    assert (first["duration_ms"], first["cost_usd"], first["user_email"]) == (
        30000,
        0.0004,
        "bob@example.com",
    )


def test_periods_cover_whole_days(trail):
    d0 = trail["d0"]
    today = dashboard_data(period=dashboard_period_parse(params={"period": "today"}, today=d0))
    assert (today["days"], today["totals"]["requests"], today["totals"]["cost_usd"]) == (
        [str(d0)],
        5,
        0.024,
    )
    month = dashboard_data(period=dashboard_period_parse(params={"period": "30"}, today=d0))
    assert (month["totals"]["requests"], month["totals"]["cost_usd"]) == (9, 3.02908)
    dates = {"from": str(d0 - timedelta(days=10)), "to": str(d0 - timedelta(days=3))}
    between = dashboard_data(period=dashboard_period_parse(params=dates, today=d0))
    assert (len(between["days"]), between["totals"]["requests"]) == (8, 2)  # R7 and R9


@pytest.mark.parametrize("name", ["today", "7", "30", "90"])
def test_the_rollups_agree_with_the_audit_rows(trail, name):
    period = dashboard_period_parse(params={"period": name}, today=trail["d0"])
    assert dashboard_data(period=period) == dashboard_data(
        period=period, source=TrailSource(period)
    )
    assert RollupSource(period).durations()  # the comparison is not between two empty sets


DURATIONS = [0, 1, 99, 100, 101, 999, 1000, 1234, 9999, 10_000, 99_999, 123_456, 2**31 - 1]


def test_the_trigger_buckets_durations_as_the_python_rule_does(make_user):
    user = make_user()
    _row(user, "success", calls=[call("x_mcp", "t", duration_ms=ms) for ms in DURATIONS])
    stored = set(ToolCallDurationRollup.objects.values_list("bucket_ms", flat=True))
    assert stored == {duration_bucket(ms) for ms in DURATIONS}
    assert duration_bucket(1234) == 1200 and duration_bucket(2**31 - 1) == 2_100_000_000


def test_percentiles_are_nearest_rank():
    assert percentile([(10, 1), (20, 1), (30, 1), (40, 1)], 50) == 20
    assert percentile([(10, 1), (20, 1), (30, 1), (40, 1)], 95) == 40
    assert percentile([(5, 99), (900, 1)], 95) == 5
    assert percentile([(7, 1)], 50) == 7


# --- The pages ---------------------------------------------------------------------------------


def client_for(make_user, *, role="admin", staff=True, view_permission=True) -> Client:
    user = make_user(role=role, is_staff=staff)
    if view_permission:
        user.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    client = Client()
    client.force_login(user)
    return client


def test_an_omni2_admin_with_the_audit_permission_gets_the_page_and_the_json(make_user, trail):
    client = client_for(make_user)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "admincharts/chart.min.js" in html and 'id="chart-cost"' in html
    d0 = trail["d0"]
    answer = client.get(DATA, {"from": str(d0 - timedelta(days=6)), "to": str(d0)})
    assert answer.status_code == 200
    assert answer.json() == dashboard_data(period=week(trail)) | {
        "period": week(trail).to_json() | {"name": f"{d0 - timedelta(days=6)} to {d0}"}
    }
    assert "audit-dashboard-link" in client.get("/admin/").content.decode()


def test_the_chart_library_is_served_as_a_static_file(make_user):
    response = client_for(make_user).get("/static/admincharts/chart.min.js")
    assert response.status_code == 200
    assert b"Chart.js v3" in b"".join(response.streaming_content)[:200]


@pytest.mark.parametrize(
    "who",
    [
        {"role": "read_only"},  # staff with the permission, but not an OMNI2 admin
        {"role": "admin", "view_permission": False},  # an OMNI2 admin without the audit log
    ],
)
def test_others_on_the_admin_site_are_refused(make_user, who):
    client = client_for(make_user, **who)
    assert client.get(PAGE).status_code == 403
    refused = client.get(DATA)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "audit-dashboard-link" not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_those_off_the_admin_site_are_sent_to_the_login(make_user, who):
    client = Client() if who == "anonymous" else client_for(make_user, staff=False)
    for url in (PAGE, DATA):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_form_of_the_page_sends_empty_fields(make_user):
    client = client_for(make_user)
    assert client.get(DATA, {"period": "30", "from": "", "to": ""}).json()["period"]["days"] == 30
    dates = {"period": "", "from": "2026-01-01", "to": "2026-01-02"}
    assert client.get(DATA, dates).json()["period"]["days"] == 2


@pytest.mark.parametrize(
    "query",
    [
        {"period": "31"},
        {"period": "week"},
        {"from": "2026-01-01"},
        {"to": "2026-01-01"},
        {"from": "2026-01-02", "to": "2026-01-01"},
        {"from": "2026-1-1", "to": "2026-01-02"},
        {"from": "2026-02-30", "to": "2026-03-01"},
        {"from": "yesterday", "to": "today"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"from": "9999-12-30", "to": "9999-12-31"},
        {"period": "7", "from": "2026-01-01", "to": "2026-01-02"},
    ],
)
def test_bad_periods_are_refused_with_400(make_user, query):
    response = client_for(make_user).get(DATA, query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]
