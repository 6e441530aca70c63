"""The buttons under an answer, clicked through the signed endpoint and answered by a real worker.

Each click is worked out for the person who clicked: results only for the asker or an admin
who may still call the tools, "Run again" as the clicker, "Share in channel" by the asker only.
"""

import csv
import io
import json
import uuid

import pytest
from django.core.cache import cache

from slackapp.dedupe import delivery_state
from slackapp.formatting import (
    CSV_ACTION_ID,
    RAW_ACTION_ID,
    RERUN_ACTION_ID,
    SHARE_ACTION_ID,
)

from .conftest import event_payload, slack_fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TOP_QUERIES = ("db_mcp__get_top_queries", {"database": "training_db", "limit": 3})


@pytest.fixture(autouse=True)
def _forget_clicks(settings):
    """Redis outlives the test database, whose audit ids start again: drop old button claims."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        for key in client.scan_iter(match="omni2:slack:delivery:button:*"):
            client.delete(key)
        cache.delete_pattern("slack:*:button:*")  # a click's run and placeholder (dedupe)
    else:
        cache.clear()  # the file cache of an install without Redis


@pytest.fixture
def db_mcp():
    """The test MCP server (testing.mcp_servers) over stdio as ``db_mcp``, its tools discovered."""
    from orchestration.mcp.discovery import mcp_tools_refresh
    from permissions.models import McpServer

    McpServer.objects.create(
        name="db_mcp",
        transport="stdio",
        command="python",
        args=["-m", "testing.mcp_servers", "--transport", "stdio"],
    )
    assert mcp_tools_refresh(names=["db_mcp"])[0]["ok"]


@pytest.fixture
def alice(make_user, fake_slack):
    return make_user(role="dba", email="alice@example.com", slack_user_id="U0ALICE")


def _buttons(message: dict) -> dict:
    """action_id -> audit id, from the actions block under an answer."""
    (block,) = [b for b in message["blocks"] or [] if b["type"] == "actions"]
    return {e["action_id"]: int(e["value"]) for e in block["elements"]}


def _answer_in_thread(slack, fake_slack, fake_llm, *, channel: str) -> tuple[dict, int]:
    """Alice asks in a channel; OMNI2 calls get_top_queries and answers: (message, audit id)."""
    from testing.fake_llm import text, tool_use

    fake_llm.script(tool_use(*TOP_QUERIES), text("The slowest query is `SELECT * FROM t0`."))
    payload = event_payload("app_mention", channel=channel, user="U0ALICE")
    assert slack.event(payload).status_code == 200
    key = f"event:{payload['event_id']}"
    fake_slack.wait_for(lambda: delivery_state(key=key) == "done", what="the answer")
    message = next(m for m in fake_slack.messages if m["channel"] == channel)
    return message, _buttons(message)[RERUN_ACTION_ID]


def _click(slack, fake_slack, *, action_id: str, audit_id: int, user: str, channel: str) -> str:
    """A signed click of one button; returns the click's response_url."""
    payload = slack_fixture("block_actions_help")
    payload["user"]["id"] = user
    payload["trigger_id"] = f"trigger.{uuid.uuid4().hex}"
    payload["response_url"] = fake_slack.response_url()
    payload["channel"]["id"] = payload["container"]["channel_id"] = channel
    payload["actions"][0].update(action_id=action_id, value=str(audit_id))
    assert slack.action(payload).status_code == 200
    return payload["response_url"]


def _said(fake_slack, response_url: str) -> str:
    (message,) = fake_slack.wait_for(lambda: fake_slack.posted(response_url), what="a reply")
    assert message["response_type"] == "ephemeral"
    return message["text"]


def _click_done(*, action_id: str, audit_id: int, user: str) -> bool:
    return delivery_state(key=f"button:{action_id}:{audit_id}:{user}") == "done"


def test_an_answer_with_a_table_offers_every_button_but_share(
    slack, fake_slack, fake_llm, alice, db_mcp, slack_worker
):
    message, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0BTNS")
    assert _buttons(message) == {
        RAW_ACTION_ID: audit_id,
        CSV_ACTION_ID: audit_id,
        RERUN_ACTION_ID: audit_id,
    }


def test_show_raw_results_sends_the_askers_results_to_their_dm(
    slack, fake_slack, fake_llm, alice, db_mcp, slack_worker
):
    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0RAW")
    url = _click(
        slack,
        fake_slack,
        action_id=RAW_ACTION_ID,
        audit_id=audit_id,
        user="U0ALICE",
        channel="C0RAW",
    )
    assert "in your DM" in _said(fake_slack, url)
    (upload,) = fake_slack.uploads_to("D0ALICE")
    (result,) = json.loads(upload["content"])
    assert (result["mcp"], result["tool"]) == ("db_mcp", "get_top_queries")
    assert result["result"]["queries"][0]["sql"] == "SELECT * FROM t0"
    assert fake_slack.uploads_to("C0RAW") == []  # never into the channel


def test_export_csv_sends_the_table_as_csv(
    slack, fake_slack, fake_llm, alice, db_mcp, slack_worker
):
    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0CSV")
    url = _click(
        slack,
        fake_slack,
        action_id=CSV_ACTION_ID,
        audit_id=audit_id,
        user="U0ALICE",
        channel="C0CSV",
    )
    assert "CSV" in _said(fake_slack, url)
    (upload,) = fake_slack.uploads_to("D0ALICE")
    rows = list(csv.reader(io.StringIO(upload["content"].decode())))
    assert rows[0] == ["sql", "avg_ms"]
    assert rows[1:] == [
        ["SELECT * FROM t0", "300.0"],
        ["SELECT * FROM t1", "200.0"],
        ["SELECT * FROM t2", "100.0"],
    ]


def test_someone_else_is_refused_the_results_and_nothing_is_posted(
    slack, fake_slack, fake_llm, alice, make_user, db_mcp, slack_worker
):
    make_user(role="dba", email="bob@example.com", slack_user_id="U0BOB")
    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0NOTYOURS")
    posts_before = len(fake_slack.calls_to("chat.postMessage"))
    for action_id in (RAW_ACTION_ID, CSV_ACTION_ID):
        url = _click(
            slack,
            fake_slack,
            action_id=action_id,
            audit_id=audit_id,
            user="U0BOB",
            channel="C0NOTYOURS",
        )
        assert _said(fake_slack, url).startswith("🚫 Only the person who asked")
    assert fake_slack.uploads == {}
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    assert len(fake_slack.calls_to("chat.postMessage")) == posts_before


def test_an_admin_may_see_someone_elses_results(
    slack, fake_slack, fake_llm, alice, make_user, db_mcp, slack_worker
):
    make_user(role="admin", email="root@example.com", slack_user_id="U0ROOT")
    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0ADMIN")
    url = _click(
        slack,
        fake_slack,
        action_id=RAW_ACTION_ID,
        audit_id=audit_id,
        user="U0ROOT",
        channel="C0ADMIN",
    )
    assert "in your DM" in _said(fake_slack, url)
    assert len(fake_slack.uploads_to("D0ROOT")) == 1


def test_the_asker_is_refused_results_of_a_tool_they_may_no_longer_call(
    slack, fake_slack, fake_llm, alice, db_mcp, slack_worker
):
    from permissions.models import GlobalPolicy

    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0REVOKED")
    rules = GlobalPolicy.load()
    rules.blocked_patterns = ["get_top_queries"]
    rules.save()
    url = _click(
        slack,
        fake_slack,
        action_id=RAW_ACTION_ID,
        audit_id=audit_id,
        user="U0ALICE",
        channel="C0REVOKED",
    )
    assert _said(fake_slack, url).startswith("🚫 You may not call the tools")
    assert fake_slack.uploads == {}


def test_run_again_answers_as_the_clicker_in_the_thread_audited_as_them(
    slack, fake_slack, fake_llm, alice, make_user, db_mcp, slack_worker
):
    from audit.models import AuditLog
    from testing.fake_llm import text

    bob = make_user(role="dba", email="bob@example.com", slack_user_id="U0BOB")
    first, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0AGAIN")
    fake_llm.script(text("Still `SELECT * FROM t0`."))
    _click(
        slack,
        fake_slack,
        action_id=RERUN_ACTION_ID,
        audit_id=audit_id,
        user="U0BOB",
        channel="C0AGAIN",
    )
    fake_slack.wait_for(
        lambda: _click_done(action_id=RERUN_ACTION_ID, audit_id=audit_id, user="U0BOB"),
        what="the second answer",
    )
    again = [m for m in fake_slack.messages if m["channel"] == "C0AGAIN"][-1]
    assert again["ts"] != first["ts"] and again["thread_ts"] == first["thread_ts"]
    assert "Still" in again["text"]
    row = AuditLog.objects.exclude(pk=audit_id).get(slack_channel="C0AGAIN")
    assert (row.user_id, row.slack_user_id) == (bob.pk, "U0BOB")
    assert row.message == AuditLog.objects.get(pk=audit_id).message


def test_run_again_counts_against_the_clickers_rate_limit(
    slack, fake_slack, fake_llm, alice, make_user, db_mcp, slack_worker
):
    from audit.models import AuditLog
    from audit.ratelimit import rate_limit_hit
    from permissions.models import Role

    Role.objects.create(name="tiny", requests_per_hour=1)
    tiny = make_user(role="tiny", email="tiny@example.com", slack_user_id="U0TINY")
    rate_limit_hit(key=f"user:{tiny.pk}", limit=1)
    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0AGAINLIMIT")
    asked = len(fake_llm.requests)
    _click(
        slack,
        fake_slack,
        action_id=RERUN_ACTION_ID,
        audit_id=audit_id,
        user="U0TINY",
        channel="C0AGAINLIMIT",
    )
    fake_slack.wait_for(
        lambda: _click_done(action_id=RERUN_ACTION_ID, audit_id=audit_id, user="U0TINY"),
        what="the refusal",
    )
    last = [m for m in fake_slack.messages if m["channel"] == "C0AGAINLIMIT"][-1]
    assert last["text"].startswith("🚫 Rate limit exceeded")
    assert len(fake_llm.requests) == asked
    assert AuditLog.objects.filter(user=tiny, status="rate_limited").count() == 1


def test_a_double_click_runs_again_once(slack, fake_slack, fake_llm, alice, db_mcp, slack_worker):
    from audit.models import AuditLog
    from testing.fake_llm import text

    _, audit_id = _answer_in_thread(slack, fake_slack, fake_llm, channel="C0DOUBLE")
    fake_llm.respond_with(text("Once more."))
    for _ in range(2):  # two clicks: two trigger ids, one effect
        _click(
            slack,
            fake_slack,
            action_id=RERUN_ACTION_ID,
            audit_id=audit_id,
            user="U0ALICE",
            channel="C0DOUBLE",
        )
    fake_slack.wait_for(
        lambda: _click_done(action_id=RERUN_ACTION_ID, audit_id=audit_id, user="U0ALICE"),
        what="the second answer",
    )
    assert AuditLog.objects.filter(slack_channel="C0DOUBLE").count() == 2
    assert len([m for m in fake_slack.messages if m["channel"] == "C0DOUBLE"]) == 2


# --- an ephemeral /omni answer: Share in channel ------------------------------------------------


def _omni_answer(slack, fake_slack, fake_llm, *, channel: str) -> tuple[dict, int]:
    from testing.fake_llm import text

    fake_llm.script(text("Three databases: training, dev, analytics."))
    form = slack_fixture("slash_command")
    form.update(
        user_id="U0ALICE",
        channel_id=channel,
        response_url=fake_slack.response_url(),
        trigger_id=f"omni.{uuid.uuid4().hex}",
    )
    assert slack.command(form).status_code == 200
    (message,) = fake_slack.wait_for(lambda: fake_slack.posted(form["response_url"]), what="answer")
    return message, _buttons(message)[SHARE_ACTION_ID]


def test_share_in_channel_posts_the_answer_with_who_asked(
    slack, fake_slack, fake_llm, alice, slack_worker
):
    message, audit_id = _omni_answer(slack, fake_slack, fake_llm, channel="C0SHARE")
    assert set(_buttons(message)) == {RERUN_ACTION_ID, SHARE_ACTION_ID}  # no tools, no results
    url = _click(
        slack,
        fake_slack,
        action_id=SHARE_ACTION_ID,
        audit_id=audit_id,
        user="U0ALICE",
        channel="C0SHARE",
    )
    assert _said(fake_slack, url).startswith("✅ Shared")
    (shared,) = [m for m in fake_slack.messages if m["channel"] == "C0SHARE"]
    blocks = json.dumps(shared["blocks"], ensure_ascii=False)
    assert "<@U0ALICE> asked" in blocks and "Three databases" in blocks
    # A second click (or Slack's retry) shares nothing more.
    _click(
        slack,
        fake_slack,
        action_id=SHARE_ACTION_ID,
        audit_id=audit_id,
        user="U0ALICE",
        channel="C0SHARE",
    )
    assert delivery_state(key=f"button:{SHARE_ACTION_ID}:{audit_id}") == "done"
    assert len([m for m in fake_slack.messages if m["channel"] == "C0SHARE"]) == 1


def test_only_the_asker_may_share(slack, fake_slack, fake_llm, alice, make_user, slack_worker):
    make_user(role="admin", email="root@example.com", slack_user_id="U0ROOT")
    _, audit_id = _omni_answer(slack, fake_slack, fake_llm, channel="C0NOSHARE")
    url = _click(
        slack,
        fake_slack,
        action_id=SHARE_ACTION_ID,
        audit_id=audit_id,
        user="U0ROOT",
        channel="C0NOSHARE",
    )
    assert _said(fake_slack, url).startswith("🚫 Only the person who asked")
    assert fake_slack.calls_to("chat.postMessage") == []


def test_a_button_naming_no_answer_is_told_so(slack, fake_slack, alice, slack_worker):
    url = _click(
        slack,
        fake_slack,
        action_id=RAW_ACTION_ID,
        audit_id=uuid.uuid4().int % 10**12,
        user="U0ALICE",
        channel="C0GONE",
    )
    assert _said(fake_slack, url) == "This answer is no longer available."
    assert fake_slack.uploads == {}
