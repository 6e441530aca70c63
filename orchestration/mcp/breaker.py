"""A per-server circuit breaker: plain state and a clock, no I/O, no locks.

Only the pool's event-loop thread touches a breaker, so it needs no locking.
closed --N failures--> open --cool-down--> half-open (one trial) --ok--> closed
                                                         `--fail--> open again
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    threshold: int = 3
    cooldown_seconds: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    @property
    def is_open(self) -> bool:
        """Open, or half-open with its one trial call still running."""
        return self.opened_at is not None and (self.trial_in_flight or not self._cooled_down())

    def _cooled_down(self) -> bool:
        return self.opened_at is not None and self.clock() - self.opened_at >= self.cooldown_seconds

    def allow(self) -> bool:
        """May a call go out now? After the cool-down, exactly one trial call may."""
        if self.opened_at is None:
            return True
        if self.trial_in_flight or not self._cooled_down():
            return False
        self.trial_in_flight = True
        return True

    def record_success(self) -> None:
        self.failures, self.opened_at, self.trial_in_flight = 0, None, False

    def record_failure(self) -> None:
        self.failures += 1
        if self.trial_in_flight or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.trial_in_flight = False

    def release_trial(self) -> None:
        """The trial ended without a verdict on the server (e.g. the caller gave up)."""
        self.trial_in_flight = False

    def seconds_until_retry(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_seconds - (self.clock() - self.opened_at))
