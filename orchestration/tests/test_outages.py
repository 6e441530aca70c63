"""Outages of Redis and PostgreSQL: clear 503s, rate limits still counted, nothing run unchecked.

The shared servers are never stopped: the test's settings point at a closed port, or at a
``testing.tcpproxy.TcpProxy`` the test cuts. The fast path's side (its Redis unreachable) is in
``test_tool_call_fast_path``.
"""

import httpx
import psycopg
import pytest
from django.db import connection

from audit.models import AuditLog, RateLimitHit
from audit.ratelimit import rate_limit_hit
from core.errors import ServiceUnavailable
from core.outages import outages
from testing.asgi import uvicorn_in_thread
from testing.outages import database_rerouted, redis_unreachable
from testing.tcpproxy import TcpProxy

from .test_tool_call_api import call, calls_of, error_code

needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pool")


def _make_redis_unreachable(settings):
    if settings.REDIS_URL:
        redis_unreachable(settings)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_with_503_when_no_store_can_count(settings):
    _make_redis_unreachable(settings)  # and, with Redis configured, the database after it
    with database_rerouted(), pytest.raises(ServiceUnavailable) as refused:
        rate_limit_hit(key="test:nowhere", limit=5)
    assert refused.value.status_code == 503 and refused.value.code == "service_unavailable"


@pytest.mark.django_db(transaction=True)
def test_with_redis_and_the_database_unreachable_a_tool_call_is_503_and_never_runs(
    settings, shared_mcp_servers, register_mcp, authed_client
):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "before"}).status_code == 200
    before = calls_of(handle, "echo")
    _make_redis_unreachable(settings)
    with database_rerouted():
        response = call(client, "test_mcp", "echo", {"text": "during"})
    assert response.status_code == 503
    assert error_code(response) == "service_unavailable"
    assert calls_of(handle, "echo") == before


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_a_contractors_21st_tool_call_is_429_and_audited(
    settings, shared_mcp_servers, register_mcp, authed_client, monkeypatch, caplog
):
    if not settings.REDIS_URL:
        pytest.skip("without REDIS_URL the database is the only store (test_rate_limit covers it)")
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="contractor")
    redis_unreachable(settings)
    monkeypatch.setattr(outages, "_last_logged", {})  # nothing logged yet in this test's minute
    answers = [call(client, "test_mcp", "echo", {"text": str(i)}) for i in range(21)]
    assert [a.status_code for a in answers] == [200] * 20 + [429], answers[-1].content
    assert RateLimitHit.objects.filter(key=f"user:{client.user.pk}").count() == 20
    refused = AuditLog.objects.get(pk=answers[-1].json()["error"]["audit_id"])
    assert refused.status == "rate_limited"
    assert AuditLog.objects.filter(user=client.user, status="success").count() == 20
    # One line per backend for the 21 requests, and not a traceback among them.
    assert sorted(
        r.getMessage().split(" is unavailable")[0]
        for r in caplog.records
        if r.name == "core.outages"
    ) == ["the policy cache", "the rate limiter's Redis"]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True])
def test_an_unreachable_database_is_a_503_service_unavailable_not_a_500(
    settings, authed_client, client, debug, caplog
):
    api = authed_client(role="dba")
    client.force_login(api.user)
    settings.DEBUG = debug  # with DEBUG on, Django would otherwise show its own error page
    with database_rerouted():
        answers = {"api": api.get("/api/audit/logs"), "admin": client.get("/admin/")}
    for name, response in answers.items():
        assert response.status_code == 503, (name, response.content[:300])
        assert response.json()["error"]["code"] == "service_unavailable", name
    assert not [
        r for r in caplog.records if r.name == "django.request" or r.exc_info
    ]  # core.outages says it


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_database_cut_off_mid_run_is_a_503_service_unavailable(authed_client):
    api = authed_client(role="dba")
    target = connection.settings_dict
    with (
        TcpProxy(target["HOST"] or "127.0.0.1", int(target["PORT"] or 5432)) as proxy,
        database_rerouted(proxy.port),
    ):
        assert api.get("/api/audit/logs").status_code == 200
        proxy.cut()  # the pooled connections are dropped under the pool's feet (the audit log is read
        # from the database on every request, unlike the memoised key and policy)
        response = api.get("/api/audit/logs")
        assert (response.status_code, error_code(response)) == (503, "service_unavailable")


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_after_the_server_terminates_pooled_connections_the_next_request_succeeds(make_user):
    """Through a real ASGI server: there, as in production, each request hands its connection
    back to the pool when it ends (Django's test client keeps one per thread instead)."""
    from omni2.asgi import application
    from orchestration.mcp.pool import close_pool
    from permissions.services import api_key_create

    _, raw = api_key_create(user=make_user(role="dba"))
    close_pool()
    with (
        uvicorn_in_thread(application) as base_url,
        httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {raw}"}, timeout=30
        ) as http,
    ):
        for _ in range(3):  # the pool now holds connections that served requests
            assert http.get("/api/audit/logs").status_code == 200
        assert _terminate_other_backends() >= 1
        response = http.get("/api/audit/logs")
    connection.close()  # this thread's own connection was terminated too: back to the pool's check
    assert response.status_code == 200, response.text


def _terminate_other_backends() -> int:
    """What a PostgreSQL restart does to the pool: every server process of the test database
    ends. Sent from a connection of its own, outside Django's pool."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        ).fetchall()
    return len(rows)


@pytest.mark.django_db
def test_a_non_admin_sees_a_down_servers_short_error_code_and_an_admin_its_text(
    mcp_server, register_mcp, authed_client
):
    handle = mcp_server("http")
    register_mcp("victim_mcp", handle)
    handle.kill()
    [row] = authed_client(role="dba").get("/api/mcp/tools/servers").json()["servers"]
    assert (row["status"], row["last_error"]) == ("unreachable", "unreachable")
    assert "last_error_code" not in row and "enabled" not in row
    [row] = authed_client(role="admin").get("/api/mcp/tools/servers").json()["servers"]
    assert row["last_error_code"] == "unreachable" and row["last_error"].startswith("victim_mcp")
