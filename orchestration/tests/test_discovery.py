"""Tool discovery: the command, the admin actions, and a worker starting up."""

import time

import pytest
from django.core.management import call_command

from permissions.models import DiscoveredTool, McpServer
from testing.celery_worker import running_worker


def http_row(handle, name="test_mcp", **fields):
    server = McpServer(name=name, transport="http", url=handle.url, **fields)
    if handle.token:
        server.set_bearer_token(handle.token)
    server.save()
    return server


@pytest.mark.django_db
def test_refresh_tools_stores_each_servers_tools_and_forgets_removed_ones(
    shared_mcp_servers, capsys
):
    server = http_row(shared_mcp_servers["http"])
    DiscoveredTool.objects.create(mcp=server, name="gone_tool")
    call_command("refresh_tools")
    names = set(server.tools.values_list("name", flat=True))
    assert {"echo", "add", "server_stats"} <= names and "gone_tool" not in names
    assert "test_mcp:" in capsys.readouterr().out
    schema = server.tools.get(name="add").input_schema
    assert schema["properties"]["b"]["type"] == "integer"


@pytest.mark.django_db
def test_an_unreachable_server_keeps_its_tools_and_the_command_fails(shared_mcp_servers):
    server = McpServer.objects.create(
        name="dead_mcp", transport="http", url="http://127.0.0.1:9/mcp", timeout_seconds=2
    )
    DiscoveredTool.objects.create(mcp=server, name="kept")
    with pytest.raises(SystemExit):
        call_command("refresh_tools", "dead_mcp")
    assert list(server.tools.values_list("name", flat=True)) == ["kept"]


@pytest.mark.django_db
def test_the_admin_actions_refresh_and_check_health(shared_mcp_servers, admin_client):
    server = http_row(shared_mcp_servers["http"])
    url = "/admin/orchestration/mcpserverstatus/"
    response = admin_client.post(
        url, {"action": "refresh_tools", "_selected_action": [server.pk]}, follow=True
    )
    assert "test_mcp: 12 tools" in response.content.decode().lower() and server.tools.count() == 12
    response = admin_client.post(
        url, {"action": "check_health", "_selected_action": [server.pk]}, follow=True
    )
    assert "test_mcp: healthy" in response.content.decode().lower()
    # The status page lists the server with its last known state; configuration links to it.
    page = admin_client.get(url).content.decode()
    assert "test_mcp" in page and "healthy" in page
    assert url in admin_client.get("/admin/permissions/mcpserver/").content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles")
def test_a_worker_discovers_tools_when_it_starts(shared_mcp_servers, django_db_blocker):
    server = http_row(shared_mcp_servers["http"])
    assert server.tools.count() == 0
    with running_worker(make_default=False):
        deadline = time.monotonic() + 60
        while server.tools.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert server.tools.filter(name="echo").exists()


@pytest.mark.django_db
def test_health_polled_often_probes_each_server_once_per_max_age(mcp_server, client):
    handle = mcp_server("http")
    http_row(handle)
    first = client.get("/health").json()["mcps"][0]
    listed = handle.stats()["methods"].get("tools/list", 0)
    for _ in range(5):
        assert client.get("/health").json()["mcps"][0]["status"] == "healthy"
    assert handle.stats()["methods"].get("tools/list", 0) == listed >= 1
    assert first["status"] == "healthy"
