"""Celery tasks that answer in Slack. Thin: the work is in ``slackapp.answers``.

Each task owns a claimed delivery (``key``). A transient Slack failure before the
answer is retried here; a task that fails for good releases the claim, so Slack's
own retry of the event can still be answered (``ClaimedTask.on_failure``). One delivery
of a task runs at a time (a lease, ``slackapp.dedupe``): when a worker dies mid-answer the
redelivered task takes over after the lease lapses and finishes the same placeholder message;
after ``OMNI2_JOB_MAX_ATTEMPTS`` runs that died, the user is told and the delivery closed.
"""

from celery import Task, shared_task
from django.conf import settings

from orchestration.leases import LeaseKeeper, lease_owner, lease_seconds

from . import alerts, answers, buttons, home
from .client import SlackError
from .dedupe import delivery_release, delivery_run_end, delivery_run_renew, delivery_run_take
from .intake import BUTTON_TASK, COMMAND_TASK, EVENT_TASK, HELP_TOOLS_TASK, HOME_TASK

ALERTS_TASK = "slackapp.alerts_check"  # celery beat (CELERY_BEAT_SCHEDULE)

# Nobody reads these tasks' return values: the answer goes to Slack, not to a result backend.
OPTIONS = {"bind": True, "max_retries": 3, "acks_late": True, "ignore_result": True}


class ClaimedTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if kwargs.get("key"):
            delivery_release(key=kwargs["key"])


def _run(task, service, **kwargs) -> None:
    key = kwargs["key"]
    owner = lease_owner()
    attempt = delivery_run_take(key=key, owner=owner)
    if not attempt:
        # Another delivery of this task is answering (or died less than a lease ago): ask
        # again, on the same queue, once its lease may have lapsed. Not a retry(): that would
        # spend the retries meant for Slack's own failures.
        task.signature_from_request(countdown=lease_seconds()).apply_async()
        return
    if attempt > settings.OMNI2_JOB_MAX_ATTEMPTS:
        answers.slack_delivery_give_up(
            key=key, event=kwargs.get("event"), command=kwargs.get("command")
        )
        delivery_run_end(key=key, owner=owner)
        return
    try:
        with LeaseKeeper(lambda: delivery_run_renew(key=key, owner=owner), name=key):
            service(**kwargs)
    except SlackError as exc:
        if exc.permanent:
            raise
        # Past max_retries, retry() re-raises exc and on_failure releases the claim.
        raise task.retry(exc=exc, countdown=2**task.request.retries)
    finally:
        delivery_run_end(key=key, owner=owner)


@shared_task(name=EVENT_TASK, base=ClaimedTask, **OPTIONS)
def slack_event_task(self, *, key: str, event: dict) -> None:
    _run(self, answers.slack_event_answer, key=key, event=event)


@shared_task(name=COMMAND_TASK, base=ClaimedTask, **OPTIONS)
def slack_command_task(self, *, key: str, command: dict) -> None:
    _run(self, answers.slack_command_answer, key=key, command=command)


@shared_task(name=HELP_TOOLS_TASK, base=ClaimedTask, **OPTIONS)
def slack_help_tools_task(
    self, *, key: str, slack_user_id: str, mcp: str, response_url: str
) -> None:
    _run(
        self,
        answers.slack_help_tools_send,
        key=key,
        slack_user_id=slack_user_id,
        mcp=mcp,
        response_url=response_url,
    )


@shared_task(name=BUTTON_TASK, base=ClaimedTask, **OPTIONS)
def slack_button_task(
    self, *, key: str, action_id: str, audit_id: int, slack_user_id: str, response_url: str
) -> None:
    _run(
        self,
        buttons.slack_button_answer,
        key=key,
        action_id=action_id,
        audit_id=audit_id,
        slack_user_id=slack_user_id,
        response_url=response_url,
    )


@shared_task(name=HOME_TASK, base=ClaimedTask, **OPTIONS)
def slack_home_task(self, *, key: str, slack_user_id: str) -> None:
    _run(self, home.slack_home_publish, key=key, slack_user_id=slack_user_id)


@shared_task(name=ALERTS_TASK, ignore_result=True)
def slack_alerts_task() -> None:
    alerts.slack_alerts_check()
