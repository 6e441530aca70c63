"""omni2_analytics_mcp: OMNI2's own MCP server of usage analytics over the audit trail.

``python manage.py run_analytics_mcp --transport stdio|http`` serves it; the reports
(``analytics_*`` functions in spend, requests, health and usage) can be called directly.
"""
