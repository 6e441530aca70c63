"""Chat questions answered in the background: ``POST /api/chat/ask/async`` and ``GET /api/jobs/{id}``."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .chat import chat_ask, chat_prepare
from .leases import LeaseKeeper, lease_owner, lease_seconds
from .models import ChatJob
from .threads import thread_key_for_api

logger = logging.getLogger(__name__)
# Published by name: the task module imports this one (tasks call services, never the reverse).
CHAT_JOB_TASK = "orchestration.chat_job_run"


def chat_job_submit(
    *, user, message: str, thread_id: str | None = None, model: str | None = None
) -> ChatJob:
    """Validate now (model, LLM configured), answer later.

    The task is published after the row is committed (a worker must find it); if the broker
    refuses the publish, the job is ended ``failed`` and ``JobsUnavailable`` raised, so no
    job is left ``queued`` that nothing will ever run.
    """
    chat_prepare(user=user, model=model)
    job = ChatJob.objects.create(
        user=user, request={"message": message, "thread_id": thread_id, "model": model}
    )
    try:
        current_app.send_task(CHAT_JOB_TASK, args=[str(job.pk)])
    except Exception as exc:  # broker down: kombu's OperationalError, a socket error…
        logger.error("chat job %s could not be queued: %s", job.pk, exc.__class__.__name__)
        ChatJob.objects.filter(pk=job.pk).update(
            status=ChatJob.Status.FAILED, error=NOT_QUEUED, updated_at=timezone.now()
        )
        raise JobsUnavailable(NOT_QUEUED) from exc
    _purge_now_and_then()
    return job


class JobsUnavailable(Exception):
    """The task queue refused the job (the broker is down)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


NOT_QUEUED = "The job could not be queued (the task queue is unavailable). Please try again."
GIVEN_UP = "The job was interrupted {n} times (its worker stopped) and was given up."
TIMED_OUT = "The job ran past its time limit ({seconds} s) and was stopped."


def chat_job_run_service(*, job_id: str) -> float | None:
    """Claim the job, answer it, store the result.

    Returns None when done (or nothing to do), or the seconds to wait before asking again
    when another delivery still holds a live lease on the job.
    """
    owner = lease_owner()
    claim = chat_job_claim(job_id=job_id, owner=owner)
    if not isinstance(claim, ChatJob):
        return claim
    with LeaseKeeper(lambda: _lease_renew(job_id, owner), name=f"job:{job_id}"):
        status, result, error = _answer(claim)
    if not _finish(job_id, owner, status, result, error):
        logger.warning("chat job %s: lost the lease before finishing; result dropped", job_id)
    return None


def chat_job_claim(*, job_id: str, owner: str) -> ChatJob | float | None:
    """Take the job for ``owner``: a queued one, or a running one whose lease has lapsed.

    Returns the claimed job; or the seconds until another delivery's live lease lapses; or
    None when there is nothing to do (gone, finished, or just given up after too many attempts).
    """
    now = timezone.now()
    free = Q(status=ChatJob.Status.QUEUED) | Q(status=ChatJob.Status.RUNNING, lease_until__lt=now)
    ChatJob.objects.filter(free, pk=job_id, attempts__lt=settings.OMNI2_JOB_MAX_ATTEMPTS).update(
        status=ChatJob.Status.RUNNING,
        attempts=F("attempts") + 1,
        claimed_by=owner,
        lease_until=now + timedelta(seconds=lease_seconds()),
        updated_at=now,
    )
    job = ChatJob.objects.select_related("user", "user__role").filter(pk=job_id).first()
    if job is None or job.status in (ChatJob.Status.SUCCEEDED, ChatJob.Status.FAILED):
        return None
    if job.claimed_by == owner:
        return job
    if job.lease_until is not None and job.lease_until >= now:
        logger.info(
            "chat job %s is held by %s until %s; asking again then",
            job_id,
            job.claimed_by,
            job.lease_until.isoformat(),
        )
        return (job.lease_until - now).total_seconds() + 1
    # Free, but every attempt so far died with its worker.
    ChatJob.objects.filter(free, pk=job_id).update(
        status=ChatJob.Status.FAILED, error=GIVEN_UP.format(n=job.attempts), updated_at=now
    )
    logger.error("chat job %s given up after %s attempts", job_id, job.attempts)
    return None


def chat_job_time_out(*, job_id: str, seconds: float) -> None:
    """The worker's hard time limit killed the job's process: end it ``failed``, with why."""
    ChatJob.objects.filter(pk=job_id, status=ChatJob.Status.RUNNING).update(
        status=ChatJob.Status.FAILED,
        error=TIMED_OUT.format(seconds=int(seconds)),
        updated_at=timezone.now(),
    )


def _answer(job: ChatJob) -> tuple[str, dict | None, str]:
    request = job.request
    thread_id = request.get("thread_id")
    try:
        result = chat_ask(
            user=job.user,
            message=request["message"],
            source="api",
            model=request.get("model"),
            thread_key=thread_key_for_api(user_id=job.user_id, thread_id=thread_id)
            if thread_id
            else None,
        )
    except Exception as exc:  # the job must end in a state its owner can read
        logger.exception("chat job %s failed", job.pk)
        return ChatJob.Status.FAILED, None, getattr(exc, "message", "The job failed.")
    status = ChatJob.Status.SUCCEEDED if result["success"] else ChatJob.Status.FAILED
    return status, result, result.get("error") or ""


def _lease_renew(job_id: str, owner: str) -> bool:
    return (
        ChatJob.objects.filter(pk=job_id, claimed_by=owner, status=ChatJob.Status.RUNNING).update(
            lease_until=timezone.now() + timedelta(seconds=lease_seconds())
        )
        == 1
    )


def _finish(job_id, owner, status, result, error) -> bool:
    """Store the outcome if ``owner`` still holds the job (a delivery that took it over wins)."""
    if result is not None:
        result = result_capped(result, max_bytes=settings.OMNI2_CHAT_JOB_MAX_RESULT_BYTES)
    return (
        ChatJob.objects.filter(pk=job_id, claimed_by=owner, status=ChatJob.Status.RUNNING).update(
            status=status,
            result=result,
            error=error or "",
            lease_until=None,
            updated_at=timezone.now(),
        )
        == 1
    )


def result_capped(result: dict, *, max_bytes: int) -> dict:
    """The result, its biggest tool results replaced by a marker until it fits ``max_bytes``."""
    if _size(result) <= max_bytes:
        return result
    entries = [dict(entry) for entry in result.get("tool_results") or []]
    capped = {**result, "tool_results": entries}
    for entry in sorted(entries, key=lambda e: _size(e.get("result")), reverse=True):
        size = _size(entry.get("result"))
        entry["result"] = {
            "truncated": True,
            "bytes": size,
            "message": f"Tool result of {size} bytes not stored (the job result is capped "
            f"at {max_bytes} bytes).",
        }
        if _size(capped) <= max_bytes:
            break
    return capped


def _size(value) -> int:
    return len(json.dumps(value, default=str).encode())


# --- retention -------------------------------------------------------------------------------

PURGE_EVERY_SECONDS = 600
_last_purge = float("-inf")


def chat_jobs_purge() -> int:
    """Delete finished jobs older than ``OMNI2_CHAT_JOB_RETENTION_DAYS``; how many went."""
    cutoff = timezone.now() - timedelta(days=settings.OMNI2_CHAT_JOB_RETENTION_DAYS)
    deleted, _ = ChatJob.objects.filter(
        status__in=(ChatJob.Status.SUCCEEDED, ChatJob.Status.FAILED), updated_at__lt=cutoff
    ).delete()
    return deleted


def _purge_now_and_then() -> None:
    # Works without `celery beat`: one submit in ten minutes per process also purges.
    global _last_purge
    if time.monotonic() - _last_purge > PURGE_EVERY_SECONDS:
        _last_purge = time.monotonic()
        chat_jobs_purge()


def chat_job_get(*, job_id, user, is_admin: bool) -> ChatJob | None:
    """The job if ``user`` owns it or is an admin; None otherwise (indistinguishable from absent)."""
    jobs = ChatJob.objects.all() if is_admin else ChatJob.objects.filter(user=user)
    return jobs.filter(pk=job_id).first()
