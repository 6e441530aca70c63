"""The dashboard's period: whole UTC days, from a named choice or two dates.

- ``period=today``: today (UTC) so far.
- ``period=7|30|90``: the last N days, today included (today and the N-1 days before it).
- ``from=YYYY-MM-DD&to=YYYY-MM-DD``: those days, both included, at most ``MAX_DAYS``.

Whole days, not rolling 24-hour windows: the charts are per day and the rollups are daily, so
"7 days" here starts at midnight six days ago (the REST stats' ``days=7`` is 7 × 24 h).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from core.errors import ApiError

CHOICES = {"today": 1, "7": 7, "30": 30, "90": 90}
DEFAULT = "7"
MAX_DAYS = 366
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LAST_DAY = date.max - timedelta(days=1)  # the day after the period must still be a date


class PeriodInvalid(ApiError):
    """400: the page asked for a period that is not one of the choices or not two valid dates."""


@dataclass(frozen=True)
class DashboardPeriod:
    first: date
    last: date  # included
    name: str

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "days": len(self.days),
        }


def dashboard_period_parse(*, params: Mapping[str, str], today: date) -> DashboardPeriod:
    """The period named by the query ``params``; PeriodInvalid (400) for anything else."""
    # Empty fields count as absent: the page's form sends all three.
    named, first, last = (params.get(key) or None for key in ("period", "from", "to"))
    if first is not None or last is not None:
        if named is not None:
            raise PeriodInvalid("Give either period or from/to, not both.")
        return _between(first, last)
    key = (named or DEFAULT).strip().lower()
    if key not in CHOICES:
        raise PeriodInvalid(
            f"Unknown period {named!r}: use today, 7, 30 or 90, or from/to dates (YYYY-MM-DD)."
        )
    start = today - timedelta(days=CHOICES[key] - 1)
    return DashboardPeriod(
        first=start, last=today, name="today" if key == "today" else f"{key} days"
    )


def _between(first: str | None, last: str | None) -> DashboardPeriod:
    if not first or not last:
        raise PeriodInvalid("Give both from and to (YYYY-MM-DD).")
    start, end = _date(first, "from"), _date(last, "to")
    if end < start:
        raise PeriodInvalid(f"to ({end}) is before from ({start}).")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodInvalid(f"A period covers at most {MAX_DAYS} days.")
    return DashboardPeriod(first=start, last=end, name=f"{start} to {end}")


def _date(value: str, name: str) -> date:
    try:
        day = date.fromisoformat(value.strip()) if _ISO_DATE.fullmatch(value.strip()) else None
    except ValueError:
        day = None
    if day is None or day > _LAST_DAY:
        raise PeriodInvalid(f"{name} must be a date as YYYY-MM-DD, not {value[:40]!r}.")
    return day
