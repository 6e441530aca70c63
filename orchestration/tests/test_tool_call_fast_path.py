"""POST /api/mcp/tools/call served on uvicorn's event loop (``orchestration.gateway.toolcall``), over real HTTP.

A real uvicorn runs ``omni2.asgi.application`` (lifespan included) in a thread of this process,
against the test database, the test Redis and real MCP servers. Every test of
``test_tool_call_api`` runs again through it; a call the fast path should take is checked to
have taken it, the rest to have reached Django.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from audit.models import AuditLog, AuditRequest
from core.drf import json_too_deep
from orchestration.api import MCP_NAME
from orchestration.gateway import toolcall as fast
from orchestration.mcp.pool import close_pool, get_pool
from orchestration.tests import test_tool_call_api as base
from permissions.policy.snapshot import VERSION_KEY
from testing.asgi import uvicorn_in_thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="the fast path needs PostgreSQL and Redis",
    ),
]

# Every endpoint test again, through the live ASGI server (``authed_client`` below).
globals().update({name: test for name, test in vars(base).items() if name.startswith("test_")})
call, error_code, calls_of = base.call, base.error_code, base.calls_of


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker):
    """``omni2.asgi.application`` under uvicorn in a thread; yields its base URL."""
    from omni2.asgi import application

    close_pool()  # a fresh pool, so the server's loop becomes its loop
    with django_db_blocker.unblock(), uvicorn_in_thread(application) as base_url:
        assert application.clients is not None, "the fast path did not start"
        yield base_url
    assert application.clients is None  # closed at shutdown


class LiveClient:
    """What the endpoint tests use of DRF's APIClient, over HTTP to the live server. Before a
    tool call it asks for the tool list, which compiles the caller's key, the policy and the
    catalog into the process's memo as any earlier request would: a well-formed call must
    then take the fast path."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(
            base_url=base_url, timeout=60, headers={"Content-Type": "application/json"}
        )
        self.user = None

    def credentials(self, HTTP_AUTHORIZATION: str) -> None:
        self.http.headers["Authorization"] = HTTP_AUTHORIZATION

    def get(self, path: str):
        return self.http.get(path)

    def post(self, path: str, data=None, format: str = "json", content_type: str | None = None):
        if content_type is not None:  # a raw body, sent as it is
            return self.http.post(path, content=data, headers={"Content-Type": content_type})
        if path != fast.ToolCallEndpoint.path:
            return self.http.post(path, json=data)
        assert self.get("/api/mcp/tools/list").status_code == 200
        before = fast.stats["fast"]
        response = self.http.post(path, content=json.dumps(data))
        took_fast = fast.stats["fast"] == before + 1
        assert took_fast == _well_formed(data), (data, response.text)
        return response


def _well_formed(data) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("tool"), str)
        and not json_too_deep(data)
        and isinstance(data.get("arguments", {}), dict)
        and MCP_NAME.fullmatch(str(data.get("mcp"))) is not None
        and len(json.dumps(data)) <= settings.OMNI2_MAX_BODY_BYTES
    )


@pytest.fixture
def authed_client(make_user, asgi_server):
    from permissions.services import api_key_create

    def make(user=None, role: str = "read_only"):
        user = user or make_user(role=role)
        _, raw = api_key_create(user=user)
        client = LiveClient(asgi_server)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.user = user
        return client

    return make


def test_the_pool_runs_on_the_servers_loop(asgi_server):
    assert get_pool().adopted


def test_fast_and_django_calls_share_one_session(mcp_server, register_mcp, authed_client):
    from orchestration.mcp.catalog import catalog

    handle = mcp_server("http")
    register_mcp("test_mcp", handle)
    client = authed_client(role="dba")
    for i in range(5):
        assert call(client, "test_mcp", "echo", {"text": str(i)}).status_code == 200
    # A sync caller (a Django view, the chat loop) hands its call to the same loop and session.
    get_pool().call_tool(catalog().servers["test_mcp"], "echo", {"text": "sync"})
    stats = handle.stats()
    assert stats["sessions_initialized"] == 1 and stats["tool_calls"]["echo"] == 6


@pytest.mark.parametrize(
    "tool, arguments, status",
    [
        ("echo", {"text": "hi"}, 200),
        ("drop_table", {"name": "users"}, 403),
        ("add", {"a": "x", "b": 1}, 400),
        ("no_such_tool", {}, 404),
    ],
)
def test_the_fast_path_answers_like_django(
    shared_mcp_servers, register_mcp, authed_client, tool, arguments, status
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    body = json.dumps({"mcp": "test_mcp", "tool": tool, "arguments": arguments})
    before = dict(fast.stats)
    same_id = {"X-Request-ID": f"req-{tool}"}  # the id goes back in the header (and error body)
    cold = client.http.post("/api/mcp/tools/call", content=body, headers=same_id)  # Django
    warm = client.http.post("/api/mcp/tools/call", content=body, headers=same_id)
    assert (
        fast.stats["django"] == before.get("django", 0) + 1
        and fast.stats["fast"] == before.get("fast", 0) + 1
    )
    assert cold.status_code == warm.status_code == status
    assert cold.headers["x-request-id"] == warm.headers["x-request-id"] == f"req-{tool}"
    cold_body, warm_body = cold.json(), warm.json()
    cold_body = cold_body.get("error", cold_body)
    warm_body = warm_body.get("error", warm_body)
    assert cold_body.pop("audit_id") != warm_body.pop("audit_id")
    cold_body.pop("duration_ms", None), warm_body.pop("duration_ms", None)
    assert cold_body == warm_body
    assert set(cold.headers) == set(warm.headers)
    for header in set(cold.headers) - {"date", "content-length"}:
        assert cold.headers[header] == warm.headers[header], header


def test_a_revoked_key_is_refused_on_the_next_call(shared_mcp_servers, register_mcp, authed_client):
    from permissions.models import ApiKey
    from permissions.services import api_key_revoke

    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "ok"}).status_code == 200
    api_key_revoke(key=ApiKey.objects.get(user=client.user))
    response = client.http.post(
        "/api/mcp/tools/call", json={"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "no"}}
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


def test_both_paths_share_one_rate_limit_count(
    shared_mcp_servers, register_mcp, authed_client, make_user
):
    from permissions.models import Role

    register_mcp("test_mcp", shared_mcp_servers["http"])
    Role.objects.create(name="tiny", requests_per_hour=3)
    client = authed_client(user=make_user(role="tiny"))
    body = json.dumps({"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "x"}})
    before = fast.stats["fast"]
    statuses = [client.http.post("/api/mcp/tools/call", content=body).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert fast.stats["fast"] == before + 3  # the first call was Django's, then three fast ones
    refused = client.http.post("/api/mcp/tools/call", content=body)
    error = refused.json()["error"]
    assert (
        error["code"] == "rate_limited"
        and error["limit"] == 3
        and int(refused.headers["retry-after"]) >= 1
    )
    assert AuditLog.objects.get(pk=error["audit_id"]).status == "rate_limited"
    # Recorded in parallel with the limit: the refusal is the outcome of its own request record.
    assert AuditLog.objects.get(pk=error["audit_id"]).request_record.mcp == "test_mcp"
    assert AuditRequest.objects.filter(user=client.user, outcome__isnull=True).count() == 0


def test_with_redis_unreachable_fast_calls_go_to_django_which_counts_in_the_database(
    shared_mcp_servers, register_mcp, authed_client, make_user, settings
):
    import dataclasses

    import redis.asyncio

    from audit.models import RateLimitHit
    from audit.ratelimit import redis_key
    from omni2.asgi import application
    from permissions.models import Role
    from testing.outages import closed_port, redis_unreachable

    register_mcp("test_mcp", shared_mcp_servers["http"])
    Role.objects.create(name="tiny", requests_per_hour=3)
    client = authed_client(user=make_user(role="tiny"))
    cache.client.get_client().delete(redis_key(f"user:{client.user.pk}"))  # ids repeat between runs
    body = json.dumps({"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "x"}})
    assert client.http.post("/api/mcp/tools/call", content=body).status_code == 200  # memoised now
    clients = application.clients
    application.clients = dataclasses.replace(
        clients, redis=redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    )
    redis_unreachable(settings)  # and Django's cache, as in a real outage of the one Redis
    try:
        before = dict(fast.stats)
        statuses = [
            client.http.post("/api/mcp/tools/call", content=body).status_code for _ in range(4)
        ]
    finally:
        application.clients = clients
    assert statuses == [
        200,
        200,
        200,
        429,
    ]  # the database's count: the limit holds, never fails open
    assert fast.stats["fast"] == before["fast"] and fast.stats["django"] == before["django"] + 4
    assert RateLimitHit.objects.filter(key=f"user:{client.user.pk}").count() == 3


def test_with_the_database_unreachable_a_fast_call_is_503_service_unavailable(
    shared_mcp_servers, register_mcp, authed_client
):
    import asyncio
    import dataclasses

    from psycopg_pool import AsyncConnectionPool

    from omni2.asgi import application
    from testing.outages import closed_port

    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    body = json.dumps({"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "x"}})
    assert client.http.post("/api/mcp/tools/call", content=body).status_code == 200  # memoised now
    loop = get_pool()._loop  # the server's own loop, where the fast path awaits its pool
    unreachable = AsyncConnectionPool(
        f"postgresql://127.0.0.1:{closed_port()}/none", min_size=1, timeout=1, open=False
    )
    asyncio.run_coroutine_threadsafe(unreachable.open(wait=False), loop).result(timeout=10)
    clients = application.clients
    application.clients = dataclasses.replace(clients, db=unreachable)
    try:
        before = fast.stats["fast"]
        response = client.http.post("/api/mcp/tools/call", content=body)
    finally:
        application.clients = clients
    assert fast.stats["fast"] == before + 1
    assert (response.status_code, response.json()["error"]["code"]) == (503, "service_unavailable")
    asyncio.run_coroutine_threadsafe(unreachable.close(), loop).result(timeout=10)


def test_without_the_cached_policy_version_django_answers(
    shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "warm"}).status_code == 200
    cache.delete(VERSION_KEY)  # expired, or a Redis blip at commit
    before = dict(fast.stats)
    response = client.http.post(
        "/api/mcp/tools/call", json={"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "x"}}
    )
    assert response.status_code == 200 and response.json()["success"]
    assert fast.stats["django"] == before.get("django", 0) + 1 and fast.stats["fast"] == before.get(
        "fast", 0
    )
    # The fast path had recorded the request before it knew; Django finished it on that record.
    assert AuditLog.objects.get(pk=response.json()["audit_id"]).request_record is not None
    assert AuditRequest.objects.filter(user=client.user).count() == 2  # warm-up + this one
    assert AuditRequest.objects.filter(user=client.user, outcome__isnull=True).count() == 0


def test_concurrent_fast_calls_each_get_their_answer_and_audit_row(
    shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "warm"}).status_code == 200

    def one(i):
        with httpx.Client(
            base_url=str(client.http.base_url), headers=client.http.headers, timeout=30
        ) as own:
            return own.post(
                "/api/mcp/tools/call",
                json={"mcp": "test_mcp", "tool": "echo", "arguments": {"text": f"n{i}"}},
            ).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(32)))
    assert all(f'"n{i}"' in json.dumps(answer["result"]) for i, answer in enumerate(answers))
    rows = AuditLog.objects.filter(pk__in=[a["audit_id"] for a in answers])
    assert rows.count() == 32 and {row.status for row in rows} == {"success"}


def test_a_repeated_authorization_header_is_left_to_django(
    shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "warm"}).status_code == 200
    key = client.http.headers["Authorization"]
    before = dict(fast.stats)
    with httpx.Client(base_url=str(client.http.base_url), timeout=30) as raw:
        response = raw.post(
            "/api/mcp/tools/call",
            content=json.dumps({"mcp": "test_mcp", "tool": "echo"}),
            headers=[
                ("Content-Type", "application/json"),
                ("Authorization", key),
                ("Authorization", key),
            ],
        )
    assert response.status_code == 401  # Django joins the two values, which is no key at all
    assert fast.stats["django"] == before.get("django", 0) + 1 and fast.stats["fast"] == before.get(
        "fast", 0
    )
