"""Per-MCP health for /health and /api/mcp/tools/servers."""


def mcp_health_summary() -> list[dict]:
    from .discovery import mcp_health_list

    return mcp_health_list(probe=True)
