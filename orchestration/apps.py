from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    name = "orchestration"

    def ready(self):
        from celery.signals import worker_ready

        worker_ready.connect(_refresh_tools_on_start, weak=False, dispatch_uid="omni2-refresh-tools")


def _refresh_tools_on_start(sender=None, **kwargs):
    # Discovery runs in a pool process, not in the worker's main process, so the
    # main process never holds MCP sessions (or stdio children) of its own.
    from .tasks import refresh_tools

    queues = [queue.name for queue in getattr(getattr(sender, "task_consumer", None), "queues", [])]
    refresh_tools.apply_async(queue=queues[0] if queues else None)
