"""Fixtures for the LLM boundary: one local fake Anthropic/OpenAI server per test session.

``fake_llm`` points the Anthropic provider at it, ``fake_openai`` the OpenAI-compatible
one; both hand back the server with an empty script. A Celery worker started with
``fake_llm_env(server)`` in its environment talks to the same server.
"""

import json
from pathlib import Path

import pytest

from testing.fake_llm import FakeLlmServer

__all__ = ["FAKE_LLM_KEY", "fake_llm_env", "llm_fixture", "fake_llm_server", "fake_llm", "fake_openai"]

FAKE_LLM_KEY = "sk-ant-test-0123456789abcdef"
LLM_FIXTURES = Path(__file__).parent / "fixtures" / "llm"


def fake_llm_env(server: FakeLlmServer) -> dict[str, str]:
    """Environment for another process (a Celery worker) to use the fake server."""
    return {"OMNI2_LLM_PROVIDER": "anthropic", "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": server.api_key}


def llm_fixture(name: str) -> dict:
    return json.loads((LLM_FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def fake_llm_server():
    with FakeLlmServer(api_key=FAKE_LLM_KEY) as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server, settings):
    """The fake server, with settings pointing the Anthropic provider at it."""
    fake_llm_server.reset()
    settings.OMNI2_LLM_PROVIDER = "anthropic"
    settings.ANTHROPIC_BASE_URL = fake_llm_server.url
    settings.ANTHROPIC_API_KEY = fake_llm_server.api_key
    settings.OMNI2_LLM_MAX_RETRIES = 2
    settings.OMNI2_LLM_TIMEOUT_SECONDS = 10.0
    yield fake_llm_server
    fake_llm_server.reset()


@pytest.fixture
def fake_openai(fake_llm_server, settings):
    """The fake server, with settings pointing the OpenAI-compatible provider at it."""
    fake_llm_server.reset()
    settings.OMNI2_LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = f"{fake_llm_server.url}/v1"
    settings.OPENAI_API_KEY = fake_llm_server.api_key
    settings.OMNI2_LLM_MAX_RETRIES = 2
    settings.OMNI2_LLM_TIMEOUT_SECONDS = 10.0
    yield fake_llm_server
    fake_llm_server.reset()
