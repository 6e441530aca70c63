"""/metrics adds up the test process and a real Celery worker; the worker logs JSON lines that
carry the request id of the request that queued its job, as the job's audit row does."""

import json
import time
from pathlib import Path

import pytest
from django.conf import settings

from audit.cost import cost_usd
from audit.models import AuditLog
from omni2.tests.scrape import delta, scrape, value
from testing.celery_worker import running_worker
from testing.fake_llm import text, tool_use
from testing.fixtures.llm import fake_llm_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

FIRST_TURN = {"input_tokens": 120, "output_tokens": 30, "cache_read_tokens": 0}
SECOND_TURN = {"input_tokens": 200, "output_tokens": 45, "cache_read_tokens": 1000}
HEALTH = ("test_mcp__get_database_health", {"database": "dev_db"})


@pytest.fixture(scope="module")
def json_worker(django_db_setup, django_db_blocker, fake_llm_server):
    """A worker on the fake LLM, logging JSON lines (its log file: ``worker-<queue>.log``)."""
    env = {**fake_llm_env(fake_llm_server), "OMNI2_LOG_FORMAT": "json"}
    with django_db_blocker.unblock(), running_worker(extra_env=env) as worker:
        worker.log_path = Path(settings.VAR_DIR) / f"worker-{worker.queue}.log"
        yield worker


@pytest.fixture
def dba(shared_mcp_servers, register_mcp, authed_client):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    return authed_client(role="dba")


def call_tool(client, tool, arguments):
    body = {"mcp": "test_mcp", "tool": tool, "arguments": arguments}
    return client.post("/api/mcp/tools/call", body, format="json")


def ask_in_the_worker(client, **headers) -> dict:
    response = client.post("/api/chat/ask/async", {"message": "health?"}, format="json", **headers)
    assert response.status_code == 202, response.content
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(f"/api/jobs/{response.json()['job_id']}").json()
        if body["status"] in ("succeeded", "failed"):
            assert body["status"] == "succeeded", body
            return {"result": body["result"], "request_id": response["X-Request-ID"]}
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def test_figures_of_the_test_process_and_a_worker_add_up(
    json_worker, fake_llm, dba, authed_client, client
):
    model = settings.OMNI2_DEFAULT_MODEL
    before = scrape(client)
    # In this process: two answered calls, one denied, one to a tool that does not exist.
    for _ in range(2):
        assert call_tool(dba, "get_database_health", {"database": "dev_db"}).status_code == 200
    assert call_tool(dba, "drop_table", {"name": "users"}).status_code == 403
    assert call_tool(dba, "no_such_tool", {}).status_code == 404
    # A contractor (20 requests an hour) asking a 21st time is refused by the limiter.
    contractor = authed_client(role="contractor")
    statuses = [call_tool(contractor, "echo", {"text": "x"}).status_code for _ in range(21)]
    assert statuses.count(429) == 1 and statuses[-1] == 429
    # In the worker: a chat job with one tool call and two model turns.
    fake_llm.script(tool_use(*HEALTH, usage=FIRST_TURN), text("Healthy.", usage=SECOND_TURN))
    job = ask_in_the_worker(dba)
    after = scrape(client)

    def changed(name, **labels):
        return delta(before, after, name, **labels)

    ok = {"mcp": "test_mcp", "tool": "get_database_health", "outcome": "success"}
    assert changed("omni2_tool_calls_total", **ok) == 3  # 2 here + 1 in the worker
    echoed = {"mcp": "test_mcp", "tool": "echo", "outcome": "success"}
    assert changed("omni2_tool_calls_total", **echoed) == 20  # the contractor's, before the 429
    # Durations of the calls that reached the server: 3 health checks and 20 echoes.
    assert changed("omni2_tool_call_duration_seconds_count", mcp="test_mcp") == 23
    denied = {"mcp": "test_mcp", "tool": "drop_table", "outcome": "denied"}
    assert changed("omni2_tool_calls_total", **denied) == 1
    unknown = {"mcp": "(unknown)", "tool": "(unknown)", "outcome": "denied"}
    assert changed("omni2_tool_calls_total", **unknown) == 1
    assert changed("omni2_rate_limited_total", role="contractor") == 1
    # Only the worker spoke to the model.
    assert changed("omni2_llm_requests_total", model=model, outcome="success") == 2
    assert changed("omni2_llm_tokens_total", model=model, kind="input") == 320
    assert changed("omni2_llm_tokens_total", model=model, kind="output") == 75
    assert changed("omni2_llm_tokens_total", model=model, kind="cache_read") == 1000
    expected_cost, _ = cost_usd(
        model=model, input_tokens=320, output_tokens=75, cache_read_tokens=1000
    )
    audit = AuditLog.objects.get(pk=job["result"]["audit_id"])
    assert audit.cost_usd == expected_cost
    assert changed("omni2_llm_cost_usd_total", model=model) == pytest.approx(float(expected_cost))
    assert value(after, "omni2_mcp_up", mcp="test_mcp") == 1.0


def test_the_worker_logs_json_lines_with_the_request_id_of_the_job_s_request(
    json_worker, fake_llm, dba
):
    fake_llm.script(tool_use(*HEALTH), text("Healthy."))
    job = ask_in_the_worker(dba, HTTP_X_REQUEST_ID="job-request-7f3a")
    assert job["request_id"] == "job-request-7f3a"
    audit = AuditLog.objects.get(pk=job["result"]["audit_id"])
    assert audit.request_id == "job-request-7f3a"
    assert all(call.status == "success" for call in audit.tool_calls.all())
    lines = worker_json_lines(json_worker.log_path)
    assert {"time", "level", "logger", "message", "request_id"} <= set(lines[-1])
    succeeded = [
        line
        for line in lines
        if line["logger"] == "celery.app.trace" and "succeeded" in line["message"]
    ]
    assert "job-request-7f3a" in {line["request_id"] for line in succeeded}


def worker_json_lines(path: Path, timeout: float = 10.0) -> list[dict]:
    # The worker writes its last line just after the job's status changes: wait for it.
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            json.loads(line)
            for line in path.read_text().splitlines()
            if line.startswith("{") and line.endswith("}")
        ]
        if any("job-request-7f3a" == line.get("request_id") for line in lines):
            return lines
        if time.monotonic() > deadline:
            return lines
        time.sleep(0.1)
