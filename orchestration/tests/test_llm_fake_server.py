"""The fake LLM API itself: reachable from other processes and scriptable while they talk to it."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from testing.fake_llm import ANTHROPIC_PATH, text

# A separate interpreter using the bare SDK stands in for a Celery worker process.
OTHER_PROCESS = """
import sys, anthropic
client = anthropic.Anthropic(api_key=sys.argv[2], base_url=sys.argv[1], max_retries=0)
for _ in range(2):
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                     messages=[{"role": "user", "content": "hi"}])
    print(message.content[0].text, flush=True)
    sys.stdin.readline()  # wait until the test has scripted the next answer
"""


def control(server, path, payload=None):
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(payload).encode() if payload is not None else None,
        headers={"x-api-key": server.api_key, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_it_is_scripted_from_the_test_while_another_process_talks_to_it(fake_llm):
    fake_llm.script(text("first"))
    child = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, fake_llm.url, fake_llm.api_key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "first"
        fake_llm.script(text("second"))
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "second"
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    assert len(fake_llm.requests_to(ANTHROPIC_PATH)) == 2


def test_it_takes_a_script_over_http_and_lists_what_it_saw(fake_llm):
    control(
        fake_llm,
        "/_control/script",
        {"steps": [{"text": "over http", "usage": {"output_tokens": 3}}]},
    )
    request = urllib.request.Request(
        f"{fake_llm.url}/v1/messages",
        headers={"x-api-key": fake_llm.api_key},
        data=json.dumps({"model": "m", "max_tokens": 5, "messages": []}).encode(),
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.loads(response.read())

    assert answer["content"] == [{"type": "text", "text": "over http"}]
    assert answer["usage"]["output_tokens"] == 3
    assert [r["body"]["model"] for r in control(fake_llm, "/_control/requests")["requests"]] == [
        "m"
    ]


def test_it_answers_an_unscripted_request_with_a_clear_non_retryable_error(fake_llm):
    request = urllib.request.Request(
        f"{fake_llm.url}/v1/messages", data=b"{}", headers={"x-api-key": fake_llm.api_key}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)

    assert caught.value.code == 500
    assert caught.value.headers["x-should-retry"] == "false"
    assert "scripted no answer" in json.loads(caught.value.read())["error"]["message"]
