"""Per-MCP health for /health and /api/mcp/tools/servers."""


HEALTH_MAX_AGE_SECONDS = 10.0


def mcp_health_summary() -> list[dict]:
    from .discovery import mcp_health_list

    return mcp_health_list(probe=True, max_age=HEALTH_MAX_AGE_SECONDS)
