"""Answers become Slack mrkdwn and Block Kit that Slack accepts: sized, escaped, with a footer."""

import json

import pytest

from slackapp.formatting import (
    SECTION_LIMIT,
    answer_messages,
    attached_answer_message,
    footer_text,
    help_message,
    markdown_to_mrkdwn,
    mrkdwn_chunks,
    status_message,
    tools_message,
)
from slackapp.reports import report_paths


def test_markdown_becomes_slack_mrkdwn():
    text = markdown_to_mrkdwn(
        "# Health\n**CPU** is *fine*, see [the docs](https://x.example/a).\n- one\n- two"
    )
    assert text.splitlines()[0] == "*Health*"
    assert "*CPU* is _fine_" in text
    assert "<https://x.example/a|the docs>" in text
    assert "• one" in text and "• two" in text


def test_an_answer_cannot_ping_the_channel_or_forge_links():
    text = markdown_to_mrkdwn("Hello <!channel> and <@U123> & <https://evil.example|click>")
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel>" in text and "&amp;" in text


def test_code_fences_lose_their_language_tag_and_keep_their_content():
    text = markdown_to_mrkdwn("Plan:\n```sql\nSELECT **x** FROM t\n```")
    assert "```\nSELECT **x** FROM t\n```" in text


def test_long_text_is_split_at_line_boundaries_within_the_section_limit():
    lines = [f"line {n} " + "x" * 80 for n in range(200)]
    chunks = mrkdwn_chunks("\n".join(lines))
    assert len(chunks) > 1
    assert all(len(chunk) <= SECTION_LIMIT for chunk in chunks)
    assert "\n".join(chunks).split("\n") == lines  # nothing lost, no line cut in two


def test_a_code_block_cut_in_two_is_closed_and_reopened():
    text = "Result:\n```\n" + "\n".join(f"row {n:05d} " + "y" * 60 for n in range(120)) + "\n```"
    chunks = mrkdwn_chunks(text)
    assert len(chunks) > 1
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)
    assert chunks[1].startswith("```\n")


def test_a_word_longer_than_a_section_is_cut_hard():
    chunks = mrkdwn_chunks("z" * (SECTION_LIMIT * 2 + 10))
    assert all(len(chunk) <= SECTION_LIMIT for chunk in chunks)
    assert "".join(chunks) == "z" * (SECTION_LIMIT * 2 + 10)


def test_the_footer_shows_role_tools_cost_and_time():
    footer = footer_text(
        role="dba",
        tools_used=["db.get_health", "db.get_health", "db.top"],
        cost_usd=0.002103,
        seconds=3.44,
    )
    assert footer == "👤 dba · 🔧 db.get_health, db.top · 💰 $0.0021 · ⏱ 3.4s"
    assert "no tools" in footer_text(role="read_only", tools_used=[], cost_usd=0, seconds=1)


def test_an_answer_message_has_sections_and_the_footer_as_context():
    messages = answer_messages(mrkdwn="All *good*.", footer="👤 dba")
    assert len(messages) == 1
    blocks = messages[0]["blocks"]
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "All *good*."}}
    assert blocks[-1]["type"] == "context" and blocks[-1]["elements"][0]["text"] == "👤 dba"
    assert messages[0]["text"] == "All *good*."
    assert answer_messages(mrkdwn="x", footer=None)[0]["blocks"][-1]["type"] == "section"


def test_a_long_answer_is_split_into_several_messages_with_the_footer_last():
    mrkdwn = "\n\n".join("para " + "w" * 2000 for _ in range(6))
    messages = answer_messages(mrkdwn=mrkdwn, footer="👤 dba")
    assert len(messages) == 2
    assert all(len(m["blocks"]) <= 50 and len(m["text"]) <= 300 for m in messages)
    assert [b["type"] for b in messages[-1]["blocks"]][-1] == "context"
    assert all(b["type"] == "section" for b in messages[0]["blocks"])


def test_an_attached_answer_shows_its_opening_and_says_a_file_follows():
    message = attached_answer_message(mrkdwn="start " + "q" * 20000, footer="👤 dba")
    assert message["blocks"][0]["text"]["text"].startswith("start ")
    assert len(message["blocks"][0]["text"]["text"]) <= 1500
    assert "attached" in json.dumps(message)


def test_help_has_one_button_per_mcp_carrying_its_name():
    message = help_message(
        [{"name": "database_mcp", "description": "DB <health>"}, {"name": "qa_mcp"}]
    )
    buttons = [b["accessory"] for b in message["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("omni_help_mcp", "database_mcp"),
        ("omni_help_mcp", "qa_mcp"),
    ]
    assert "DB &lt;health&gt;" in json.dumps(message, ensure_ascii=False)


def test_tools_and_status_messages_list_what_they_are_given():
    tools = tools_message(
        mcp="database_mcp", tools=[{"name": "get_health", "description": "CPU\nmore"}]
    )
    assert "`get_health` CPU" in json.dumps(tools)
    status = status_message(
        {
            "status": "degraded",
            "database": "ok",
            "broker": "ok",
            "mcps": [
                {"name": "database_mcp", "status": "unreachable", "tools": 0, "latency_ms": None}
            ],
        }
    )
    text = json.dumps(status, ensure_ascii=False)
    assert "OMNI2* is degraded" in text and "🔴 *database_mcp*: unreachable" in text


def test_report_paths_come_only_from_permitted_directories(tmp_path, settings):
    reports, elsewhere = tmp_path / "reports", tmp_path / "secret"
    reports.mkdir(), elsewhere.mkdir()
    (reports / "r.txt").write_text("report"), (elsewhere / ".env").write_text("KEY=1")
    settings.OMNI2_SLACK_REPORT_DIRS = [str(reports)]
    results = [
        {"result": {"success": True, "report_path": str(reports / "r.txt")}, "is_error": False},
        {"result": json.dumps({"report_path": str(elsewhere / ".env")}), "is_error": False},
        {
            "result": [{"text": json.dumps({"report_path": str(reports / "../secret/.env")})}],
            "is_error": False,
        },
        {"result": {"report_path": str(reports / "missing.txt")}, "is_error": False},
        {"result": {"report_path": str(reports / "r.txt")}, "is_error": False},
    ]
    assert report_paths(results) == [(reports / "r.txt").resolve()]


@pytest.mark.parametrize("answer", ["", "   ", "**", "|a|\n|-|\n|1|"])
def test_odd_answers_still_make_valid_messages(answer):
    messages = answer_messages(mrkdwn=markdown_to_mrkdwn(answer), footer=None)
    assert messages and all(b["text"]["text"] for b in messages[0]["blocks"])
