"""Provider failures become one clear LlmError; retries are the SDK's, counted at the server."""

import pytest

from orchestration.llm import LlmError, get_provider, user_message
from testing.fake_llm import error, text


def ask():
    return get_provider().create(
        model="claude-haiku-4-5", system="s", tools=[], messages=[user_message("q")]
    )


def retry_counts(server):
    return [r.headers.get("x-stainless-retry-count") for r in server.requests]


@pytest.fixture(params=["fake_llm", "fake_openai"])
def any_llm(request):
    """Each test below runs against both providers."""
    return request.getfixturevalue(request.param)


def test_it_fails_permanently_on_a_bad_key_without_retrying(any_llm, settings):
    settings.ANTHROPIC_API_KEY = settings.OPENAI_API_KEY = "sk-ant-wrong-key-123456789"

    with pytest.raises(LlmError) as caught:
        ask()

    assert (caught.value.code, caught.value.permanent, caught.value.status) == (
        "llm_auth_failed",
        True,
        401,
    )
    assert len(any_llm.requests) == 1
    assert "sk-ant-wrong-key" not in str(caught.value)


def test_it_retries_a_rate_limit_then_succeeds(any_llm):
    any_llm.script(error(429, retry_after_ms=5), error(429, retry_after_ms=5), text("made it"))

    assert ask().text == "made it"
    assert retry_counts(any_llm) == ["0", "1", "2"]


def test_it_retries_an_overload_with_backoff_then_succeeds(any_llm):
    # No retry-after: the SDK's own exponential backoff decides the wait.
    any_llm.script(error(529, message="Overloaded"), text("made it"))

    assert ask().text == "made it"
    assert retry_counts(any_llm) == ["0", "1"]


def test_it_gives_a_transient_error_when_the_rate_limit_persists(any_llm):
    any_llm.respond_with(error(429, retry_after_ms=5))

    with pytest.raises(LlmError) as caught:
        ask()

    failure = caught.value
    assert (failure.code, failure.permanent, failure.status) == ("llm_rate_limited", False, 429)
    assert caught.value.retry_after == 1
    assert len(any_llm.requests) == 3  # the first try and OMNI2_LLM_MAX_RETRIES=2 more


def test_it_gives_a_transient_error_when_the_overload_persists(fake_llm, settings):
    settings.OMNI2_LLM_MAX_RETRIES = 1
    fake_llm.respond_with(error(529, message="Overloaded", retry_after_ms=5))

    with pytest.raises(LlmError) as caught:
        ask()

    assert (caught.value.code, caught.value.permanent) == ("llm_overloaded", False)
    assert len(fake_llm.requests) == 2


def test_it_times_out_when_the_provider_is_slower_than_the_setting(any_llm, settings):
    settings.OMNI2_LLM_TIMEOUT_SECONDS = 0.3
    settings.OMNI2_LLM_MAX_RETRIES = 1
    any_llm.respond_with(text("too late", delay_ms=3000))

    with pytest.raises(LlmError) as caught:
        ask()

    assert (caught.value.code, caught.value.permanent) == ("llm_timeout", False)
    assert len(any_llm.requests) == 2


def test_it_explains_a_bad_request_without_echoing_the_key(any_llm, settings):
    key = any_llm.api_key
    any_llm.script(error(400, message=f"tools.0.name: invalid; your key {key} is fine"))

    with pytest.raises(LlmError) as caught:
        ask()

    assert (caught.value.code, caught.value.permanent) == ("llm_bad_request", True)
    assert "tools.0.name: invalid" in caught.value.message
    assert key not in caught.value.message
    assert len(any_llm.requests) == 1


def test_it_reports_an_unreachable_provider(settings):
    settings.OMNI2_LLM_PROVIDER = "anthropic"
    settings.ANTHROPIC_API_KEY = "sk-ant-test-unreachable"
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.OMNI2_LLM_MAX_RETRIES = 0

    with pytest.raises(LlmError) as caught:
        ask()

    assert (caught.value.code, caught.value.permanent) == ("llm_unavailable", False)
