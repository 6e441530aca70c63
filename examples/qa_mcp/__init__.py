"""qa_mcp: compare CSV files or ZIPs of CSVs over MCP (see docs/MCP_SERVERS.md)."""
