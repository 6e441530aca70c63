"""``python -m testing.mcp_servers --transport http|sse|stdio [--port N]``."""

from testing.mcp_servers import main

main()
