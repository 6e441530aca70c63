"""Settings for bench/slack_ack.py's server: OMNI2 as it is, plus a bare 200 view to compare with."""

import os

from omni2.settings import *  # noqa: F403

ROOT_URLCONF = "bench._slack_ack_urls"
# A queue nobody consumes; the benchmark counts what was queued and purges it.
CELERY_TASK_DEFAULT_QUEUE = os.environ["BENCH_QUEUE"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
