"""Chat questions answered in the background: ``POST /api/chat/ask/async`` and ``GET /api/jobs/{id}``."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .chat import chat_ask, chat_prepare
from .models import ChatJob
from .threads import thread_key_for_api

logger = logging.getLogger(__name__)


@transaction.atomic
def chat_job_submit(*, user, message: str, thread_id: str | None = None, model: str | None = None) -> ChatJob:
    """Validate now (model, LLM configured), answer later; the task is published after commit."""
    from .tasks import chat_job_run

    chat_prepare(user=user, model=model)
    job = ChatJob.objects.create(user=user, request={"message": message, "thread_id": thread_id,
                                                     "model": model})
    chat_job_run.delay_on_commit(str(job.pk))
    return job


def chat_job_run_service(*, job_id: str) -> None:
    """Claim the job (queued → running) exactly once, answer it, store the result."""
    claimed = ChatJob.objects.filter(pk=job_id, status=ChatJob.Status.QUEUED).update(
        status=ChatJob.Status.RUNNING, updated_at=timezone.now())
    if not claimed:
        return  # gone, or already taken by another delivery of the same task
    job = ChatJob.objects.select_related("user", "user__role").get(pk=job_id)
    request = job.request
    thread_id = request.get("thread_id")
    try:
        result = chat_ask(
            user=job.user, message=request["message"], source="api", model=request.get("model"),
            thread_key=thread_key_for_api(user_id=job.user_id, thread_id=thread_id) if thread_id else None,
        )
    except Exception as exc:  # the job must end in a state its owner can read
        logger.exception("chat job %s failed", job_id)
        _finish(job_id, ChatJob.Status.FAILED, None, getattr(exc, "message", "The job failed."))
        return
    status = ChatJob.Status.SUCCEEDED if result["success"] else ChatJob.Status.FAILED
    _finish(job_id, status, result, result.get("error") or "")


def _finish(job_id, status, result, error) -> None:
    ChatJob.objects.filter(pk=job_id).update(status=status, result=result, error=error or "",
                                             updated_at=timezone.now())


def chat_job_get(*, job_id, user, is_admin: bool) -> ChatJob | None:
    """The job if ``user`` owns it or is an admin; None otherwise (indistinguishable from absent)."""
    jobs = ChatJob.objects.all() if is_admin else ChatJob.objects.filter(user=user)
    return jobs.filter(pk=job_id).first()
