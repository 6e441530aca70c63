"""Per-MCP health for /health. Filled in by the MCP connectivity layer."""


def mcp_health_summary() -> list[dict]:
    return []
