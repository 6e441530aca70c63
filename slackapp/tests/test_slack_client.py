"""The Slack boundary: the real slack_sdk client against the fake Web API."""

import pytest
from django.core.cache import cache

from slackapp.client import (
    BOT_USER_CACHE_KEY,
    SlackError,
    slack_bot_user_id,
    slack_call,
    slack_user_email,
)
from slackapp.identity import slack_user_resolve
from testing.fake_slack import BOT_USER_ID

pytestmark = pytest.mark.django_db


def test_a_429_is_retried_after_retry_after_and_then_succeeds(fake_slack):
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    data = slack_call("chat_postMessage", channel="C1", text="hello")
    assert data["ok"] is True
    first, second = fake_slack.calls_to("chat.postMessage")
    assert second.at - first.at >= 1.0  # it waited as long as Slack asked
    assert [m["text"] for m in fake_slack.messages] == ["hello"]


def test_a_429_that_persists_is_a_transient_error(fake_slack):
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=10)
    with pytest.raises(SlackError) as caught:
        slack_call("chat_postMessage", channel="C1", text="hello")
    assert caught.value.permanent is False
    assert len(fake_slack.calls_to("chat.postMessage")) == 4  # the first try and three retries


def test_an_api_error_is_permanent_and_names_slacks_code(fake_slack):
    with pytest.raises(SlackError) as caught:
        slack_call("chat_update", channel="C1", ts="1.2", text="x")
    assert caught.value.permanent is True
    assert caught.value.code == "message_not_found"


def test_a_wrong_token_is_refused_by_slack_and_never_shown(fake_slack, settings):
    settings.SLACK_BOT_TOKEN = "xoxb-wrong-token-value"
    with pytest.raises(SlackError) as caught:
        slack_call("auth_test")
    assert caught.value.code == "invalid_auth"
    assert "xoxb" not in str(caught.value)


def test_an_unreachable_slack_is_a_transient_error(fake_slack, settings):
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"  # discard port: nothing listens
    with pytest.raises(SlackError) as caught:
        slack_call("auth_test")
    assert caught.value.permanent is False


def test_the_bot_user_id_is_fetched_once_and_cached(fake_slack):
    assert slack_bot_user_id() == BOT_USER_ID
    assert slack_bot_user_id() == BOT_USER_ID
    assert len(fake_slack.calls_to("auth.test")) == 1
    assert cache.get(BOT_USER_CACHE_KEY) == BOT_USER_ID  # shared with every worker process


def test_a_stored_slack_id_identifies_the_user_without_asking_slack(fake_slack, make_user):
    user = make_user(role="dba", slack_user_id="U0STORED")
    assert slack_user_resolve(slack_user_id="U0STORED") == user
    assert fake_slack.calls_to("users.info") == []


def test_the_slack_email_identifies_the_user_and_the_id_is_then_stored(fake_slack, make_user):
    user = make_user(role="dba", email="bob@example.com")
    fake_slack.add_user("U0BOB", email="Bob@Example.com")
    assert slack_user_resolve(slack_user_id="U0BOB") == user
    user.refresh_from_db()
    assert user.slack_user_id == "U0BOB"
    assert slack_user_resolve(slack_user_id="U0BOB") == user
    assert len(fake_slack.calls_to("users.info")) == 1


def test_the_slack_profile_email_is_read_in_omni2s_one_spelling(fake_slack, make_user):
    user = make_user(role="dba", email="carol@example.com")
    fake_slack.add_user("U0CAROL", email="  Carol@Example.COM ")
    assert slack_user_email(slack_user_id="U0CAROL") == "carol@example.com"
    assert slack_user_resolve(slack_user_id="U0CAROL") == user


@pytest.mark.parametrize("email", [None, "stranger@example.com"])
def test_an_unknown_slack_user_is_the_default_user(fake_slack, make_user, email):
    make_user(email="someone@example.com")
    fake_slack.add_user("U0STRANGER", email=email)
    assert slack_user_resolve(slack_user_id="U0STRANGER") is None
    assert slack_user_resolve(slack_user_id="U0NOSUCH") is None  # users.info: user_not_found


def test_an_inactive_user_is_not_matched(fake_slack, make_user):
    user = make_user(slack_user_id="U0GONE")
    user.is_active = False
    user.save()
    assert slack_user_resolve(slack_user_id="U0GONE") is None
