import pytest
from django.db import connection
from django.test import Client

from audit.admin import EstimatedCountPaginator
from audit.models import AuditLog, ToolCallLog
from audit.tests.test_analytics_seed import audit_backdate

pytestmark = pytest.mark.django_db

LIST, TOOLS = "/admin/audit/auditlog/", "/admin/audit/toolcalllog/"


@pytest.fixture
def superuser_client(db):
    from permissions.models import User

    client = Client()
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    return client


@pytest.fixture
def logs(make_user, record, tool_call):
    alice, bob = make_user(email="alice@example.com"), make_user(email="bob@example.com")
    return [
        record(
            alice,
            status="success",
            model="claude-haiku-4-5",
            usage={"input_tokens": 1000},
            tool_calls=[tool_call(mcp="database_mcp")],
        ),
        record(
            alice,
            status="error",
            source="slack",
            model="claude-haiku-4-5",
            usage={"output_tokens": 100},
            tool_calls=[tool_call(mcp="github_mcp", tool="list_prs")],
        ),
        record(bob, status="denied", source="mcp", message="drop it"),
    ]


def listed_ids(response) -> set[int]:
    assert response.status_code == 200
    return {log.pk for log in response.context["cl"].result_list}


def test_the_list_shows_rows_and_totals_for_the_filtered_rows(superuser_client, logs):
    response = superuser_client.get(LIST)
    assert listed_ids(response) == {log.pk for log in logs}
    assert response.context["audit_totals"]["tokens"]["input"] == 1000
    page = response.content.decode()
    assert (
        "Filtered rows, last 30 days" in page and "$0.001500" in page
    )  # 1000 in × $1 + 100 out × $5
    filtered = superuser_client.get(LIST + "?status=error").context["audit_totals"]
    assert (filtered["requests"], filtered["cost_usd"], filtered["tokens"]["input"]) == (
        1,
        0.0005,
        0,
    )


def test_totals_without_a_date_filter_cover_the_last_30_days_only(superuser_client, logs):
    audit_backdate(logs[0], days=31)
    recent = superuser_client.get(LIST).context["audit_totals"]
    assert recent["requests"] == len(logs) - 1
    every = superuser_client.get(LIST + "?created_at__gte=2000-01-01%2000:00:00%2B00:00")
    assert every.context["audit_totals"]["requests"] == len(logs)
    assert "Filtered rows:" in every.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=error", [1]),
        ("source=mcp", [2]),
        ("user_email=alice@example.com", [0, 1]),
        ("mcp=github_mcp", [1]),
        ("model=claude-haiku-4-5", [0, 1]),
        ("q=drop", [2]),
        ("created_at__gte=2000-01-01%2000:00:00%2B00:00", [0, 1, 2]),
        ("created_at__gte=2999-01-01%2000:00:00%2B00:00", []),
    ],
)
def test_every_filter_works(superuser_client, logs, query, expected):
    assert listed_ids(superuser_client.get(f"{LIST}?{query}")) == {logs[i].pk for i in expected}


def test_filter_choices_are_offered(superuser_client, logs):
    page = superuser_client.get(LIST).content.decode()
    for choice in ("?user_email=alice%40example.com", "?mcp=github_mcp", "?model=claude-haiku-4-5"):
        assert choice in page


def test_nobody_can_add_change_or_delete_a_row(superuser_client, logs):
    log = logs[0]
    page = superuser_client.get(LIST).content.decode()
    assert f"{LIST}add/" not in page and "delete_selected" not in page
    assert superuser_client.get(f"{LIST}add/").status_code == 403
    assert superuser_client.post(f"{LIST}add/", {"message": "x"}).status_code == 403
    detail = superuser_client.get(f"{LIST}{log.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert "get_database_health" in detail.content.decode()  # the tool calls inline
    assert superuser_client.post(f"{LIST}{log.pk}/change/", {"status": "error"}).status_code == 403
    assert superuser_client.get(f"{LIST}{log.pk}/delete/").status_code == 403
    assert superuser_client.post(f"{LIST}{log.pk}/delete/", {"post": "yes"}).status_code == 403
    superuser_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [log.pk], "post": "yes"}
    )
    assert AuditLog.objects.get(pk=log.pk).status == "success" and AuditLog.objects.count() == 3


def test_tool_call_rows_are_read_only_too(superuser_client, logs):
    call = ToolCallLog.objects.first()
    assert superuser_client.get(TOOLS + "?mcp=github_mcp").status_code == 200
    assert superuser_client.get(f"{TOOLS}add/").status_code == 403
    assert (
        superuser_client.post(f"{TOOLS}{call.pk}/change/", {"status": "error"}).status_code == 403
    )
    assert superuser_client.post(f"{TOOLS}{call.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ToolCallLog.objects.count() == 2


def test_the_paginator_stops_counting_at_the_cap(logs, settings):
    settings.OMNI2_AUDIT_ADMIN_COUNT_CAP = 2
    assert (
        EstimatedCountPaginator(
            AuditLog.objects.filter(source__in=["api", "slack", "mcp"]), 1
        ).count
        == 2
    )
    assert EstimatedCountPaginator(AuditLog.objects.filter(source="mcp"), 1).count == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row estimates come from pg_class")
def test_the_unfiltered_count_is_the_planners_estimate_on_postgresql(logs, settings):
    settings.OMNI2_AUDIT_ADMIN_COUNT_CAP = 1
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditlog")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'audit_auditlog'")
        estimate = int(cursor.fetchone()[0])
    assert EstimatedCountPaginator(AuditLog.objects.all(), 10).count == estimate == 3


def test_requests_without_an_outcome_are_listed_apart_and_read_only(superuser_client, make_user):
    from audit.models import AuditRequest
    from audit.services import audit_record, audit_request_record

    user = make_user(email="carol@example.com")
    finished = audit_request_record(
        user=user,
        source="api",
        message="db.echo",
        mcp="db",
        tool="echo",
        arguments={"password": "hunter2", "text": "hi"},
    )
    audit_record(
        user=user, source="api", message="db.echo", status="success", request_record=finished
    )
    lost = audit_request_record(user=user, source="api", message="db.slow", mcp="db", tool="slow")
    requests = "/admin/audit/auditrequest/"
    missing = superuser_client.get(requests + "?outcome=missing")
    assert {r.pk for r in missing.context["cl"].result_list} == {lost.pk}
    assert {r.pk for r in superuser_client.get(requests).context["cl"].result_list} == {
        finished.pk,
        lost.pk,
    }
    page = superuser_client.get(f"{requests}{finished.pk}/change/").content.decode()
    assert "hunter2" not in page and "success" in page  # arguments redacted; the outcome linked
    assert AuditRequest.objects.get(pk=finished.pk).arguments["text"] == "hi"
    assert superuser_client.post(f"{requests}{lost.pk}/delete/").status_code == 403
