"""``omni2.asgi.application`` with the fast path off (or impossible): every call is Django's."""

import httpx
import pytest
from django.test import override_settings

from orchestration.gateway import toolcall as fast
from orchestration.mcp.pool import close_pool, get_pool
from testing.asgi import uvicorn_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(OMNI2_FAST_PATH=False)
def test_with_the_fast_path_off_django_serves_every_call_on_the_same_loop(
    mcp_server, register_mcp, authed_client
):
    from omni2.asgi import application

    register_mcp("test_mcp", mcp_server("http"))
    key = authed_client(role="dba")._credentials["HTTP_AUTHORIZATION"]
    close_pool()
    before = dict(fast.stats)
    with (
        uvicorn_in_thread(application) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        assert application.clients is None
        assert get_pool().adopted  # Django's sync views hand their calls to the server's loop
        for _ in range(3):
            response = http.post(
                "/api/mcp/tools/call",
                headers={"Authorization": key},
                json={"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "hi"}},
            )
            assert response.status_code == 200 and response.json()["success"], response.text
    assert fast.stats["fast"] == before.get("fast", 0)
    assert fast.stats["django"] == before.get("django", 0) + 3
