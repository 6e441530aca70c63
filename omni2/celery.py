"""The Celery app. Settings live in ``omni2.settings`` under the ``CELERY_`` prefix.

A task runs under the request id of the request that queued it: the publisher puts it in a
message header, the worker sets it around the task (``core.logging``), so the task's log lines
and audit rows carry it. A task queued outside a request (beat) runs under its own task id.
Each worker process sets up tracing (``core.tracing``) once it is forked.
"""

import os

from celery import Celery
from celery.signals import (
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
)

from core.logging import request_id_get, request_id_reset, request_id_set
from core.tracing import tracing_setup
from omni2.checks import checks_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

app = Celery("omni2")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("omni2.tasks",)

REQUEST_ID_HEADER = "omni2_request_id"
_request_id_tokens = {}  # task id -> the token that restores the id from before the task


@worker_init.connect
def _refuse_unsafe_settings(**kwargs):
    # The checks a management command runs first (a placeholder secret key stops the worker).
    checks_or_exit()


@worker_process_init.connect
def _tracing(**kwargs):
    # After the fork: the exporter's thread must belong to the process that runs the tasks.
    tracing_setup(process="worker")


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    request_id = request_id_get()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect
def _adopt_request_id(task=None, task_id=None, **kwargs):
    carried = getattr(getattr(task, "request", None), REQUEST_ID_HEADER, None)
    _request_id_tokens[task_id] = request_id_set(str(carried or task_id or "")[:64])


@task_postrun.connect
def _drop_request_id(task_id=None, **kwargs):
    token = _request_id_tokens.pop(task_id, None)
    if token is not None:
        request_id_reset(token)
