"""Slash commands and the /omni-help buttons, through a real worker and the fake Slack."""

import json

import pytest

from slackapp.formatting import WORKING

from .conftest import slack_fixture

pytestmark = [pytest.mark.django_db(transaction=True)]

NOTHING_THERE = "You have no tools available on that MCP."


@pytest.fixture
def policy(make_user):
    """Alice (read_only) may use database_mcp's get_* tools only; analytics is closed to her role."""
    from permissions.models import DiscoveredTool, McpServer, Role, RoleRestriction

    read_only = Role.objects.get(name="read_only")
    servers = {
        "database_mcp": ("Database health", ["get_database_health", "analyze_query"], True),
        "analytics_mcp": ("Usage analytics", ["get_cost_summary"], True),
        "old_mcp": ("Retired", ["get_old_thing"], False),
    }
    for name, (description, tools, enabled) in servers.items():
        server = McpServer.objects.create(
            name=name, description=description, url="http://127.0.0.1:9/mcp", enabled=enabled
        )
        for tool in tools:
            DiscoveredTool.objects.create(mcp=server, name=tool, description=f"{tool} does things")
    RoleRestriction.objects.create(
        mcp=McpServer.objects.get(name="database_mcp"),
        role=read_only,
        mode="allow_only",
        patterns=["get_*"],
    )
    RoleRestriction.objects.create(
        mcp=McpServer.objects.get(name="analytics_mcp"),
        role=read_only,
        mode="allow_only",
        patterns=[],
    )
    return make_user(role="read_only", email="alice@example.com", slack_user_id="U0ALICE")


def _command(fake_slack, command: str, text: str = "") -> dict:
    form = slack_fixture("slash_command")
    form.update(
        command=command,
        text=text,
        response_url=fake_slack.response_url(),
        trigger_id=f"{command}.{fake_slack.response_url()[-8:]}",
    )
    return form


def _responses(fake_slack, url: str, count: int = 1) -> list[dict]:
    return fake_slack.wait_for(
        lambda: len(fake_slack.posted(url)) >= count and fake_slack.posted(url),
        what=f"{count} response(s) to {url}",
    )


def _click(slack, fake_slack, value: str, user_id: str = "U0ALICE") -> str:
    payload = slack_fixture("block_actions_help")
    payload["user"]["id"] = user_id
    payload["actions"][0]["value"] = value
    payload["response_url"] = fake_slack.response_url()
    payload["trigger_id"] = f"click.{value}.{payload['response_url'][-8:]}"
    assert slack.action(payload).status_code == 200
    (response,) = _responses(fake_slack, payload["response_url"])
    return json.dumps(response, ensure_ascii=False)


@pytest.mark.worker
def test_omni_help_offers_a_button_for_each_permitted_mcp_only(
    slack, fake_slack, policy, slack_worker
):
    form = _command(fake_slack, "/omni-help")
    response = slack.command(form)
    assert response.status_code == 200 and response.content == b""
    (message,) = _responses(fake_slack, form["response_url"])
    assert message["response_type"] == "ephemeral"
    buttons = [block["accessory"] for block in message["blocks"] if "accessory" in block]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("omni_help_mcp", "database_mcp")]
    assert "Database health" in json.dumps(message)


@pytest.mark.worker
def test_a_help_click_lists_the_clicking_users_tools(slack, fake_slack, policy, slack_worker):
    shown = _click(slack, fake_slack, "database_mcp")
    assert "get_database_health" in shown
    assert "analyze_query" not in shown


@pytest.mark.worker
@pytest.mark.parametrize(
    "forged", ["analytics_mcp", "old_mcp", "no_such_mcp", "database_mcp*", "x" * 500]
)
def test_a_forged_button_value_reveals_nothing(slack, fake_slack, policy, slack_worker, forged):
    shown = _click(slack, fake_slack, forged)
    assert NOTHING_THERE in shown
    assert forged[:100] not in shown and "get_" not in shown


@pytest.mark.worker
def test_a_click_by_an_unknown_slack_user_gets_the_default_users_view(
    slack, fake_slack, policy, slack_worker
):
    shown = _click(slack, fake_slack, "database_mcp", user_id="U0STRANGER")  # read_only by default
    assert "get_database_health" in shown and "analyze_query" not in shown


@pytest.mark.worker
def test_omni_status_reports_omni2_and_each_mcp(slack, fake_slack, slack_worker):
    from permissions.models import McpServer

    McpServer.objects.create(name="old_mcp", url="http://127.0.0.1:9/mcp", enabled=False)
    form = _command(fake_slack, "/omni-status")
    assert slack.command(form).status_code == 200
    (message,) = _responses(fake_slack, form["response_url"])
    text = json.dumps(message, ensure_ascii=False)
    assert "*OMNI2* is" in text and "database ok" in text


@pytest.mark.django_db
def test_omni_without_a_question_answers_with_usage_and_queues_nothing(
    slack, fake_slack, private_queue
):
    response = slack.command(_command(fake_slack, "/omni", "   "))
    assert response.json()["response_type"] == "ephemeral"
    assert "/omni" in response.json()["text"]
    assert private_queue.count() == 0


@pytest.mark.django_db
def test_an_unknown_command_is_answered_not_queued(slack, fake_slack, private_queue):
    response = slack.command(_command(fake_slack, "/omni-drop-tables"))
    assert response.status_code == 200 and "Unknown command" in response.json()["text"]
    assert private_queue.count() == 0


@pytest.mark.django_db
def test_omni_is_acknowledged_at_once_and_a_retried_command_is_queued_once(
    slack, fake_slack, private_queue
):
    form = _command(fake_slack, "/omni", "Which databases can I use?")
    first, again = slack.command(form), slack.command(form)
    assert first.json() == again.json() == {"response_type": "ephemeral", "text": WORKING}
    assert private_queue.count() == 1


@pytest.mark.django_db
def test_an_interaction_that_is_not_a_help_click_is_acknowledged_and_ignored(
    slack, fake_slack, private_queue
):
    payload = slack_fixture("block_actions_help")
    payload["actions"][0]["action_id"] = "something_else"
    assert slack.action(payload).status_code == 200
    assert (
        slack.post(
            "/slack/interactions", "payload=%7Bnot-json", "application/x-www-form-urlencoded"
        ).status_code
        == 400
    )
    assert private_queue.count() == 0
