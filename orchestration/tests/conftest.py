"""Fixtures for orchestration tests."""

from .conftest_gateway import *  # noqa
from .conftest_llm import *  # noqa
from .conftest_mcp import *  # noqa
