"""Admin registrations of this app live beside their models (``mcp/admin.py``)."""

from .mcp.admin import McpServerStatusAdmin  # noqa: F401
