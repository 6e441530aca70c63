"""The plain values of the MCP layer: specs hide secrets, results are JSON."""

import json

import pytest

from orchestration.mcp import ServerSpec, ToolResult
from orchestration.mcp.breaker import CircuitBreaker


def test_it_keeps_tokens_and_env_values_out_of_the_repr():
    http = ServerSpec(
        name="db", transport="http", url="http://user:pw@db:8300/mcp", bearer_token="tok-SECRET"
    )
    stdio = ServerSpec(
        name="qa", transport="stdio", command="python", env={"DB_DSN": "postgres://x:SECRET@h/db"}
    )

    shown = repr(http) + str(stdio)

    assert "SECRET" not in shown and "pw" not in shown
    assert "bearer_token='***'" in repr(http) and "env_keys=['DB_DSN']" in repr(stdio)


def test_a_changed_connection_config_changes_the_fingerprint_but_the_timeout_does_not():
    base = ServerSpec(name="db", transport="http", url="http://db/mcp", bearer_token="a")

    assert (
        ServerSpec(name="db", transport="http", url="http://db/mcp", bearer_token="b").fingerprint
        != base.fingerprint
    )
    assert (
        ServerSpec(
            name="db", transport="http", url="http://db/mcp", bearer_token="a", timeout_seconds=5
        ).fingerprint
        == base.fingerprint
    )


def test_env_given_as_a_mapping_or_pairs_is_the_same_spec():
    as_mapping = ServerSpec(name="s", transport="stdio", command="x", env={"B": "2", "A": "1"})
    as_pairs = ServerSpec(name="s", transport="stdio", command="x", env=[("A", "1"), ("B", "2")])

    assert as_mapping == as_pairs and hash(as_mapping) == hash(as_pairs)


@pytest.mark.parametrize(
    "fields",
    [
        {"transport": "websocket", "url": "http://x/mcp"},
        {"transport": "http", "url": ""},
        {"transport": "sse", "url": "ftp://x/sse"},
        {"transport": "stdio", "command": ""},
        {"transport": "http", "url": "http://x/mcp", "timeout_seconds": 0},
    ],
)
def test_it_refuses_an_incomplete_spec(fields):
    with pytest.raises(ValueError):
        ServerSpec(name="bad", **fields)


def test_a_tool_result_is_json():
    result = ToolResult(
        is_error=False, content=[{"type": "text", "text": "3"}], structured={"result": 3}, text="3"
    )

    assert json.loads(json.dumps(result.to_json())) == {
        "is_error": False,
        "content": [{"type": "text", "text": "3"}],
        "structured": {"result": 3},
        "text": "3",
    }


def test_the_breaker_opens_after_the_threshold_and_lets_one_trial_through_after_the_cool_down():
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_seconds=30, clock=lambda: now[0])
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()

    assert not breaker.allow() and breaker.is_open
    now[0] = 31.0
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # nobody else while it runs
    breaker.record_success()
    assert breaker.allow() and not breaker.is_open


def test_a_failed_trial_opens_the_breaker_for_another_cool_down():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=10, clock=lambda: now[0])
    breaker.record_failure()
    breaker.record_failure()
    now[0] = 11.0
    assert breaker.allow()

    breaker.record_failure()

    assert not breaker.allow()
    now[0] = 22.0
    assert breaker.allow()


def test_a_success_resets_the_failure_count():
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=10, clock=lambda: 0.0)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()

    assert breaker.allow()
