"""Questions asked in Slack are answered where they were asked, end to end through a real worker."""

import json
import uuid

import pytest

from slackapp.dedupe import delivery_state
from slackapp.formatting import WORKING

from .conftest import event_payload, slack_fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def chat():
    """The chat service is the lead's; these tests run once ``orchestration.chat`` exists."""
    return pytest.importorskip("orchestration.chat", reason="needs the lead's chat service")


def _final_message(fake_slack, payload: dict) -> dict:
    """OMNI2's message in the event's channel, once the delivery is marked answered."""
    key, channel = f"event:{payload['event_id']}", payload["event"]["channel"]
    fake_slack.wait_for(lambda: delivery_state(key=key) == "done", what=f"the answer in {channel}")
    return next(m for m in fake_slack.messages if m["channel"] == channel)


def _audit_row(**filters):
    from django.db import close_old_connections

    from audit.models import AuditLog

    close_old_connections()
    return AuditLog.objects.filter(**filters).first()


def test_a_mention_is_answered_in_its_thread(slack, fake_slack, fake_llm, chat, slack_worker):
    from testing.fake_llm import text

    fake_llm.script(text("## Status\n**Healthy**: all good"))
    payload = event_payload("app_mention", channel="C0MENTION")
    ts = payload["event"]["ts"]
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert answer["thread_ts"] == ts and answer["history"][0] == WORKING
    blocks = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "*Status*" in blocks and "*Healthy*: all good" in blocks
    assert (
        "👤 read_only" in blocks and "🔧 no tools" in blocks
    )  # an unknown user is the default user
    asked = json.dumps(fake_llm.requests[0].body)
    assert "how healthy is <prod> & staging?" in asked and "UOMNI2BOT" not in asked
    row = fake_slack.wait_for(lambda: _audit_row(slack_channel="C0MENTION"), what="the audit row")
    assert row.source == "slack"
    assert (row.slack_user_id, row.slack_thread_ts, row.slack_message_ts) == ("U0ALICE", ts, ts)


def test_a_dm_is_answered_in_the_dm_as_the_user_slack_names(
    slack, fake_slack, fake_llm, chat, make_user, slack_worker
):
    from testing.fake_llm import text

    user = make_user(role="dba", email="alice@example.com")
    fake_slack.add_user("U0ALICE", email="alice@example.com")
    fake_llm.script(text("You may use training_db."))
    payload = event_payload("message_im", channel="D0ALICE")
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert answer["thread_ts"] is None
    assert "You may use training_db." in answer["text"]
    assert "👤 dba" in json.dumps(answer["blocks"], ensure_ascii=False)
    user.refresh_from_db()
    assert user.slack_user_id == "U0ALICE"
    row = fake_slack.wait_for(lambda: _audit_row(slack_channel="D0ALICE"), what="the audit row")
    assert row.user_id == user.pk and row.source == "slack"


def test_omni_answers_privately_through_the_response_url(
    slack, fake_slack, fake_llm, chat, slack_worker
):
    from testing.fake_llm import text

    fake_llm.script(text("Three databases."))
    form = slack_fixture("slash_command")
    form.update(response_url=fake_slack.response_url(), trigger_id=f"omni.{uuid.uuid4().hex}")
    response = slack.command(form)
    assert response.json() == {"response_type": "ephemeral", "text": WORKING}
    (message,) = fake_slack.wait_for(
        lambda: fake_slack.posted(form["response_url"]), what="the answer"
    )
    assert message["response_type"] == "ephemeral"
    assert "Three databases." in message["text"]
    assert fake_slack.calls_to("chat.postMessage") == []  # nothing public in the channel


def test_a_long_answer_is_attached_as_a_file_in_the_thread(
    slack, fake_slack, fake_llm, chat, slack_worker
):
    from testing.fake_llm import text

    long_answer = "\n\n".join(f"Paragraph {n}: " + "detail " * 300 for n in range(10))
    fake_llm.script(text(long_answer))
    payload = event_payload("app_mention", channel="C0LONG")
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert "attached" in json.dumps(answer["blocks"])
    upload = fake_slack.wait_for(
        lambda: [u for u in fake_slack.uploads.values() if u["channel"] == "C0LONG"],
        what="the upload",
    )[0]
    assert upload["thread_ts"] == payload["event"]["ts"]
    assert upload["content"].decode() == long_answer


def test_an_llm_failure_is_a_short_message_not_a_trace(
    slack, fake_slack, fake_llm, chat, slack_worker
):
    from testing.fake_llm import error

    fake_llm.respond_with(error(500, message="upstream exploded", should_retry=False))
    payload = event_payload("app_mention", channel="C0BROKEN")
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert answer["text"].startswith("⚠️")
    assert "Traceback" not in answer["text"] and len(answer["text"]) < 300


def test_a_rate_limited_user_is_told_exactly_that(slack, fake_slack, make_user, slack_worker):
    from audit.ratelimit import rate_limit_hit
    from permissions.models import Role

    Role.objects.create(name="tiny", requests_per_hour=1)
    user = make_user(role="tiny", slack_user_id="U0TINY")
    rate_limit_hit(key=f"user:{user.pk}", limit=1)  # the hour's one question is used up
    payload = event_payload("app_mention", channel="C0LIMIT", user="U0TINY")
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert answer["text"] == "🚫 Rate limit exceeded. 1/1 requests used. Try again in 60 minutes."
    row = fake_slack.wait_for(lambda: _audit_row(status="rate_limited"), what="the audit row")
    assert (row.source, row.user_id) == ("slack", user.pk)
    assert (row.slack_channel, row.slack_user_id) == ("C0LIMIT", "U0TINY")


def test_an_unknown_user_is_limited_as_the_default_user_per_slack_id(
    slack, fake_slack, roles, slack_worker
):
    from audit.ratelimit import rate_limit_hit
    from permissions.models import GlobalPolicy, Role

    policy = GlobalPolicy.load()
    policy.default_role = Role.objects.create(name="tiny", requests_per_hour=1)
    policy.save()
    stranger = f"U0{uuid.uuid4().hex[:8].upper()}"  # its Redis window outlives this test
    rate_limit_hit(key=f"slack:{stranger}", limit=1)  # this Slack id's one question is used up
    payload = event_payload("app_mention", channel="C0STRANGER", user=stranger)
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert answer["text"] == "🚫 Rate limit exceeded. 1/1 requests used. Try again in 60 minutes."
    row = fake_slack.wait_for(lambda: _audit_row(status="rate_limited"), what="the audit row")
    assert (row.source, row.user_id, row.slack_user_id) == ("slack", None, stranger)


@pytest.fixture
def qa_mcp(reports_dir):
    """The example qa_mcp over stdio, its tools discovered, writing reports where Slack may upload from."""
    from orchestration.mcp.discovery import mcp_tools_refresh
    from permissions.models import McpServer

    inputs = reports_dir / "inputs"
    inputs.mkdir(exist_ok=True)
    (inputs / "before.csv").write_text("id,name\n1,alpha\n2,beta\n")
    (inputs / "after.csv").write_text("id,name\n1,alpha\n2,gamma\n")
    server = McpServer(
        name="qa_mcp", transport="stdio", command="python", args=["-m", "examples.qa_mcp"]
    )
    server.set_env(
        {"QA_MCP_DATA_ROOT": str(inputs), "QA_MCP_REPORT_DIR": str(reports_dir / "qa_mcp")}
    )
    server.save()
    assert mcp_tools_refresh(names=["qa_mcp"])[0]["ok"]
    return inputs


def test_a_tool_run_shows_progress_and_its_report_is_uploaded_to_the_thread(
    slack, fake_slack, fake_llm, chat, make_user, qa_mcp, slack_worker
):
    from testing.fake_llm import text, tool_use

    make_user(role="dba", slack_user_id="U0ALICE")
    fake_llm.script(
        tool_use(
            "qa_mcp__compare_csv_files",
            {"file1_path": str(qa_mcp / "before.csv"), "file2_path": str(qa_mcp / "after.csv")},
        ),
        text("One row differs: **2** changed from beta to gamma."),
    )
    payload = event_payload("app_mention", channel="C0TOOLS", text="<@UOMNI2BOT> compare the files")
    assert slack.event(payload).status_code == 200
    answer = _final_message(fake_slack, payload)
    assert "🔧 qa_mcp.compare_csv_files…" in answer["history"]
    blocks = json.dumps(answer["blocks"], ensure_ascii=False)
    assert (
        "One row differs" in blocks
        and "👤 dba" in blocks
        and "🔧 qa_mcp.compare_csv_files" in blocks
    )
    uploads = fake_slack.wait_for(
        lambda: [u for u in fake_slack.uploads.values() if u["channel"] == "C0TOOLS"],
        what="the report upload",
    )
    assert uploads[0]["thread_ts"] == payload["event"]["ts"]
    assert uploads[0]["filename"].startswith("csv_compare_before_vs_after")
    assert b"gamma" in uploads[0]["content"]


def test_the_footer_can_be_turned_off(fake_slack, fake_llm, chat, settings):
    from slackapp.answers import slack_event_answer
    from slackapp.dedupe import delivery_claim
    from testing.fake_llm import text

    settings.OMNI2_SLACK_FOOTER = False
    fake_llm.script(text("Plain answer."))
    payload = event_payload("app_mention", channel="C0NOFOOTER")
    key = f"event:{payload['event_id']}"
    assert delivery_claim(key=key)
    slack_event_answer(key=key, event=payload["event"])  # in this process: its settings apply
    (answer,) = fake_slack.messages
    assert "Plain answer." in answer["text"]
    assert [block["type"] for block in answer["blocks"]] == ["section", "actions"]  # no context


def test_progress_updates_of_one_thread_are_throttled(fake_slack, fake_llm, chat, qa_mcp, settings):
    from slackapp.answers import slack_event_answer
    from slackapp.dedupe import delivery_claim
    from testing.fake_llm import text, tool_use

    settings.OMNI2_SLACK_PROGRESS_INTERVAL = (
        60  # one update per minute: the second tool stays silent
    )
    arguments = {"file1_path": str(qa_mcp / "before.csv"), "file2_path": str(qa_mcp / "after.csv")}
    fake_llm.script(
        tool_use("qa_mcp__compare_csv_files", arguments),
        tool_use("qa_mcp__compare_csv_files", arguments),
        text("Compared twice."),
    )
    payload = event_payload("app_mention", channel="C0THROTTLE")
    key = f"event:{payload['event_id']}"
    assert delivery_claim(key=key)
    slack_event_answer(key=key, event=payload["event"])  # in this process: its settings apply
    (answer,) = fake_slack.messages
    assert answer["history"] == [WORKING, "🔧 qa_mcp.compare_csv_files…"]
    assert len(fake_slack.calls_to("chat.update")) == 2  # one progress update, then the answer


def test_omni_sends_tool_reports_to_the_askers_dm(
    slack, fake_slack, fake_llm, chat, qa_mcp, slack_worker, make_user
):
    from testing.fake_llm import text, tool_use

    make_user(
        role="dba", slack_user_id="U0ALICE"
    )  # qa_mcp keeps reports per user: an unknown one gets none

    fake_llm.script(
        tool_use(
            "qa_mcp__compare_csv_files",
            {"file1_path": str(qa_mcp / "before.csv"), "file2_path": str(qa_mcp / "after.csv")},
        ),
        text("One row differs."),
    )
    form = slack_fixture("slash_command")
    form.update(
        text="compare the files",
        response_url=fake_slack.response_url(),
        trigger_id=f"omni.{uuid.uuid4().hex}",
    )
    assert slack.command(form).status_code == 200
    upload = fake_slack.wait_for(
        lambda: [u for u in fake_slack.uploads.values() if u["channel"]], what="the report upload"
    )[0]
    assert (
        upload["channel"] == "D0ALICE" and upload["thread_ts"] is None
    )  # conversations.open with the asker
    (message,) = fake_slack.posted(form["response_url"])
    assert "One row differs." in message["text"]
