"""Outages of the servers OMNI2 leans on (Redis, PostgreSQL), told once a minute.

A request that finds a backend down must not add a traceback to the log: the first one
logs a line naming the backend, the exception's class (never its text, which may hold a
URL with a password) and what OMNI2 does meanwhile; the next line about the same backend
comes at the earliest ``REPEAT_SECONDS`` later. The first success after that logs its return.
"""

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("core.outages")

REPEAT_SECONDS = 60.0


class OutageLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock  # tests replace it to move time on without sleeping
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}  # backend → clock() of its last "down" line

    def down(self, backend: str, exc: BaseException, *, meanwhile: str) -> None:
        now = self.clock()
        with self._lock:
            last = self._last_logged.get(backend)
            if last is not None and now - last < REPEAT_SECONDS:
                return
            self._last_logged[backend] = now
        logger.error("%s is unavailable (%s); %s", backend, exc.__class__.__name__, meanwhile)

    def up(self, backend: str) -> bool:
        """Note a success; True (and one log line) if ``backend`` was down until now."""
        if backend not in self._last_logged:  # the common case: no lock taken
            return False
        with self._lock:
            was_down = self._last_logged.pop(backend, None) is not None
        if was_down:
            logger.warning("%s is available again", backend)
        return was_down


outages = OutageLog()
