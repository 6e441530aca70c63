"""Leases on background work, kept alive by the process doing it.

A Celery delivery that takes a chat job or a Slack answer holds a lease and renews it from a
daemon thread. If the worker's pool child dies (SIGKILL, OOM), the thread dies with it, the
lease lapses within ``OMNI2_JOB_LEASE_SECONDS`` and the task's redelivery may take the work
over. A delivery never takes work whose lease is alive: Celery's ``redelivered`` flag is also
set when a live worker merely lost its broker connection, so it is not proof of a death.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


def lease_seconds() -> int:
    return settings.OMNI2_JOB_LEASE_SECONDS


def lease_owner() -> str:
    """``host:pid:token``: unique per delivery, and it says which process holds the work."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseKeeper:
    """Calls ``renew()`` every third of the lease in a daemon thread while the block runs.

    ``renew`` returns False once the lease is no longer ours (then renewing stops).
    """

    def __init__(self, renew: Callable[[], bool], *, name: str):
        self.renew = renew
        self.name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=lease_seconds())

    def _run(self) -> None:
        try:
            while not self._stop.wait(max(lease_seconds() / 3, 0.1)):
                try:
                    if not self.renew():
                        logger.warning("lease %s was taken over; no longer renewing it", self.name)
                        return
                except (
                    Exception
                ) as exc:  # a blip: the next beat may succeed before the lease lapses
                    logger.warning("lease %s not renewed: %s", self.name, exc.__class__.__name__)
        finally:
            connections.close_all()  # this thread's own database connection
