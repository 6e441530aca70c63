"""A real Celery worker process for tests, on the configured broker and the test database."""

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from core.dburl import current_database_url
from omni2.celery import app as celery_app

BASE_DIR = Path(settings.BASE_DIR)


def database_url_for_tests() -> str:
    """The DATABASE_URL of the *test* database, so the worker reads what the test wrote."""
    return current_database_url()


@contextmanager
def running_worker(
    *,
    concurrency: int = 2,
    extra_env: dict | None = None,
    queue: str | None = None,
    make_default: bool = True,
):
    """Start ``celery worker`` consuming a private queue; stop it on exit.

    The private queue keeps a developer's own ``make run`` worker from taking test tasks.
    With ``make_default`` the test process publishes every task to that queue meanwhile;
    otherwise tasks reach this worker only with ``apply_async(queue=proc.queue)``.
    """
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    previous_queue = celery_app.conf.task_default_queue
    if make_default:
        celery_app.conf.task_default_queue = queue
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), **(extra_env or {})}
    log = open(Path(settings.VAR_DIR) / f"worker-{queue}.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "omni2",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Ready when it answers a ping through the broker.
        from omni2.tasks import ping

        ping.apply_async(args=["ready"], queue=queue).get(timeout=60)
        proc.queue = queue
        yield proc
    finally:
        celery_app.conf.task_default_queue = previous_queue
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
