"""Alerts in the admin channel: probing, MCP servers down and back, a day's cost; once per window.

The clock is the ``now`` the check is given (the beat task passes the real one): windows are
crossed by moving it, never by sleeping.
"""

from datetime import UTC, datetime, timedelta

import pytest
from celery import current_app
from django.core.cache import cache
from django.utils import timezone

from audit.models import AuditLog
from audit.services import ToolCallRecord, audit_record
from slackapp.alerts import slack_alerts_check

pytestmark = pytest.mark.django_db(transaction=True)

CHANNEL = "C0ALERTS"
WINDOW = 600
HAIKU = "claude-haiku-4-5"  # $1 per million input tokens


@pytest.fixture
def alerting(fake_slack, settings):
    settings.OMNI2_SLACK_ALERT_CHANNEL = CHANNEL
    settings.OMNI2_ALERT_DENIALS_THRESHOLD = 3
    settings.OMNI2_ALERT_DENIALS_WINDOW_SECONDS = WINDOW
    settings.OMNI2_ALERT_DAILY_COST_USD = 0.0
    _forget_alerts()
    yield fake_slack
    _forget_alerts()


def _forget_alerts() -> None:
    """Claims and server states of earlier runs (the cache outlives the test database)."""
    if hasattr(cache, "delete_pattern"):  # django-redis
        cache.delete_pattern("slack:alert:*")
    else:
        cache.clear()


def _alerts(fake_slack) -> list[str]:
    return [m["text"] for m in fake_slack.messages if m["channel"] == CHANNEL]


def _denied(user, n: int) -> None:
    for _ in range(n):
        audit_record(user=user, source="api", message="db.drop_table", status="denied")


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_a_burst_of_denials_is_alerted_once_per_window(alerting, make_user):
    started = timezone.now()
    slot = int(started.timestamp()) // WINDOW
    mallory = make_user(email="mallory@example.com")
    _denied(mallory, 2)
    # A chat whose model asked for a tool she may not call counts as a denial too.
    audit_record(
        user=mallory,
        source="slack",
        message="drop it",
        status="success",
        tool_calls=[ToolCallRecord(mcp="db", tool="drop_table", status="denied")],
    )
    _denied(make_user(email="bob@example.com"), 2)  # under the threshold
    assert slack_alerts_check(now=started) == [f"denials:mallory@example.com:{slot}"]
    (text,) = _alerts(alerting)
    assert "mallory@example.com had 3 denied requests in the last 10 minutes" in text
    assert slack_alerts_check(now=_at((slot + 1) * WINDOW - 1)) == []  # same window: quiet
    assert slack_alerts_check(now=_at((slot + 1) * WINDOW)) == [  # the next window: again
        f"denials:mallory@example.com:{slot + 1}"
    ]
    assert len(_alerts(alerting)) == 2


def test_a_days_cost_over_the_threshold_is_alerted_once_that_day(alerting, settings, make_user):
    settings.OMNI2_ALERT_DAILY_COST_USD = 2.0
    user = make_user()
    for _ in range(3):
        audit_record(
            user=user,
            source="api",
            message="q",
            status="success",
            model=HAIKU,
            usage={"input_tokens": 1_000_000},
        )
    now = timezone.now()
    day = f"{now.astimezone(UTC):%Y-%m-%d}"
    assert slack_alerts_check(now=now) == [f"cost:{day}"]
    assert slack_alerts_check(now=now) == []
    assert slack_alerts_check(now=now + timedelta(days=1)) == []  # a new day, nothing spent
    (text,) = _alerts(alerting)
    assert text.startswith(f"💰 *Daily cost*: $3.00 spent on {day} (UTC), over the $2.00")


def test_an_mcp_server_going_down_and_coming_back_is_alerted_once_each(alerting):
    from permissions.models import McpServer

    server = McpServer.objects.create(
        name="flaky_mcp", transport="stdio", command="python", args=["-m", "no_such_module_x"]
    )
    assert slack_alerts_check() == ["mcp:flaky_mcp:down"]
    assert slack_alerts_check() == []  # still down: already said
    server.args = ["-m", "testing.mcp_servers", "--transport", "stdio"]
    server.save()
    assert slack_alerts_check() == ["mcp:flaky_mcp:up"]
    assert slack_alerts_check() == []
    assert _alerts(alerting) == [
        "🔴 MCP server *flaky_mcp* is unreachable.",
        "✅ MCP server *flaky_mcp* is back.",
    ]


def test_an_alert_that_could_not_be_posted_is_tried_again(alerting, make_user):
    _denied(make_user(email="mallory@example.com"), 3)
    alerting.fail_next("chat.postMessage", error="channel_not_found")
    now = timezone.now()
    assert slack_alerts_check(now=now) == []
    assert len(slack_alerts_check(now=now)) == 1
    assert len(_alerts(alerting)) == 1


def test_without_an_alert_channel_nothing_is_computed_or_sent(fake_slack, settings, make_user):
    settings.OMNI2_SLACK_ALERT_CHANNEL = ""
    _denied(make_user(), 20)
    assert slack_alerts_check() == []
    assert fake_slack.calls == []


# --- the beat task on a real worker -----------------------------------------------------------


@pytest.fixture(scope="module")
def alerts_worker(django_db_setup, django_db_blocker, fake_slack_server):
    """A worker whose environment turns the alerts on, as beat's schedule would find it."""
    from testing.celery_worker import running_worker

    from .conftest import BOT_TOKEN

    env = {
        "SLACK_API_URL": fake_slack_server.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "OMNI2_SLACK_ALERT_CHANNEL": CHANNEL,
        "OMNI2_ALERT_DAILY_COST_USD": "0.5",
    }
    with django_db_blocker.unblock(), running_worker(extra_env=env) as proc:
        yield proc


@pytest.mark.worker
def test_the_beat_task_posts_due_alerts(alerting, settings, make_user, alerts_worker):
    audit_record(
        user=make_user(),
        source="api",
        message="q",
        status="success",
        model=HAIKU,
        usage={"input_tokens": 1_000_000},
    )
    assert AuditLog.objects.count() == 1
    assert "slackapp.alerts_check" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    current_app.send_task("slackapp.alerts_check", ignore_result=True)
    alerting.wait_for(lambda: _alerts(alerting), what="the cost alert")
    assert _alerts(alerting)[0].startswith("💰 *Daily cost*: $1.00")
