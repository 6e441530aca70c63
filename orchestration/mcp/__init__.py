"""MCP connectivity: pooled, reusable sessions to MCP servers over http, sse and stdio.

Call through the process pool::

    from orchestration.mcp import ServerSpec, get_pool
    result = get_pool().call_tool(spec, "get_database_health", {"database": "dev_db"})
"""

from .pool import McpPool, PoolConfig, close_pool, get_pool
from .types import (
    McpError,
    McpTimeout,
    McpUnavailable,
    ServerHealth,
    ServerSpec,
    ToolInfo,
    ToolResult,
)

__all__ = [
    "McpError",
    "McpPool",
    "McpTimeout",
    "McpUnavailable",
    "PoolConfig",
    "ServerHealth",
    "ServerSpec",
    "ToolInfo",
    "ToolResult",
    "close_pool",
    "get_pool",
]
