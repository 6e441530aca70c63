"""No audit record, no call: a direct tool call against an audit database that cannot be written.

The database is made unreachable for this test alone (``testing.outages``), never stopped.
"""

import threading
import time

import pytest
from django.db import connection

from audit.models import AuditLog, AuditRequest
from orchestration.tests.test_tool_call_api import call, calls_of, error_code
from testing.outages import database_rerouted
from testing.tcpproxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)


def test_with_the_audit_database_unreachable_the_call_is_503_and_nothing_runs(
    shared_mcp_servers, register_mcp, authed_client, tmp_path
):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    client = authed_client(role="dba")
    assert (
        call(client, "test_mcp", "echo", {"text": "warm"}).status_code == 200
    )  # key, policy cached
    before = calls_of(handle, "write_report")
    with database_rerouted():
        response = call(client, "test_mcp", "write_report", {"name": "payroll"})
    assert response.status_code == 503, response.content
    assert error_code(response) == "service_unavailable"
    assert calls_of(handle, "write_report") == before  # the tool never ran
    assert not AuditRequest.objects.filter(tool="write_report").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="cuts a TCP connection to PostgreSQL")
def test_a_call_that_ran_keeps_its_request_record_when_the_outcome_cannot_be_written(
    shared_mcp_servers, register_mcp, authed_client
):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "warm"}).status_code == 200
    settings_dict = connection.settings_dict
    with (
        TcpProxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)) as proxy,
        database_rerouted(proxy.port),
    ):
        started = calls_of(handle, "slow")
        cutter = threading.Thread(target=_cut_once_running, args=(proxy, handle, started))
        cutter.start()
        response = call(client, "test_mcp", "slow", {"seconds": 1.5})
        cutter.join()
    assert response.status_code == 503, response.content
    assert error_code(response) == "service_unavailable"
    assert calls_of(handle, "slow") == started + 1  # it ran
    record = AuditRequest.objects.get(tool="slow")  # … and its request was recorded before it did
    assert record.user_id == client.user.pk and record.arguments == {"seconds": 1.5}
    assert f"request #{record.pk} is recorded" in response.json()["error"]["message"]
    assert not AuditLog.objects.filter(request_record=record).exists()


def _cut_once_running(proxy, handle, started: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while calls_of(handle, "slow") == started and time.monotonic() < deadline:
        time.sleep(0.05)
    proxy.cut()
