"""Finished chat jobs are deleted after the retention period; stored results are capped."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from omni2.celery import app as celery_app
from orchestration import jobs
from orchestration.jobs import chat_job_claim, result_capped
from orchestration.models import ChatJob
from orchestration.tasks import chat_jobs_purge_task

pytestmark = pytest.mark.django_db


def _job(user, status, age_days):
    job = ChatJob.objects.create(user=user, request={"message": "hi"}, status=status)
    ChatJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(days=age_days))
    return job


def test_the_purge_deletes_only_finished_jobs_past_the_retention(make_user, settings):
    settings.OMNI2_CHAT_JOB_RETENTION_DAYS = 7
    user = make_user()
    old_done, old_failed = _job(user, "succeeded", 8), _job(user, "failed", 8)
    recent, old_running, old_queued = (
        _job(user, "succeeded", 6),
        _job(user, "running", 8),
        _job(user, "queued", 8),
    )

    assert chat_jobs_purge_task.apply().get() == 2

    left = set(ChatJob.objects.values_list("pk", flat=True))
    assert left == {recent.pk, old_running.pk, old_queued.pk}
    assert not {old_done.pk, old_failed.pk} & left


@pytest.fixture
def unconsumed_queue():
    previous, name = celery_app.conf.task_default_queue, f"retention-{uuid.uuid4().hex[:8]}"
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = previous
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)


def test_submitting_a_job_purges_expired_ones_without_a_scheduler(
    make_user, fake_llm, unconsumed_queue, monkeypatch, settings
):
    settings.OMNI2_CHAT_JOB_RETENTION_DAYS = 7
    monkeypatch.setattr(jobs, "_last_purge", float("-inf"))
    user = make_user()
    expired = _job(user, "succeeded", 30)
    new = jobs.chat_job_submit(user=user, message="hi")
    assert set(ChatJob.objects.values_list("pk", flat=True)) == {new.pk}
    assert expired.pk != new.pk


def test_a_stored_result_keeps_its_answer_and_marks_the_tool_results_it_dropped():
    huge = "x" * 3_000_000
    result = {
        "success": True,
        "answer": "Done.",
        "tool_results": [
            {"mcp": "db", "tool": "dump", "arguments": {}, "result": huge, "is_error": False},
            {
                "mcp": "db",
                "tool": "health",
                "arguments": {},
                "result": {"status": "ok"},
                "is_error": False,
            },
        ],
    }
    capped = result_capped(result, max_bytes=1_000_000)
    assert len(json.dumps(capped)) <= 1_000_000
    assert capped["answer"] == "Done."
    dropped, kept = capped["tool_results"]
    assert dropped["result"]["truncated"] is True and dropped["result"]["bytes"] > 3_000_000
    assert "capped at 1000000 bytes" in dropped["result"]["message"]
    assert kept["result"] == {"status": "ok"}
    assert result["tool_results"][0]["result"] is huge  # the caller's result is left alone


def test_a_finished_job_stores_its_result_capped(make_user, settings):
    settings.OMNI2_CHAT_JOB_MAX_RESULT_BYTES = 10_000
    job = ChatJob.objects.create(user=make_user(), request={"message": "hi"})
    assert isinstance(chat_job_claim(job_id=str(job.pk), owner="me:1:a"), ChatJob)
    big = {"success": True, "answer": "ok", "tool_results": [{"result": "y" * 50_000}]}
    assert jobs._finish(str(job.pk), "me:1:a", "succeeded", big, "")
    job.refresh_from_db()
    assert (
        job.status == "succeeded" and job.result["tool_results"][0]["result"]["truncated"] is True
    )
