"""A Slack answer survives the death of its worker: one answer, in the one placeholder."""

import os
import signal
import threading

import pytest
from django.core.cache import cache

from slackapp.answers import INTERRUPTED_TEXT
from slackapp.dedupe import delivery_claim, delivery_placeholder_remember, delivery_state
from slackapp.formatting import WORKING
from testing.fake_llm import ANTHROPIC_PATH, text

from .conftest import BOT_TOKEN, event_payload, slack_fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture(scope="module")
def short_lease_worker(
    django_db_setup, django_db_blocker, fake_slack_server, fake_llm_server, reports_dir
):
    """One pool child (the one killed is the one answering), leases of 2 s."""
    from testing.celery_worker import running_worker
    from testing.fixtures.llm import fake_llm_env

    env = {
        "SLACK_API_URL": fake_slack_server.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "OMNI2_SLACK_REPORT_DIRS": str(reports_dir),
        "OMNI2_JOB_LEASE_SECONDS": "2",
        **fake_llm_env(fake_llm_server),
    }
    with django_db_blocker.unblock(), running_worker(concurrency=1, extra_env=env) as proc:
        yield proc


def _kill_the_run_of(key: str) -> None:
    owner = cache.get(f"slack:run:{key}")  # "host:pid:token" of the delivery answering it
    os.kill(int(owner.split(":")[1]), signal.SIGKILL)


def _blocked_then(answer: str, started: threading.Event, release: threading.Event):
    def respond(body):
        started.set()
        release.wait(60)
        return text("from the killed worker")

    return [respond, text(answer)]


def test_a_mention_whose_worker_dies_mid_answer_gets_one_answer_in_its_placeholder(
    slack, fake_slack, fake_llm, short_lease_worker
):
    started, release = threading.Event(), threading.Event()
    fake_llm.script(*_blocked_then("The answer.", started, release))
    payload = event_payload("app_mention", channel="C0KILLED")
    key = f"event:{payload['event_id']}"
    assert slack.event(payload).status_code == 200
    assert started.wait(60), "the worker never asked the LLM"

    _kill_the_run_of(key)
    release.set()

    fake_slack.wait_for(lambda: delivery_state(key=key) == "done", timeout=60, what="the answer")
    messages = [m for m in fake_slack.messages if m["channel"] == "C0KILLED"]
    assert len(messages) == 1, messages  # the dead run's placeholder became the answer
    assert messages[0]["history"][0] == WORKING and "The answer." in messages[0]["text"]
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 2


def test_a_slash_command_whose_worker_dies_mid_answer_is_answered_once(
    slack, fake_slack, fake_llm, short_lease_worker
):
    started, release = threading.Event(), threading.Event()
    fake_llm.script(*_blocked_then("Three databases.", started, release))
    form = {
        **slack_fixture("slash_command"),
        "response_url": fake_slack.response_url(),
        "trigger_id": f"trig-{os.getpid()}-{id(started)}",
    }
    key = f"command:{form['trigger_id']}"
    assert slack.command(form).status_code == 200
    assert started.wait(60), "the worker never asked the LLM"

    _kill_the_run_of(key)
    release.set()

    fake_slack.wait_for(lambda: delivery_state(key=key) == "done", timeout=60, what="the answer")
    posted = fake_slack.posted(form["response_url"])
    assert len(posted) == 1 and "Three databases." in posted[0]["text"], posted


def test_a_delivery_whose_runs_keep_dying_is_closed_with_a_note_in_its_placeholder(
    fake_slack, settings
):
    """Runs that died leave their count behind; past the limit the next run only says so."""
    from slackapp.client import slack_call
    from slackapp.tasks import slack_event_task

    settings.OMNI2_JOB_MAX_ATTEMPTS = 1
    payload = event_payload("app_mention", channel="C0GIVEUP")
    key = f"event:{payload['event_id']}"
    delivery_claim(key=key)
    delivery_placeholder_remember(
        key=key, ts=slack_call("chat_postMessage", channel="C0GIVEUP", text=WORKING)["ts"]
    )
    cache.set(f"slack:runs-unfinished:{key}", 1)  # one run started and never ended

    slack_event_task.apply(kwargs={"key": key, "event": payload["event"]})

    messages = [m for m in fake_slack.messages if m["channel"] == "C0GIVEUP"]
    assert len(messages) == 1 and messages[0]["text"] == INTERRUPTED_TEXT
    assert delivery_state(key=key) == "done"
