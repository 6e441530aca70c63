"""Choosing the provider and the model from settings."""

import pytest

from orchestration.llm import (
    LlmError,
    LlmNotConfigured,
    ModelNotAllowed,
    get_provider,
    model_resolve,
    user_message,
)
from testing.fake_llm import text


def test_it_refuses_to_build_a_claude_provider_without_an_api_key(settings):
    settings.OMNI2_LLM_PROVIDER = "anthropic"
    settings.ANTHROPIC_API_KEY = ""

    with pytest.raises(LlmNotConfigured) as caught:
        get_provider()

    assert caught.value.code == "llm_not_configured"
    assert "ANTHROPIC_API_KEY" in caught.value.message


def test_it_refuses_an_openai_provider_with_neither_url_nor_key(settings):
    settings.OMNI2_LLM_PROVIDER = "openai"
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""

    with pytest.raises(LlmNotConfigured):
        get_provider()


def test_it_refuses_an_unknown_provider_name(settings):
    settings.OMNI2_LLM_PROVIDER = "gemini"

    with pytest.raises(LlmNotConfigured) as caught:
        get_provider()

    assert "'gemini'" in caught.value.message


def test_it_maps_not_configured_to_a_503_and_provider_failures_to_a_502():
    assert LlmNotConfigured("none").as_api_error().status_code == 503
    failure = LlmError("slow", code="llm_timeout").as_api_error()
    assert (failure.status_code, failure.code) == (502, "llm_timeout")


def test_it_follows_changed_settings_instead_of_a_stale_client(fake_llm, settings):
    fake_llm.respond_with(text("ok"))

    def ask():
        return get_provider().create(
            model="claude-haiku-4-5", system="", tools=[], messages=[user_message("q")]
        )

    assert ask().text == "ok"

    settings.ANTHROPIC_API_KEY = "sk-ant-rotated-away-0000"
    with pytest.raises(LlmError) as caught:
        ask()

    assert caught.value.code == "llm_auth_failed"
    assert [r.headers["authorization"] for r in fake_llm.requests] == [
        f"Bearer {fake_llm.api_key}",
        "Bearer sk-ant-rotated-away-0000",
    ]


def test_it_uses_the_global_default_model_when_nothing_is_named(settings):
    settings.OMNI2_DEFAULT_MODEL = "claude-haiku-4-5"

    assert model_resolve(requested=None, role_default=None) == "claude-haiku-4-5"
    assert model_resolve(requested="", role_default="") == "claude-haiku-4-5"


def test_it_prefers_the_role_default_to_the_global_one(settings):
    settings.OMNI2_DEFAULT_MODEL = "claude-haiku-4-5"

    assert model_resolve(requested=None, role_default="claude-sonnet-4-5") == "claude-sonnet-4-5"


def test_it_takes_a_requested_model_from_the_allow_list(settings):
    settings.OMNI2_ALLOWED_MODELS = ["claude-haiku-4-5", "claude-opus-4-1"]

    assert (
        model_resolve(requested="claude-opus-4-1", role_default="claude-haiku-4-5")
        == "claude-opus-4-1"
    )


def test_it_refuses_a_request_for_the_roles_default_model_when_it_is_not_on_the_allow_list(
    settings,
):
    settings.OMNI2_ALLOWED_MODELS = ["claude-haiku-4-5"]

    with pytest.raises(ModelNotAllowed):
        model_resolve(requested="my-local-llama", role_default="my-local-llama")


@pytest.mark.django_db
def test_asking_for_the_roles_default_model_off_the_allow_list_is_a_400(
    settings, fake_llm, authed_client
):
    from permissions.models import Role

    settings.OMNI2_ALLOWED_MODELS = ["claude-haiku-4-5"]
    client = authed_client(role="dba")
    Role.objects.filter(name="dba").update(
        default_model="my-local-llama"
    )  # set before the rule existed
    fake_llm.script(text("should not be asked"))

    response = client.post(
        "/api/chat/ask", {"message": "hi", "model": "my-local-llama"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_request"
    assert "my-local-llama" in response.json()["error"]["message"]
    assert fake_llm.requests == []


def test_it_refuses_a_model_outside_the_allow_list(settings):
    settings.OMNI2_ALLOWED_MODELS = ["claude-haiku-4-5"]
    settings.OMNI2_DEFAULT_MODEL = "claude-haiku-4-5"

    with pytest.raises(ModelNotAllowed) as caught:
        model_resolve(requested="gpt-5-turbo-max", role_default=None)

    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_request"
    assert "gpt-5-turbo-max" in caught.value.message
