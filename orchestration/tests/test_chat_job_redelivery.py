"""A chat job survives the death of its worker: it is run again and answered once."""

import os
import signal
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from orchestration.jobs import GIVEN_UP, chat_job_claim, chat_job_run_service
from orchestration.models import ChatJob
from testing.celery_worker import running_worker
from testing.fake_llm import ANTHROPIC_PATH, text
from testing.fixtures.llm import fake_llm_env

from .test_chat_jobs import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def short_lease_worker(django_db_setup, django_db_blocker, fake_llm_server):
    """One pool child, so the child we kill is the one running the job; leases of 2 s."""
    env = {**fake_llm_env(fake_llm_server), "OMNI2_JOB_LEASE_SECONDS": "2"}
    with django_db_blocker.unblock(), running_worker(concurrency=1, extra_env=env) as worker:
        yield worker


def blocking_answer(started: threading.Event, release: threading.Event):
    def respond(body):
        started.set()
        release.wait(60)
        return text("from the killed worker")

    return respond


@pytest.mark.worker
def test_a_job_whose_worker_is_killed_mid_answer_is_run_again_and_answered_once(
    short_lease_worker, fake_llm, authed_client
):
    started, release = threading.Event(), threading.Event()
    fake_llm.script(blocking_answer(started, release), text("The answer."))
    client = authed_client()
    job_id = client.post("/api/chat/ask/async", {"message": "hi"}, format="json").json()["job_id"]
    assert started.wait(60), "the worker never asked the LLM"
    job = ChatJob.objects.get(pk=job_id)
    assert (job.status, job.attempts) == ("running", 1)

    os.kill(int(job.claimed_by.split(":")[1]), signal.SIGKILL)  # the pool child mid-answer
    release.set()

    body = wait_for(client, job_id)
    assert body["status"] == "succeeded", body
    assert body["result"]["answer"] == "The answer."
    job.refresh_from_db()
    assert job.attempts == 2 and job.lease_until is None
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 2


def _job(user, **fields):
    return ChatJob.objects.create(user=user, request={"message": "hi"}, **fields)


def test_a_delivery_waits_while_another_holds_a_live_lease(make_user):
    job = _job(
        make_user(),
        status="running",
        attempts=1,
        claimed_by="elsewhere:1:a",
        lease_until=timezone.now() + timedelta(seconds=20),
    )
    wait = chat_job_run_service(job_id=str(job.pk))
    assert 0 < wait <= 22
    job.refresh_from_db()
    assert (job.status, job.attempts, job.claimed_by) == ("running", 1, "elsewhere:1:a")


def test_a_job_whose_workers_keep_dying_is_given_up_with_a_reason(make_user, settings):
    settings.OMNI2_JOB_MAX_ATTEMPTS = 3
    job = _job(
        make_user(),
        status="running",
        attempts=3,
        claimed_by="dead:1:a",
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    assert chat_job_run_service(job_id=str(job.pk)) is None
    job.refresh_from_db()
    assert job.status == "failed" and job.error == GIVEN_UP.format(n=3)


def test_a_delivery_that_lost_its_lease_does_not_overwrite_the_new_owner(make_user, fake_llm):
    fake_llm.respond_with(text("late answer"))
    job = _job(make_user())
    claimed = chat_job_claim(job_id=str(job.pk), owner="first:1:a")
    assert isinstance(claimed, ChatJob)
    # The first delivery's lease lapses and a second one takes the job over.
    ChatJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert isinstance(chat_job_claim(job_id=str(job.pk), owner="second:2:b"), ChatJob)
    from orchestration.jobs import _finish

    assert _finish(str(job.pk), "first:1:a", "succeeded", {"answer": "stale"}, "") is False
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts, job.result) == (
        "running",
        "second:2:b",
        2,
        None,
    )


def test_a_job_killed_by_the_hard_time_limit_ends_failed_with_a_reason(make_user):
    """Celery acks a task its hard limit killed (no redelivery); its on_failure ends the job."""
    from celery.exceptions import TimeLimitExceeded

    from orchestration.tasks import chat_job_run

    job = _job(
        make_user(),
        status="running",
        attempts=1,
        claimed_by="gone:1:a",
        lease_until=timezone.now() + timedelta(seconds=20),
    )
    chat_job_run.on_failure(TimeLimitExceeded(600), "task-id", [str(job.pk)], {}, None)
    job.refresh_from_db()
    assert job.status == "failed" and "past its time limit" in job.error
