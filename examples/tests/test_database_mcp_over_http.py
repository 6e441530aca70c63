"""database_mcp over streamable HTTP, behind its bearer token."""

import httpx
import pytest

from .support import http_session

pytestmark = pytest.mark.timeout(120)


def test_it_answers_over_streamable_http_with_the_token(database_mcp_http):
    url, token = database_mcp_http
    session = http_session(url, token=token)
    try:
        listed = session.call("list_available_databases")
        health = session.call("get_database_health", {"database": "pg"})
    finally:
        session.close()

    assert {d["name"] for d in listed.data["databases"]} >= {"maria", "pg"}
    assert not health.is_error and health.data["engine"] == "postgres"


def test_it_refuses_a_request_without_the_token(database_mcp_http):
    url, _ = database_mcp_http

    response = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
