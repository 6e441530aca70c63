"""Reporting periods of the analytics tools: a number of days, or today / week / month.

- ``N`` (1–3650): the last N × 24 hours, exactly what ``GET /api/audit/stats?days=N`` covers.
- ``"today"``: since 00:00 UTC today.
- ``"week"``: the last 7 days (rolling, = ``days=7``), not the calendar week.
- ``"month"``: the last 30 days (rolling, = ``days=30``), not the calendar month.

Rolling windows are chosen so that "this week" in Slack and ``/api/audit/stats?days=7``
give the same figures at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

MAX_DAYS = 3650  # the same bound as the REST endpoint
NAMED_DAYS = {"week": 7, "month": 30}


class PeriodError(ValueError):
    """The caller named a period we do not know."""


@dataclass(frozen=True)
class Period:
    name: str  # "today", "week", "month" or "<n> days"
    since: datetime
    until: datetime
    days: int | None  # the REST equivalent (?days=), None for "today"
    # Only this user's rows (a non-admin caller sees nothing else); None: every user's.
    only_user: str | None = None

    def to_json(self) -> dict:
        data = {
            "name": self.name,
            "days": self.days,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }
        return data if self.only_user is None else data | {"only_user": self.only_user}


def period_resolve(*, period: int | str, now: datetime | None = None) -> Period:
    """``7`` / ``"week"`` / ``"today"`` → a Period ending ``now``; anything else → PeriodError."""
    now = now or timezone.now()
    if isinstance(period, str) and period.strip().lower() == "today":
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(name="today", since=midnight, until=now, days=None)
    days, name = _days(period)
    return Period(name=name, since=now - timedelta(days=days), until=now, days=days)


def _days(period: int | str) -> tuple[int, str]:
    if isinstance(period, str):
        key = period.strip().lower()
        if key in NAMED_DAYS:
            return NAMED_DAYS[key], key
        if not key.isdigit():
            raise PeriodError(
                f"Unknown period {period!r}: use a number of days (1-{MAX_DAYS}), "
                "'today', 'week' (last 7 days) or 'month' (last 30 days)."
            )
        period = int(key)
    # bool is an int in Python; True days is a caller's mistake, not one day.
    if isinstance(period, bool) or not isinstance(period, int) or not 1 <= period <= MAX_DAYS:
        raise PeriodError(
            f"A period in days must be a whole number from 1 to {MAX_DAYS}, not {period!r}."
        )
    return period, f"{period} days"
