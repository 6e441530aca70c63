"""The Events API: challenges, what is ignored, and one answer per event whatever Slack retries."""

import threading

import pytest

from slackapp.dedupe import delivery_state
from testing.fake_slack import BOT_ID, BOT_USER_ID

from .conftest import SlackSender, event_payload, slack_fixture


def _answered(fake_slack, payload: dict) -> dict:
    """OMNI2's message in the event's channel, once the delivery is marked answered."""
    key, channel = f"event:{payload['event_id']}", payload["event"]["channel"]
    fake_slack.wait_for(lambda: delivery_state(key=key) == "done", what=f"the answer in {channel}")
    return next(m for m in fake_slack.messages if m["channel"] == channel)


def _posts_in(fake_slack, channel: str) -> list:
    return [
        c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == channel
    ]


@pytest.mark.django_db
def test_url_verification_answers_the_challenge(slack, private_queue):
    payload = slack_fixture("url_verification")
    response = slack.event(payload)
    assert response.status_code == 200
    assert response.json() == {"challenge": payload["challenge"]}
    assert private_queue.count() == 0


@pytest.mark.django_db
def test_bot_messages_edits_deletes_and_omni2s_own_messages_are_ignored(
    slack, fake_slack, private_queue
):
    ignored = [
        event_payload("message_im", bot_id=BOT_ID, subtype="bot_message", user=None),
        event_payload("message_im", bot_id="B0OTHER"),
        event_payload("message_im", subtype="message_changed"),
        event_payload("message_im", subtype="message_deleted"),
        event_payload("message_im", subtype="channel_join"),
        event_payload(
            "message_im", user=BOT_USER_ID
        ),  # the payload's authorizations name OMNI2's bot user
        event_payload("app_mention", user=BOT_USER_ID),
        event_payload("message_im", channel_type="channel"),  # a channel message without a mention
        event_payload("message_im", subtype=["not", "a", "string"]),
        event_payload("message_im", user={"id": "U0ALICE"}),
        event_payload("message_im", type="reaction_added"),
    ]
    for payload in ignored:
        assert slack.event(payload).status_code == 200
    assert private_queue.count() == 0
    assert all(delivery_state(key=f"event:{p['event_id']}") is None for p in ignored)


@pytest.mark.django_db
def test_a_person_named_in_a_user_token_authorization_is_still_answered(slack, private_queue):
    payload = event_payload("message_im", user="U0ALICE")
    payload["authorizations"] = [{"team_id": "T0OMNI2", "user_id": "U0ALICE", "is_bot": False}]
    assert slack.event(payload).status_code == 200
    assert private_queue.count() == 1


class BrokenBroker:
    """Makes publishing to one queue fail for real until ``mend()``: the broker refuses the write."""

    def __init__(self, settings, queue: str):
        from pathlib import Path

        from omni2.celery import app as celery_app

        self.queue = queue
        self.redis = None
        if settings.CELERY_BROKER_URL.startswith("redis"):
            import redis

            self.redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
            self.redis.set(queue, "not a list")  # LPUSH now fails with WRONGTYPE
        else:
            self.folder = Path(celery_app.conf.broker_transport_options["data_folder_out"])
            self.folder.rename(self.folder.with_name("queue-broken"))  # nowhere to write messages

    def mend(self) -> None:
        if self.redis is not None:
            self.redis.delete(self.queue)
        elif not self.folder.exists():
            self.folder.with_name("queue-broken").rename(self.folder)


@pytest.fixture
def broken_broker(private_queue, settings):
    broker = BrokenBroker(settings, private_queue.name)
    yield broker
    broker.mend()


@pytest.mark.django_db
def test_a_delivery_that_cannot_be_queued_gets_503_and_slacks_retry_is_taken(
    slack, private_queue, broken_broker
):
    payload = event_payload("app_mention", channel="C0NOBROKER")
    response = slack.event(payload)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert delivery_state(key=f"event:{payload['event_id']}") is None  # released for the retry
    broken_broker.mend()
    assert slack.event(payload, retry_num=1).status_code == 200
    assert private_queue.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["event", "command", "action"])
def test_with_redis_unreachable_slack_gets_503_and_nothing_is_queued(
    slack, private_queue, settings, kind
):
    if not settings.REDIS_URL:
        pytest.skip("without REDIS_URL deliveries are claimed in the database")
    from testing.outages import redis_unreachable

    redis_unreachable(settings)
    send = {
        "event": lambda: slack.event(event_payload("app_mention", channel="C0NOREDIS")),
        "command": lambda: slack.command(slack_fixture("slash_command")),
        "action": lambda: slack.action(slack_fixture("block_actions_help")),
    }[kind]
    response = send()
    assert response.status_code == 503  # Slack delivers it again later
    assert response.json()["error"]["code"] == "unavailable"
    assert private_queue.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_one_event_delivered_four_times_is_answered_once(slack, fake_slack, fake_llm, slack_worker):
    pytest.importorskip("orchestration.chat", reason="needs the lead's chat service")
    from testing.fake_llm import text

    fake_llm.script(text("Everything is healthy."))
    payload = event_payload("app_mention", channel="C0RETRY")
    barrier, statuses = threading.Barrier(2), []

    def deliver(retry_num):
        barrier.wait()  # the first delivery and its first retry arrive at the same moment
        statuses.append(SlackSender().event(payload, retry_num=retry_num).status_code)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses += [slack.event(payload, retry_num=n).status_code for n in (2, 3)]
    assert statuses == [200, 200, 200, 200]
    answer = _answered(fake_slack, payload)
    assert len(_posts_in(fake_slack, "C0RETRY")) == 1
    assert "Everything is healthy." in answer["text"]
    assert len(fake_llm.requests) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_first_delivery_whose_task_failed_is_answered_by_its_retry(
    slack, fake_slack, fake_llm, slack_worker
):
    pytest.importorskip("orchestration.chat", reason="needs the lead's chat service")
    from testing.fake_llm import text

    fake_llm.script(text("Answered on the retry."))
    fake_slack.fail_next(
        "chat.postMessage", error="fatal_error"
    )  # the first placeholder fails for good
    payload = event_payload("app_mention", channel="C0FAILED")
    key = f"event:{payload['event_id']}"
    assert slack.event(payload).status_code == 200
    fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postMessage"), what="the first attempt")
    fake_slack.wait_for(lambda: delivery_state(key=key) is None, what="the claim to be released")
    assert slack.event(payload, retry_num=1).status_code == 200
    answer = _answered(fake_slack, payload)
    assert "Answered on the retry." in answer["text"]
    assert len(fake_slack.messages) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_omni2s_own_message_is_ignored_by_the_worker_when_the_view_did_not_know_its_id(
    slack, fake_slack, slack_worker
):
    payload = event_payload("message_im", user=BOT_USER_ID, channel="D0SELF")
    del payload["authorizations"]  # nothing in the payload says who OMNI2 is: the view queues it
    assert slack.event(payload).status_code == 200
    fake_slack.wait_for(lambda: delivery_state(key=f"event:{payload['event_id']}") == "done")
    assert fake_slack.calls_to("auth.test")
    assert fake_slack.messages == []
