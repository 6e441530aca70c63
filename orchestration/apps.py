from celery import current_app
from celery.signals import worker_ready
from django.apps import AppConfig

# Sent by name from the worker_ready signal: this module loads before models, tasks after.
REFRESH_TOOLS_TASK = "orchestration.refresh_tools"


class OrchestrationConfig(AppConfig):
    name = "orchestration"

    def ready(self):
        worker_ready.connect(
            _refresh_tools_on_start, weak=False, dispatch_uid="omni2-refresh-tools"
        )


def _refresh_tools_on_start(sender=None, **kwargs):
    # Discovery runs in a pool process, not in the worker's main process, so the
    # main process never holds MCP sessions (or stdio children) of its own.
    queues = [queue.name for queue in getattr(getattr(sender, "task_consumer", None), "queues", [])]
    current_app.send_task(REFRESH_TOOLS_TASK, queue=queues[0] if queues else None)
