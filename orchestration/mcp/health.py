"""Per-MCP health for /health and /api/mcp/tools/servers.

Error text can carry a server's URL, host names or what the server said; only admins see it
(``/api/mcp/tools/servers``). Everyone else gets each row with ``last_error`` reduced to a
short code (``unreachable``, ``timeout``, ``circuit_open``, ``mcp_error``).
"""

from .discovery import mcp_health_list

HEALTH_MAX_AGE_SECONDS = 10.0
_PUBLIC_FIELDS = ("name", "status", "tools", "latency_ms")


def mcp_health_summary() -> list[dict]:
    return mcp_health_list(probe=True, max_age=HEALTH_MAX_AGE_SECONDS)


def mcp_health_public(row: dict) -> dict:
    """``row`` as anyone may see it: status and a short error code, no error text."""
    public = {field: row[field] for field in _PUBLIC_FIELDS}
    public["last_error"] = _error_code(row)
    return public


def _error_code(row: dict) -> str:
    if row["status"] == "circuit_open":
        return "circuit_open"
    if not row["last_error"]:
        return ""
    return row["last_error_code"] or "mcp_error"
