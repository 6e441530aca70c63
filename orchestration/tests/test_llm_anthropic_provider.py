"""The Anthropic provider, through the real `anthropic` SDK, against the local fake API."""

import asyncio

from orchestration.llm import (
    ToolSpec,
    Usage,
    get_provider,
    tool_result_block,
    tool_results_message,
    user_message,
)
from testing.fake_llm import ANTHROPIC_PATH, raw, text, tool_use, tool_uses
from testing.fixtures.llm import llm_fixture

MODEL = "claude-haiku-4-5"
HEALTH = ToolSpec(
    "database_mcp__get_database_health",
    "Health of one database.",
    {"type": "object", "properties": {"database": {"type": "string"}}},
)
TOP = ToolSpec(
    "database_mcp__get_top_queries", "Slowest queries.", {"type": "object", "properties": {}}
)


def ask(
    question="How is training_db?", tools=(HEALTH, TOP), system="You are OMNI2.", messages=None
):
    return get_provider().create(
        model=MODEL, system=system, tools=list(tools), messages=messages or [user_message(question)]
    )


def test_it_returns_a_text_answer(fake_llm):
    fake_llm.script(text("training_db is healthy.", usage={"input_tokens": 20, "output_tokens": 7}))

    response = ask()

    assert response.text == "training_db is healthy."
    assert response.tool_uses == []
    assert response.stop_reason == "end_turn"
    assert response.model == MODEL
    assert response.usage == Usage(input_tokens=20, output_tokens=7)
    assert response.raw_content == [{"type": "text", "text": "training_db is healthy."}]


def test_it_sends_the_conversation_in_the_messages_api_shape(fake_llm):
    fake_llm.script(text("ok"))

    get_provider().create(
        model=MODEL, system="sys", messages=[user_message("hi")], tools=[], max_tokens=321
    )

    body = fake_llm.requests_to(ANTHROPIC_PATH)[0].body
    assert body["model"] == MODEL
    assert body["max_tokens"] == 321
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert "tools" not in body


def test_it_runs_a_tool_use_turn_then_a_final_answer_and_sums_usage(fake_llm):
    fake_llm.script(
        tool_uses(
            (HEALTH.name, {"database": "training_db"}),
            (TOP.name, {}),
            usage={"input_tokens": 100, "output_tokens": 40, "cache_write_tokens": 900},
        ),
        text(
            "All good.", usage={"input_tokens": 130, "output_tokens": 25, "cache_read_tokens": 900}
        ),
    )

    first = ask()
    assert first.stop_reason == "tool_use"
    assert [(u.name, u.input) for u in first.tool_uses] == [
        (HEALTH.name, {"database": "training_db"}),
        (TOP.name, {}),
    ]
    results = tool_results_message(
        [
            tool_result_block(first.tool_uses[0].id, '{"status": "ok"}'),
            tool_result_block(first.tool_uses[1].id, "timed out", is_error=True),
        ]
    )
    conversation = [user_message("How is training_db?"), first.assistant_message(), results]
    final = ask(messages=conversation)

    assert final.text == "All good."
    assert first.usage + final.usage == Usage(
        input_tokens=230, output_tokens=65, cache_read_tokens=900, cache_write_tokens=900
    )
    sent = fake_llm.requests_to(ANTHROPIC_PATH)[1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": first.raw_content}
    assert sent[2]["content"][1] == {
        "type": "tool_result",
        "tool_use_id": first.tool_uses[1].id,
        "content": "timed out",
        "is_error": True,
    }


def test_it_marks_the_last_tool_and_the_system_prompt_for_prompt_caching(fake_llm):
    fake_llm.script(text("ok"))

    ask(system="You are OMNI2. The user is a DBA.")

    body = fake_llm.requests[0].body
    assert [t.get("cache_control") for t in body["tools"]] == [None, {"type": "ephemeral"}]
    assert body["system"] == [
        {
            "type": "text",
            "text": "You are OMNI2. The user is a DBA.",
            "cache_control": {"type": "ephemeral"},
        }
    ]


def test_it_reports_the_seed_usage_intact(fake_llm):
    fake_llm.script(raw(llm_fixture("anthropic_seed_usage.json")))

    response = get_provider().create(
        model="claude-3-5-haiku-20241022",
        system="s",
        tools=[],
        messages=[user_message("health of training_db?")],
    )

    assert response.usage == Usage(
        input_tokens=140, output_tokens=346, cache_read_tokens=7589, cache_write_tokens=0
    )
    assert response.model == "claude-3-5-haiku-20241022"


def test_it_keeps_text_beside_tool_use_in_the_assistant_turn(fake_llm):
    fake_llm.script(raw(llm_fixture("anthropic_text_and_tool_use.json")))

    response = ask()

    assert response.text == "I'll check the health of training_db first."
    assert response.tool_uses[0].id == "toolu_01A09q90qw90lq917835lq9"
    assert [b["type"] for b in response.raw_content] == ["text", "tool_use"]
    assert response.usage.cache_write_tokens == 1830


def test_it_answers_from_async_code(fake_llm):
    fake_llm.script(tool_use(HEALTH.name, {"database": "dev_db"}))

    response = asyncio.run(
        get_provider().acreate(
            model=MODEL, system="s", messages=[user_message("q")], tools=[HEALTH]
        )
    )

    assert response.tool_uses[0].input == {"database": "dev_db"}
