"""The chat loop through the real anthropic/openai SDKs, a local LLM API server and real MCP servers."""

import pytest

from audit.models import AuditLog
from testing.fake_llm import error, text, tool_use, tool_uses

pytestmark = pytest.mark.django_db


def ask(client, message, **extra):
    return client.post("/api/chat/ask", {"message": message, **extra}, format="json")


@pytest.fixture
def test_mcp(shared_mcp_servers, register_mcp):
    handle = shared_mcp_servers["http"]
    register_mcp("test_mcp", handle)
    return handle


def offered(request) -> set[str]:
    return {tool["name"] for tool in request.body.get("tools", [])}


def test_a_two_tool_two_iteration_conversation(fake_llm, test_mcp, authed_client):
    fake_llm.script(
        tool_uses(
            ("test_mcp__get_database_health", {"database": "dev_db"}),
            ("test_mcp__get_top_queries", {"database": "dev_db", "limit": 2}),
        ),
        text("dev_db is healthy; the top query takes 200 ms."),
    )
    response = ask(authed_client(role="dba"), "How is dev_db?")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["iterations"] == 2
    assert body["answer"] == "dev_db is healthy; the top query takes 200 ms."
    assert body["tools_used"] == ["test_mcp.get_database_health", "test_mcp.get_top_queries"]
    assert [r["is_error"] for r in body["tool_results"]] == [False, False]
    assert body["tool_results"][0]["result"]["status"] == "healthy"
    # The second request carried both tool results back to the model.
    second = fake_llm.requests_to("/v1/messages")[1].body["messages"][-1]["content"]
    assert [block["type"] for block in second] == ["tool_result", "tool_result"]
    audit = AuditLog.objects.get(pk=body["audit_id"])
    assert audit.iterations == 2 and audit.tool_calls.count() == 2 and audit.status == "success"


def test_the_model_is_offered_exactly_the_users_permitted_tools(
    fake_llm, test_mcp, authed_client, client
):
    fake_llm.script(text("hello"))
    ask(authed_client(role="power_user"), "hi")
    names = offered(fake_llm.requests_to("/v1/messages")[0])
    api_key_client = authed_client(role="power_user")
    permitted = {
        f"{t['mcp']}__{t['name']}"
        for t in api_key_client.get("/api/mcp/tools/list").json()["tools"]
    }
    assert names == permitted
    assert (
        "test_mcp__drop_table" not in names and "test_mcp__compare_mysql_query_plans" not in names
    )
    assert "test_mcp__echo" in names


def test_prompt_caching_marks_the_last_tool_and_the_system_prompt(
    fake_llm, test_mcp, authed_client
):
    fake_llm.script(text("ok"))
    ask(authed_client(role="dba"), "hi")
    body = fake_llm.requests_to("/v1/messages")[0].body
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "Role: dba" in body["system"][0]["text"]


def test_a_model_asking_for_blocked_or_admin_only_tools_gets_errors_and_the_server_sees_nothing(
    fake_llm, test_mcp, authed_client
):
    before = test_mcp.stats()["tool_calls"]
    fake_llm.script(
        tool_uses(
            ("test_mcp__drop_table", {"name": "users"}),
            ("test_mcp__compare_mysql_query_plans", {"query_a": "SELECT 1", "query_b": "SELECT 2"}),
        ),
        text("I am not allowed to do that."),
    )
    body = ask(authed_client(role="power_user"), "Drop the users table").json()
    assert [r["is_error"] for r in body["tool_results"]] == [True, True]
    assert body["tools_used"] == []
    results = fake_llm.requests_to("/v1/messages")[1].body["messages"][-1]["content"]
    assert all(block["is_error"] for block in results)
    assert "blocked" in str(results[0]["content"]).lower()
    after = test_mcp.stats()["tool_calls"]
    for tool in ("drop_table", "compare_mysql_query_plans"):
        assert after.get(tool, 0) == before.get(tool, 0)
    calls = AuditLog.objects.get(pk=body["audit_id"]).tool_calls.all()
    assert {c.status for c in calls} == {"denied"}


def test_a_database_outside_the_users_list_is_refused_inside_a_chat(
    fake_llm, test_mcp, authed_client, make_user
):
    fake_llm.script(tool_use("test_mcp__get_database_health", {"database": "prod"}), text("denied"))
    client = authed_client(user=make_user(role="dba", allowed_databases=["dev_*"]))
    body = ask(client, "health of prod").json()
    assert body["tool_results"][0]["is_error"] is True


def test_the_seed_cost_example_from_the_usage_the_server_reports(fake_llm, authed_client, settings):
    settings.OMNI2_ALLOWED_MODELS = ["claude-3-5-haiku-20241022"]
    fake_llm.script(
        text(
            "Python is a language.",
            usage={"input_tokens": 140, "output_tokens": 346, "cache_read_tokens": 7589},
        )
    )
    body = ask(authed_client(), "What is Python?", model="claude-3-5-haiku-20241022").json()
    assert body["usage"] == {
        "input_tokens": 140,
        "output_tokens": 346,
        "cache_read_tokens": 7589,
        "cache_write_tokens": 0,
    }
    assert body["cost_usd"] == pytest.approx(0.002103, abs=1e-9)
    assert str(AuditLog.objects.get(pk=body["audit_id"]).cost_usd) == "0.002103"


def test_usage_is_summed_across_turns(fake_llm, test_mcp, authed_client):
    usage = {
        "input_tokens": 100,
        "output_tokens": 10,
        "cache_read_tokens": 1000,
        "cache_write_tokens": 50,
    }
    fake_llm.script(
        tool_use("test_mcp__echo", {"text": "x"}, usage=usage), text("done", usage=usage)
    )
    body = ask(authed_client(role="dba"), "echo").json()
    assert body["usage"] == {key: 2 * value for key, value in usage.items()}


def test_max_iterations_ends_the_loop_with_a_warning(fake_llm, test_mcp, authed_client, settings):
    settings.OMNI2_MAX_ITERATIONS = 3
    fake_llm.respond_with(tool_use("test_mcp__echo", {"text": "again"}))
    body = ask(authed_client(role="dba"), "loop forever").json()
    assert body["iterations"] == 3
    assert AuditLog.objects.get(pk=body["audit_id"]).status == "warning"


def test_thread_memory_carries_the_last_exchanges(fake_llm, authed_client, settings):
    settings.OMNI2_THREAD_MAX_EXCHANGES = 2
    client = authed_client()
    for i in range(3):
        fake_llm.script(text(f"answer {i}"))
        ask(client, f"question {i}", thread_id="t-1")
    fake_llm.script(text("answer 3"))
    ask(client, "question 3", thread_id="t-1")
    messages = fake_llm.requests_to("/v1/messages")[-1].body["messages"]
    contents = [
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in messages
    ]
    assert contents == ["question 1", "answer 1", "question 2", "answer 2", "question 3"]


def test_another_user_cannot_read_a_thread_by_naming_its_id(fake_llm, authed_client):
    fake_llm.script(text("secret answer"))
    ask(authed_client(), "secret question", thread_id="shared-name")
    fake_llm.script(text("fresh"))
    ask(authed_client(), "hello", thread_id="shared-name")
    assert len(fake_llm.requests_to("/v1/messages")[-1].body["messages"]) == 1


@pytest.mark.parametrize(
    "status, code", [(401, "llm_auth_failed"), (429, "llm_rate_limited"), (529, "llm_overloaded")]
)
def test_provider_failures_are_502_llm_unavailable_with_an_audit_row(
    fake_llm, authed_client, status, code, settings
):
    settings.OMNI2_LLM_MAX_RETRIES = 1
    fake_llm.respond_with(error(status, retry_after_ms=1))
    response = ask(authed_client(), "hi")
    assert response.status_code == 502
    body = response.json()["error"]
    assert body["code"] == "llm_unavailable" and body["message"]
    log = AuditLog.objects.get(pk=body["audit_id"])
    assert log.status == "error" and log.error == body["message"]
    assert log.request_record is not None  # recorded before the first LLM turn
    expected = 1 if status == 401 else 2  # 401 is permanent: never retried
    assert len(fake_llm.requests_to("/v1/messages")) == expected


def test_an_overloaded_provider_is_retried_then_answers(fake_llm, authed_client):
    fake_llm.script(error(529, retry_after_ms=1), error(529, retry_after_ms=1), text("made it"))
    body = ask(authed_client(), "hi").json()
    assert body["success"] is True and body["answer"] == "made it"


def test_a_provider_timeout_is_502_llm_unavailable(fake_llm, authed_client, settings):
    settings.OMNI2_LLM_TIMEOUT_SECONDS = 0.3
    settings.OMNI2_LLM_MAX_RETRIES = 0
    fake_llm.script(text("too late", delay_ms=2000))
    response = ask(authed_client(), "hi")
    assert response.status_code == 502
    body = response.json()["error"]
    assert body["code"] == "llm_unavailable" and "tim" in body["message"].lower()


def test_no_llm_configured_is_503_and_tools_still_work(settings, test_mcp, authed_client):
    settings.ANTHROPIC_API_KEY = ""
    settings.OMNI2_LLM_PROVIDER = "anthropic"
    client = authed_client(role="dba")
    response = ask(client, "hi")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_not_configured"
    direct = client.post(
        "/api/mcp/tools/call",
        {"mcp": "test_mcp", "tool": "echo", "arguments": {"text": "x"}},
        format="json",
    )
    assert direct.status_code == 200


def test_a_model_outside_the_allow_list_is_400(fake_llm, authed_client):
    response = ask(authed_client(), "hi", model="gpt-0-unknown")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_the_openai_compatible_provider_runs_the_same_loop(fake_openai, test_mcp, authed_client):
    fake_openai.script(tool_use("test_mcp__add", {"a": 1, "b": 2}), text("1 + 2 = 3"))
    body = ask(authed_client(role="dba"), "add 1 and 2").json()
    assert body["success"] is True and body["answer"] == "1 + 2 = 3"
    assert body["tools_used"] == ["test_mcp.add"]


def test_one_turns_tool_calls_run_concurrently(fake_llm, mcp_server, register_mcp, authed_client):
    handle = mcp_server("http")
    register_mcp("slow_mcp", handle)
    fake_llm.script(
        tool_uses(
            ("slow_mcp__slow", {"seconds": 0.5}),
            ("slow_mcp__slow", {"seconds": 0.5}),
            ("slow_mcp__slow", {"seconds": 0.5}),
        ),
        text("done"),
    )
    ask(authed_client(role="dba"), "three slow things")
    assert handle.stats()["max_in_flight"] == 3
