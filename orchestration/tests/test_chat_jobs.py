"""Async chat jobs answered by real Celery worker processes."""

import time

import pytest

from orchestration.models import ChatJob
from orchestration.tasks import chat_job_run
from testing.celery_worker import running_worker
from testing.fake_llm import text, tool_uses
from testing.fixtures.llm import fake_llm_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def llm_workers(django_db_setup, django_db_blocker, fake_llm_server):
    """Two worker processes that talk to the fake LLM; the first takes the default queue."""
    env = fake_llm_env(fake_llm_server)
    with (
        django_db_blocker.unblock(),
        running_worker(extra_env=env) as first,
        running_worker(extra_env=env, make_default=False) as second,
    ):
        yield first, second


def wait_for(client, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/jobs/{job_id}").json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {body}")


def test_a_two_tool_conversation_runs_in_a_real_worker(
    llm_workers, fake_llm, shared_mcp_servers, register_mcp, authed_client
):
    register_mcp("test_mcp", shared_mcp_servers["http"])
    fake_llm.script(
        tool_uses(
            ("test_mcp__get_database_health", {"database": "dev_db"}),
            ("test_mcp__list_available_databases", {}),
        ),
        text("All healthy."),
    )
    client = authed_client(role="dba")
    response = client.post("/api/chat/ask/async", {"message": "health?"}, format="json")
    assert response.status_code == 202
    body = wait_for(client, response.json()["job_id"])
    assert body["status"] == "succeeded", body
    result = body["result"]
    assert result["answer"] == "All healthy." and result["iterations"] == 2
    assert result["tools_used"] == [
        "test_mcp.get_database_health",
        "test_mcp.list_available_databases",
    ]


def test_a_job_is_visible_only_to_its_owner_or_an_admin(llm_workers, fake_llm, authed_client):
    fake_llm.respond_with(text("fine"))
    owner = authed_client()
    job_id = owner.post("/api/chat/ask/async", {"message": "hi"}, format="json").json()["job_id"]
    wait_for(owner, job_id)
    assert authed_client().get(f"/api/jobs/{job_id}").status_code == 404
    assert authed_client(role="admin").get(f"/api/jobs/{job_id}").json()["status"] == "succeeded"


def test_thread_memory_is_shared_by_two_worker_processes(llm_workers, fake_llm, authed_client):
    first, second = llm_workers
    user = authed_client().user
    fake_llm.script(text("The answer is 42."), text("You asked about the answer."))
    for worker, message in [(first, "What is the answer?"), (second, "What did I ask?")]:
        job = ChatJob.objects.create(user=user, request={"message": message, "thread_id": "t-9"})
        chat_job_run.apply_async(args=[str(job.pk)], queue=worker.queue).get(timeout=60)
    second_request = fake_llm.requests_to("/v1/messages")[-1].body["messages"]
    assert len(second_request) == 3
    assert second_request[1]["content"] == "The answer is 42."
    assert ChatJob.objects.filter(status="succeeded").count() == 2


def test_a_failing_provider_ends_the_job_failed_with_a_reason(
    llm_workers, fake_llm, authed_client, settings
):
    fake_llm.respond_with(lambda body: __import__("testing.fake_llm").fake_llm.error(401))
    client = authed_client()
    job_id = client.post("/api/chat/ask/async", {"message": "hi"}, format="json").json()["job_id"]
    body = wait_for(client, job_id)
    assert body["status"] == "failed" and body["result"]["success"] is False
