"""POST /api/mcp/tools/call and GET /api/mcp/tools/list through real MCP servers."""

import json

import pytest

from audit.models import AuditLog, AuditRequest

pytestmark = pytest.mark.django_db


def call(client, mcp, tool, arguments=None):
    return client.post(
        "/api/mcp/tools/call",
        {"mcp": mcp, "tool": tool, "arguments": arguments or {}},
        format="json",
    )


def error_code(response):
    return response.json()["error"]["code"]


@pytest.mark.parametrize("transport", ["http", "sse", "stdio"])
def test_each_transport_answers_through_the_endpoint(
    transport, shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers[transport])
    client = authed_client(role="dba")
    response = call(client, "test_mcp", "add", {"a": 2, "b": 40})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert "42" in json.dumps(body["result"])
    audit = AuditLog.objects.get(pk=body["audit_id"])
    assert audit.status == "success" and audit.tools_called == ["test_mcp.add"]
    assert [c.tool for c in audit.tool_calls.all()] == ["add"]


def test_a_wrong_bearer_token_is_refused_by_the_server(
    shared_mcp_servers, register_mcp, authed_client
):
    handle = shared_mcp_servers["http"]
    server = register_mcp("test_mcp", handle)
    server.set_bearer_token("not-the-token")
    server.save()
    response = call(authed_client(role="dba"), "test_mcp", "echo", {"text": "hi"})
    assert response.status_code == 502
    assert error_code(response) == "mcp_unavailable"


def test_many_calls_share_one_session(mcp_server, register_mcp, authed_client):
    handle = mcp_server("http")  # a fresh server: it must see exactly one handshake
    register_mcp("test_mcp", handle)
    client = authed_client(role="dba")
    for i in range(10):
        assert call(client, "test_mcp", "echo", {"text": str(i)}).status_code == 200
    stats = handle.stats()
    assert stats["sessions_initialized"] == 1
    assert stats["tool_calls"]["echo"] == 10


def test_a_tool_that_reports_an_error_is_a_200_with_success_false(
    shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    response = call(authed_client(role="dba"), "test_mcp", "fail", {"message": "disk on fire"})
    assert response.status_code == 200
    assert response.json()["success"] is False
    assert "disk on fire" in json.dumps(response.json()["result"])


def test_each_call_is_recorded_before_it_runs_and_its_outcome_names_the_record(
    shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    ok = call(client, "test_mcp", "echo", {"text": "hi"}).json()
    denied = call(client, "test_mcp", "drop_table", {"name": "users"}).json()["error"]
    for audit_id, status in ((ok["audit_id"], "success"), (denied["audit_id"], "denied")):
        outcome = AuditLog.objects.select_related("request_record").get(pk=audit_id)
        record = outcome.request_record
        assert outcome.status == status and record is not None
        assert (record.user_id, record.source, record.mcp) == (client.user.pk, "api", "test_mcp")
        assert record.created_at <= outcome.created_at
    assert AuditRequest.objects.get(outcome__pk=ok["audit_id"]).arguments == {"text": "hi"}


def calls_of(handle, tool) -> int:
    return handle.stats()["tool_calls"].get(tool, 0)


def test_a_blocked_tool_is_403_and_never_reaches_the_server(
    shared_mcp_servers, register_mcp, authed_client
):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    response = call(authed_client(role="dba"), "test_mcp", "drop_table", {"name": "users"})
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "permission_denied" and body["step"] == 2 and body["pattern"] == "drop_*"
    assert calls_of(handle, "drop_table") == 0
    assert AuditLog.objects.get(pk=body["audit_id"]).status == "denied"


def test_an_admin_only_tool_is_refused_to_a_non_admin(
    shared_mcp_servers, register_mcp, authed_client
):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    before = calls_of(handle, "compare_mysql_query_plans")
    args = {"query_a": "SELECT 1", "query_b": "SELECT 2"}
    assert (
        call(
            authed_client(role="power_user"), "test_mcp", "compare_mysql_query_plans", args
        ).status_code
        == 403
    )
    assert (
        call(authed_client(role="admin"), "test_mcp", "compare_mysql_query_plans", args).status_code
        == 200
    )
    assert calls_of(handle, "compare_mysql_query_plans") == before + 1


def test_a_database_outside_allowed_databases_is_refused(
    shared_mcp_servers, register_mcp, authed_client, make_user
):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    before = calls_of(handle, "get_database_health")
    client = authed_client(user=make_user(role="dba", allowed_databases=["dev_*"]))
    assert (
        call(client, "test_mcp", "get_database_health", {"database": "dev_main"}).status_code == 200
    )
    refused = call(client, "test_mcp", "get_database_health", {"database": "prod_main"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert calls_of(handle, "get_database_health") == before + 1


def test_unknown_mcp_and_unknown_tool_are_404(shared_mcp_servers, register_mcp, authed_client):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    client = authed_client(role="dba")
    assert error_code(call(client, "no_such_mcp", "echo", {"text": "x"})) == "not_found"
    assert error_code(call(client, "test_mcp", "no_such_tool")) == "not_found"


def test_a_hidden_tool_does_not_exist_for_users(shared_mcp_servers, register_mcp, authed_client):
    register_mcp(
        "test_mcp",
        shared_mcp_servers["http"],
        tool_policy_mode="allow_all_except",
        tool_patterns=["echo"],
    )
    client = authed_client(role="dba")
    assert call(client, "test_mcp", "echo", {"text": "x"}).status_code == 404
    names = {t["name"] for t in client.get("/api/mcp/tools/list").json()["tools"]}
    assert "echo" not in names and "add" in names


@pytest.mark.parametrize("arguments", [{"a": "two", "b": 3}, {"a": 1}, {"a": 1, "b": [1, 2]}])
def test_wrong_argument_types_are_400(shared_mcp_servers, register_mcp, authed_client, arguments):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    before = calls_of(handle, "add")
    response = call(authed_client(role="dba"), "test_mcp", "add", arguments)
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert calls_of(handle, "add") == before


@pytest.mark.parametrize(
    "body",
    [
        {"mcp": "test_mcp"},
        {"mcp": "Bad Name!", "tool": "echo"},
        {"mcp": "test_mcp", "tool": "echo", "arguments": [1]},
        "not an object",
    ],
)
def test_malformed_requests_are_400(authed_client, body):
    response = authed_client(role="dba").post("/api/mcp/tools/call", body, format="json")
    assert response.status_code == 400 and error_code(response) == "invalid_request"


def test_json_nested_deeper_than_the_limit_is_400(authed_client):
    from core.drf import MAX_JSON_DEPTH

    arguments = inner = {}
    for _ in range(MAX_JSON_DEPTH + 1):
        inner["a"] = inner = {}
    response = call(authed_client(role="dba"), "test_mcp", "echo", arguments)
    assert response.status_code == 400 and error_code(response) == "invalid_request"


def test_json_nested_beyond_pythons_recursion_is_400_not_500(authed_client):
    body = (
        '{"mcp": "test_mcp", "tool": "echo", "arguments": {"a": '
        + "[" * 100_000
        + "]" * 100_000
        + "}}"
    )
    response = authed_client(role="dba").post(
        "/api/mcp/tools/call", body, content_type="application/json"
    )
    assert response.status_code == 400 and error_code(response) == "invalid_request"


def test_huge_arguments_are_413(authed_client):
    response = call(
        authed_client(role="dba"), "test_mcp", "echo", {"text": "x" * (2 * 1024 * 1024)}
    )
    assert response.status_code == 413


def test_a_killed_server_gives_502_while_others_answer_and_is_used_again_when_back(
    mcp_server, register_mcp, authed_client
):
    victim, other = mcp_server("http"), mcp_server("sse")
    register_mcp("victim_mcp", victim)
    register_mcp("other_mcp", other)
    client = authed_client(role="dba")
    assert call(client, "victim_mcp", "echo", {"text": "before"}).status_code == 200
    victim.kill()
    down = call(client, "victim_mcp", "echo", {"text": "during"})
    assert down.status_code == 502 and error_code(down) == "mcp_unavailable"
    assert call(client, "other_mcp", "echo", {"text": "still here"}).status_code == 200
    victim.restart()
    assert call(client, "victim_mcp", "echo", {"text": "after"}).status_code == 200


def test_a_hanging_tool_gives_504(shared_mcp_servers, register_mcp, authed_client):
    register_mcp("test_mcp", shared_mcp_servers["http"], timeout_seconds=1)
    response = call(authed_client(role="dba"), "test_mcp", "slow", {"seconds": 10})
    assert response.status_code == 504 and error_code(response) == "mcp_timeout"


def test_tools_list_shows_only_permitted_tools_with_schemas(
    shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    tools = authed_client(role="power_user").get("/api/mcp/tools/list?mcp=test_mcp").json()["tools"]
    names = {t["name"] for t in tools}
    assert (
        "echo" in names and "drop_table" not in names and "compare_mysql_query_plans" not in names
    )
    add = next(t for t in tools if t["name"] == "add")
    assert add["mcp"] == "test_mcp" and add["input_schema"]["properties"]["a"]["type"] == "integer"


def test_tools_list_for_an_unknown_mcp_is_404(authed_client):
    assert authed_client().get("/api/mcp/tools/list?mcp=nope").status_code == 404


def test_servers_and_health_report_each_server(
    shared_mcp_servers, register_mcp, authed_client, client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    servers = authed_client(role="admin").get("/api/mcp/tools/servers").json()["servers"]
    assert [(s["name"], s["status"]) for s in servers] == [("test_mcp", "healthy")]
    assert servers[0]["tools"] >= 10 and servers[0]["latency_ms"] is not None
    health = client.get("/health").json()
    assert health["mcps"][0]["name"] == "test_mcp" and health["mcps"][0]["status"] == "healthy"


def test_admin_endpoints_are_for_admins_only(shared_mcp_servers, register_mcp, authed_client):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    user = authed_client(role="dba")
    for method, path in [
        ("get", "/api/admin/users"),
        ("get", "/api/admin/mcps"),
        ("post", "/api/admin/tools/refresh"),
    ]:
        assert getattr(user, method)(path).status_code == 403
    admin = authed_client(role="admin")
    refreshed = admin.post("/api/admin/tools/refresh", {}, format="json").json()["servers"]
    assert refreshed[0]["ok"] and refreshed[0]["tools"] >= 10
    mcps = admin.get("/api/admin/mcps").json()["mcps"]
    assert mcps[0]["name"] == "test_mcp" and "bearer_token" not in mcps[0]


def test_the_admin_mcp_list_never_shows_credentials(authed_client, gateway_policy):
    from permissions.models import McpServer

    server = McpServer(
        name="remote_mcp", transport="http", url="https://bob:hunter2@mcp.example.com/mcp"
    )
    server.set_bearer_token("tok-very-secret")
    server.set_env({"DSN": "postgres://u:pw@db/x"})
    server.save()
    body = authed_client(role="admin").get("/api/admin/mcps").content.decode()
    assert "hunter2" not in body and "tok-very-secret" not in body and "pw@db" not in body
    assert "mcp.example.com" in body and '"has_bearer_token":true' in body.replace(" ", "")
