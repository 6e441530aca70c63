from datetime import UTC, datetime, timedelta, timezone

import pytest

from audit.analytics.periods import PeriodError, period_resolve

NOW = datetime(2026, 3, 15, 14, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "days", "name"),
    [
        (1, 1, "1 days"),
        (7, 7, "7 days"),
        ("week", 7, "week"),
        ("month", 30, "month"),
        ("WEEK", 7, "week"),
        (" 12 ", 12, "12 days"),
        (3650, 3650, "3650 days"),
    ],
)
def test_a_number_of_days_or_a_name_is_a_rolling_window(period, days, name):
    resolved = period_resolve(period=period, now=NOW)
    assert (resolved.name, resolved.days) == (name, days)
    assert resolved.since == NOW - timedelta(days=days) and resolved.until == NOW


def test_today_starts_at_midnight_utc():
    resolved = period_resolve(period="today", now=NOW)
    assert resolved.since == datetime(2026, 3, 15, tzinfo=UTC) and resolved.days is None


def test_today_is_the_utc_day_even_when_now_is_given_in_another_zone():
    # 01:00 in UTC+3 on the 16th is 22:00 UTC on the 15th: "today" is still the 15th.
    local = datetime(2026, 3, 16, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert period_resolve(period="today", now=local).since == datetime(2026, 3, 15, tzinfo=UTC)


def test_a_period_serialises_to_json():
    assert period_resolve(period="week", now=NOW).to_json() == {
        "name": "week",
        "days": 7,
        "since": "2026-03-08T14:30:05+00:00",
        "until": "2026-03-15T14:30:05+00:00",
    }


@pytest.mark.parametrize("period", [0, -1, 3651, "yesterday", "", "7.5", 7.5, True, None, "-3"])
def test_anything_else_is_refused_with_the_accepted_forms(period):
    with pytest.raises(PeriodError, match="1 to 3650|'today'"):
        period_resolve(period=period, now=NOW)
