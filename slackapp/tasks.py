"""Celery tasks that answer in Slack. Thin: the work is in ``slackapp.services``.

Each task owns a claimed delivery (``key``). A transient Slack failure before the
answer is retried here; a task that fails for good releases the claim, so Slack's
own retry of the event can still be answered (``ClaimedTask.on_failure``).
"""

from celery import Task, shared_task

from . import services
from .client import SlackError
from .dedupe import delivery_release

# Nobody reads these tasks' return values: the answer goes to Slack, not to a result backend.
OPTIONS = {"bind": True, "max_retries": 3, "acks_late": True, "ignore_result": True}


class ClaimedTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if kwargs.get("key"):
            delivery_release(key=kwargs["key"])


def _run(task, service, **kwargs) -> None:
    try:
        service(**kwargs)
    except SlackError as exc:
        if exc.permanent:
            raise
        # Past max_retries, retry() re-raises exc and on_failure releases the claim.
        raise task.retry(exc=exc, countdown=2 ** task.request.retries)


@shared_task(name="slackapp.answer_event", base=ClaimedTask, **OPTIONS)
def slack_event_task(self, *, key: str, event: dict) -> None:
    _run(self, services.slack_event_answer, key=key, event=event)


@shared_task(name="slackapp.answer_command", base=ClaimedTask, **OPTIONS)
def slack_command_task(self, *, key: str, command: dict) -> None:
    _run(self, services.slack_command_answer, key=key, command=command)


@shared_task(name="slackapp.help_tools", base=ClaimedTask, **OPTIONS)
def slack_help_tools_task(self, *, key: str, slack_user_id: str, mcp: str, response_url: str) -> None:
    _run(self, services.slack_help_tools_send, key=key, slack_user_id=slack_user_id, mcp=mcp,
         response_url=response_url)
