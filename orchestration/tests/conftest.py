"""Fixtures for orchestration tests."""

from .conftest_llm import *  # noqa
