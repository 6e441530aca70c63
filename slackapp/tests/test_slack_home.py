"""The App Home tab: published on ``app_home_opened`` for the person who opened it."""

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest

from slackapp.dedupe import delivery_state
from slackapp.home import _usage_text, home_budget_usd
from slackapp.intake import slack_event_enqueue

from .conftest import event_payload

HAIKU = "claude-haiku-4-5"  # $1 per million input tokens


@pytest.fixture
def db_mcp():
    from orchestration.mcp.discovery import mcp_tools_refresh
    from permissions.models import McpServer

    McpServer.objects.create(
        name="db_mcp",
        transport="stdio",
        command="python",
        args=["-m", "testing.mcp_servers", "--transport", "stdio"],
    )
    assert mcp_tools_refresh(names=["db_mcp"])[0]["ok"]


def _spent(user, dollars: int, *, slack_user_id: str = "") -> None:
    from audit.services import audit_record

    audit_record(
        user=user,
        source="slack",
        message="q",
        status="success",
        model=HAIKU,
        usage={"input_tokens": dollars * 1_000_000},
        slack={"user_id": slack_user_id},
    )


def _home_text(fake_slack, user: str, payload: dict) -> str:
    key = f"home:{payload['event_id']}"
    fake_slack.wait_for(lambda: delivery_state(key=key) == "done", what="the Home view")
    (view,) = fake_slack.home_views[user]
    assert view["type"] == "home"
    return json.dumps(view["blocks"], ensure_ascii=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_the_home_tab_shows_role_tools_and_this_months_usage(
    slack, fake_slack, make_user, db_mcp, slack_worker
):
    from permissions.models import GlobalPolicy

    alice = make_user(role="dba", email="alice@example.com", slack_user_id="U0ALICE")
    bob = make_user(role="dba", email="bob@example.com")
    rules = GlobalPolicy.load()
    rules.blocked_patterns = ["drop_table"]
    rules.save()
    _spent(alice, 2)
    _spent(alice, 1)
    _spent(bob, 5)  # someone else's spending is not hers
    payload = event_payload("app_home_opened")
    assert slack.event(payload).status_code == 200
    text = _home_text(fake_slack, "U0ALICE", payload)
    assert "*Role*: dba (alice@example.com)" in text
    assert "*This month*: 2 requests · 💰 $3.0000" in text
    assert "*db_mcp*" in text and "`get_top_queries`" in text
    assert "drop_table" not in text  # blocked for her: not shown


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_stranger_sees_the_default_role_and_their_slack_ids_usage(
    slack, fake_slack, roles, slack_worker
):
    _spent(None, 1, slack_user_id="U0STRANGER")
    _spent(None, 4, slack_user_id="U0OTHER")
    payload = event_payload("app_home_opened", user="U0STRANGER")
    assert slack.event(payload).status_code == 200
    text = _home_text(fake_slack, "U0STRANGER", payload)
    assert "*Role*: read_only (not linked to an OMNI2 account)" in text
    assert "*This month*: 1 request · 💰 $1.0000" in text
    assert "You have no MCP servers available" in text


def test_only_the_home_tab_is_published(fake_slack, private_queue):
    payload = event_payload("app_home_opened", tab="messages")
    assert slack_event_enqueue(payload=payload) == "ignored"
    assert private_queue.count() == 0


def test_the_budget_hook_reads_the_policys_budget_when_there_is_one():
    assert home_budget_usd(SimpleNamespace(role="dba")) is None  # no budgets yet: no line
    policy = SimpleNamespace(monthly_budget_usd=10)
    assert home_budget_usd(policy) == Decimal("10")
    usage = {"requests": 3, "cost_usd": 2.5}
    assert _usage_text(usage, Decimal("10")).endswith("of your $10.00 budget (25%)")
    assert "budget" not in _usage_text(usage, None)
