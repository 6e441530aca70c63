"""Fixtures for the REST gateway: McpServer rows pointing at real test MCP servers."""

import pytest

from orchestration.discovery import mcp_tools_refresh
from permissions.models import GlobalPolicy, McpServer

__all__ = ["register_mcp", "gateway_policy"]


@pytest.fixture
def gateway_policy(db):
    policy = GlobalPolicy.objects.get_or_create(pk=1)[0]
    policy.blocked_patterns = ["drop_*"]
    policy.admin_only_patterns = ["compare_*_plans"]
    policy.save()
    return policy


@pytest.fixture
def register_mcp(db, gateway_policy):
    """``register_mcp(name, handle, **fields)`` → an McpServer row for a running test server, tools discovered."""

    def register(name, handle, *, timeout_seconds=30, **fields):
        server = McpServer(name=name, transport=handle.transport, timeout_seconds=timeout_seconds, **fields)
        if handle.transport == "stdio":
            spec = handle.spec()
            server.command, server.args = "python", list(spec.args)
            server.set_env(dict(spec.env))
        else:
            server.url = handle.url
            if handle.token:
                server.set_bearer_token(handle.token)
        server.save()
        [result] = mcp_tools_refresh(names=[name])
        assert result["ok"], result
        return server

    return register
