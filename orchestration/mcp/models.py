"""The connectivity view of the MCP registry.

The registry's rows (``permissions.McpServer``, ``permissions.DiscoveredTool``) are policy
inputs: roles and overrides point at them and the YAML import writes them with the users, so
they belong to ``permissions`` (one owner per table, below this app). What this app adds is
how to reach them: this proxy carries the admin page of their live state (health, refresh),
and discovery writes tools only through ``permissions.services.discovered_tools_sync``.
"""

from permissions.models import McpServer


class McpServerStatus(McpServer):
    class Meta:
        proxy = True
        verbose_name = "MCP server status"
        verbose_name_plural = "MCP server status"
