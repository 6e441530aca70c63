from celery import shared_task

from .jobs import chat_job_run_service


@shared_task(name="orchestration.chat_job_run", acks_late=True)
def chat_job_run(job_id: str) -> None:
    chat_job_run_service(job_id=job_id)


@shared_task(name="orchestration.refresh_tools", acks_late=True)
def refresh_tools() -> list[dict]:
    from .discovery import mcp_tools_refresh

    return mcp_tools_refresh()
