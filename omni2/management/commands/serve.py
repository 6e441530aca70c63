"""Run the web app (uvicorn), a Celery worker and celery beat side by side in the foreground.

Their metrics add up in one ``/metrics``: they write under ``PROMETHEUS_MULTIPROC_DIR``, which
is emptied here before they start.
``make run`` ends here. Ctrl-C (or SIGTERM) stops them all; if one dies, the others
are stopped too, so nothing is left running behind the terminal.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from core.metrics import multiprocess_dir_wipe


class Command(BaseCommand):
    help = "Serve OMNI2: uvicorn on --host/--port, a Celery worker and beat, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("OMNI2_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("OMNI2_PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("OMNI2_WEB_WORKERS", "1"))
        )
        parser.add_argument(
            "--concurrency", type=int, default=int(os.environ.get("OMNI2_WORKER_CONCURRENCY", "4"))
        )

    def handle(self, *args, host, port, workers, concurrency, **options):
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "omni2.web",
                "omni2.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "omni2",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
            ],
            # The periodic tasks of CELERY_BEAT_SCHEDULE (Slack alerts, purging old jobs).
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "omni2",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
            ],
        }
        # Every process that writes metrics starts below: the last run's figures go first, as
        # prometheus_client's multiprocess mode asks (core.metrics).
        multiprocess_dir_wipe()
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(
            f"OMNI2 on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs). Ctrl-C stops."
        )

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping the rest.")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.2)
        self._stop_all(children.values())
        sys.exit(exit_code)

    @staticmethod
    def _stop_all(children, grace: float = 10.0):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
