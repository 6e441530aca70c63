"""database_mcp: read-only MySQL/MariaDB and PostgreSQL monitoring over MCP (see docs/MCP_SERVERS.md)."""
