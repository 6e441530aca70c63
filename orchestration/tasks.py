from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded

from .apps import REFRESH_TOOLS_TASK
from .jobs import CHAT_JOB_TASK, chat_job_run_service, chat_job_time_out, chat_jobs_purge
from .mcp.discovery import mcp_tools_refresh


class ChatJobTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # The hard time limit killed the process; the message is acked and never redelivered.
        if isinstance(exc, TimeLimitExceeded) and args:
            chat_job_time_out(
                job_id=args[0], seconds=self.time_limit or self.app.conf.task_time_limit
            )


# A redelivery that finds the job still leased by a live delivery waits for the lease, for as
# long as that takes (it is bounded by the time limit of the delivery holding it).
@shared_task(name=CHAT_JOB_TASK, base=ChatJobTask, bind=True, acks_late=True, max_retries=None)
def chat_job_run(self, job_id: str) -> None:
    wait = chat_job_run_service(job_id=job_id)
    if wait is not None:
        raise self.retry(countdown=wait)


@shared_task(name="orchestration.chat_jobs_purge")
def chat_jobs_purge_task() -> int:
    return chat_jobs_purge()


@shared_task(name=REFRESH_TOOLS_TASK, acks_late=True)
def refresh_tools() -> list[dict]:

    return mcp_tools_refresh()
