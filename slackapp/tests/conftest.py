"""Fixtures for the Slack tests: a fake Slack Web API, signed requests, a worker using both.

The worker is started here (``slack_worker``) rather than with the root ``celery_worker``
fixture because its environment must point at this session's fake Slack and fake LLM
servers, whose ports are only known at run time.
"""

import copy
import importlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from omni2.celery import app as celery_app
from slackapp.client import BOT_USER_CACHE_KEY
from testing.fake_slack import FakeSlack, sign_request
from testing.fixtures.llm import fake_llm_env

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-0000-test-token"
FIXTURES = Path(__file__).parent / "fixtures"


def slack_fixture(name: str) -> dict:
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def event_payload(name: str = "app_mention", **event) -> dict:
    """A JSON fixture with a fresh event_id (and ts), ``event`` fields overriding the fixture's."""
    payload = slack_fixture(name)
    payload["event_id"] = f"Ev{uuid.uuid4().hex[:12].upper()}"
    payload["event"]["ts"] = payload["event"]["event_ts"] = (
        f"1700001{uuid.uuid4().int % 10**6:06d}.000100"
    )
    payload["event"].update(event)
    return {**payload, "event": {k: v for k, v in payload["event"].items() if v is not None}}


@pytest.fixture
def roles(db):
    """The seeded roles; a transactional test's flush removes what the data migration wrote."""
    importlib.import_module("permissions.migrations.0002_seed_roles").seed_roles(django_apps, None)


@pytest.fixture
def make_user(make_user, roles):
    return make_user


@pytest.fixture(scope="session")
def reports_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("slack-reports")


@pytest.fixture(scope="session")
def fake_slack_server():
    server = FakeSlack(token=BOT_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def fake_slack(fake_slack_server, settings, reports_dir):
    """The fake Slack, emptied, with this process's settings pointing at it."""
    fake_slack_server.reset()
    settings.SLACK_API_URL = fake_slack_server.api_url
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.OMNI2_SLACK_REPORT_DIRS = [str(reports_dir)]
    cache.delete(BOT_USER_CACHE_KEY)
    _forget_rate_limits()
    yield fake_slack_server
    fake_slack_server.reset()


def _forget_rate_limits() -> None:
    """Redis outlives the test database: drop the limiter's windows in this test Redis db only."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        for key in client.scan_iter(match="omni2:ratelimit:*"):
            client.delete(key)


class SlackSender:
    """Posts signed requests the way Slack does, through Django's test client."""

    def __init__(self, secret: str = SIGNING_SECRET):
        self.secret = secret

    def post(self, path: str, body: str | bytes, content_type: str, headers: dict | None = None):
        signed = {**sign_request(body, self.secret), **(headers or {})}
        return Client().post(path, data=body, content_type=content_type, headers=signed)

    def event(self, payload: dict, retry_num: int | None = None):
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post("/slack/events", json.dumps(payload), "application/json", headers)

    def command(self, form: dict):
        return self.post("/slack/commands", urlencode(form), "application/x-www-form-urlencoded")

    def action(self, payload: dict):
        return self.post(
            "/slack/interactions",
            urlencode({"payload": json.dumps(payload)}),
            "application/x-www-form-urlencoded",
        )


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender()


class QueueProbe:
    def __init__(self, name: str):
        self.name = name

    def count(self) -> int:
        with celery_app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(queue=self.name).message_count

    def purge(self) -> None:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(self.name)


@pytest.fixture
def private_queue():
    """Send tasks to a queue nobody consumes, so a test can count what a request queued."""
    previous = celery_app.conf.task_default_queue
    probe = QueueProbe(f"slack-probe-{uuid.uuid4().hex[:8]}")
    celery_app.conf.task_default_queue = probe.name
    yield probe
    celery_app.conf.task_default_queue = previous
    probe.purge()


@pytest.fixture(scope="module")
def slack_worker(
    django_db_setup, django_db_blocker, fake_slack_server, fake_llm_server, reports_dir
):
    """A real Celery worker process that talks to the fake Slack and the fake LLM."""
    from testing.celery_worker import running_worker

    env = {
        "SLACK_API_URL": fake_slack_server.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "OMNI2_SLACK_REPORT_DIRS": str(reports_dir),
        **fake_llm_env(fake_llm_server),
    }
    with django_db_blocker.unblock(), running_worker(extra_env=env) as proc:
        yield proc
