"""The OpenAI-compatible provider, through the real `openai` SDK, against the local fake API."""

from orchestration.llm import (
    ToolSpec,
    Usage,
    get_provider,
    tool_result_block,
    tool_results_message,
    user_message,
)
from testing.fake_llm import OPENAI_PATH, raw, text, tool_use
from testing.fixtures.llm import llm_fixture

MODEL = "qwen2.5:7b"
HEALTH = ToolSpec(
    "database_mcp__get_database_health",
    "Health of one database.",
    {"type": "object", "properties": {"database": {"type": "string"}}},
)


def ask(messages, tools=(HEALTH,)):
    return get_provider().create(
        model=MODEL, system="You are OMNI2.", messages=messages, tools=list(tools)
    )


def test_it_returns_a_text_answer(fake_openai):
    fake_openai.script(text("training_db is healthy."))

    response = ask([user_message("How is training_db?")])

    assert (response.text, response.stop_reason) == ("training_db is healthy.", "end_turn")
    assert response.model == MODEL
    sent = fake_openai.requests_to(OPENAI_PATH)[0].body
    assert sent["messages"] == [
        {"role": "system", "content": "You are OMNI2."},
        {"role": "user", "content": "How is training_db?"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": HEALTH.name,
                "description": HEALTH.description,
                "parameters": HEALTH.input_schema,
            },
        }
    ]


def test_it_runs_a_tool_call_turn_then_a_final_answer(fake_openai):
    fake_openai.script(tool_use(HEALTH.name, {"database": "training_db"}), text("All good."))

    first = ask([user_message("How is training_db?")])
    assert first.stop_reason == "tool_use"
    call = first.tool_uses[0]
    assert (call.name, call.input) == (HEALTH.name, {"database": "training_db"})
    conversation = [
        user_message("How is training_db?"),
        first.assistant_message(),
        tool_results_message([tool_result_block(call.id, "connection refused", is_error=True)]),
    ]
    final = ask(conversation)

    assert final.text == "All good."
    sent = fake_openai.requests_to(OPENAI_PATH)[1].body["messages"]
    assert sent[2]["tool_calls"] == [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": HEALTH.name, "arguments": '{"database": "training_db"}'},
        }
    ]
    assert sent[3] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "Error: connection refused",
    }


def test_it_counts_cached_prompt_tokens_apart_from_fresh_input(fake_openai):
    seed_usage = {"input_tokens": 140, "output_tokens": 346, "cache_read_tokens": 7589}
    fake_openai.script(text("ok", usage=seed_usage))

    response = ask([user_message("q")])

    assert response.usage == Usage(input_tokens=140, output_tokens=346, cache_read_tokens=7589)


def test_it_reads_tool_calls_that_a_local_server_finishes_with_stop(fake_openai):
    fake_openai.script(raw(llm_fixture("openai_ollama_tool_call.json")))

    response = ask([user_message("q")])

    assert response.stop_reason == "tool_use"
    assert response.tool_uses[0].input == {"database": "training_db", "limit": 5}
    # Broken JSON from the model stays visible instead of becoming a silent empty call.
    assert response.tool_uses[1].input == {"_unparsed_arguments": '{"database": "training_db"'}
    assert response.usage == Usage(input_tokens=412, output_tokens=38)
    assert response.text == ""
