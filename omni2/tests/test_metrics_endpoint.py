"""GET /metrics: who may scrape it, and the gauges computed at scrape (MCP health, queue depth)."""

import uuid

import pytest
from celery import current_app

from omni2.tasks import ping
from omni2.tests.scrape import parse, value
from orchestration.mcp.catalog import server_spec
from orchestration.mcp.pool import get_pool
from orchestration.mcp.types import McpError
from permissions.models import McpServer
from testing.mcp_servers import free_port

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0f9e8d7c6b5a"


def test_with_a_token_set_a_scrape_without_it_is_401(client, settings):
    settings.OMNI2_METRICS_TOKEN = TOKEN
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer ")


def test_with_a_token_set_a_wrong_token_is_401_and_the_right_one_scrapes_from_anywhere(
    client, settings
):
    settings.OMNI2_METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer t\u00f6ken").status_code == 401
    response = client.get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    parse(response.content.decode())  # well-formed exposition text


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_without_a_token_loopback_callers_may_scrape(client, settings, address):
    settings.OMNI2_METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200


@pytest.mark.parametrize(
    "address, headers",
    [
        ("203.0.113.9", {}),
        ("10.1.2.3", {}),
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}),  # through a proxy on this host
        ("127.0.0.1", {"HTTP_FORWARDED": "for=203.0.113.9"}),
    ],
)
def test_without_a_token_anyone_else_is_refused(client, settings, address, headers):
    settings.OMNI2_METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=address, **headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_only_get_is_answered(client):
    response = client.post("/metrics")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def _server(name: str, url: str, **fields) -> McpServer:
    return McpServer.objects.create(name=name, transport="http", url=url, **fields)


def test_mcp_health_and_the_breaker_are_gauges_of_the_scrape(
    client, shared_mcp_servers, register_mcp
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    _server("dead_mcp", f"http://127.0.0.1:{free_port()}/mcp", timeout_seconds=2)
    _server("off_mcp", f"http://127.0.0.1:{free_port()}/mcp", enabled=False)
    samples = scrape_now(client)
    assert value(samples, "omni2_mcp_up", mcp="test_mcp") == 1.0
    assert value(samples, "omni2_mcp_circuit_open", mcp="test_mcp") == 0.0
    assert value(samples, "omni2_mcp_up", mcp="dead_mcp") == 0.0
    assert value(samples, "omni2_mcp_circuit_open", mcp="dead_mcp") == 0.0
    assert not [key for key in samples if ("mcp", "off_mcp") in key[1]]  # disabled: not watched
    # Calls that keep failing open a server's breaker in this process; the scrape says so. (A
    # server of its own: a probe is reused for 10 s, so dead_mcp's would still be the first one.)
    broken = _server("broken_mcp", f"http://127.0.0.1:{free_port()}/mcp", timeout_seconds=2)
    for _ in range(3):
        with pytest.raises(McpError):
            get_pool().call_tool(server_spec(broken), "echo", {"text": "x"})
    samples = scrape_now(client)
    assert value(samples, "omni2_mcp_circuit_open", mcp="broken_mcp") == 1.0
    assert value(samples, "omni2_mcp_up", mcp="broken_mcp") == 0.0


def scrape_now(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    return parse(response.content.decode())


def test_the_celery_queue_depth_is_read_from_the_broker_at_scrape(client):
    queue = f"metrics-{uuid.uuid4().hex[:8]}"  # no worker consumes it
    previous = current_app.conf.task_default_queue
    current_app.conf.task_default_queue = queue
    try:
        assert value(scrape_now(client), "omni2_celery_queue_depth", queue=queue) == 0.0
        for _ in range(3):
            ping.apply_async(args=["waiting"], queue=queue)
        assert value(scrape_now(client), "omni2_celery_queue_depth", queue=queue) == 3.0
    finally:
        current_app.conf.task_default_queue = previous
        with current_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
