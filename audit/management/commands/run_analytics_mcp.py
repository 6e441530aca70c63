"""python manage.py run_analytics_mcp --transport stdio|http [--host 127.0.0.1] [--port 8302]

Logs go to stderr only: on stdio, stdout *is* the MCP transport.
"""

import argparse
import logging
import os

from django.core.management.base import BaseCommand

from audit.analytics.server import analytics_database_read_only, analytics_server_build
from examples.serving import serving_run

TOKEN_ENV = "OMNI2_ANALYTICS_MCP_TOKEN"  # bearer token required over HTTP when set
LOOPBACK = ("127.0.0.1", "localhost", "::1")
logger = logging.getLogger("audit.analytics")


class Command(BaseCommand):
    help = "Serve omni2_analytics_mcp (read-only analytics over the audit trail) over stdio or streamable HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8302)
        parser.add_argument("--log-level", default=os.environ.get("MCP_LOG_LEVEL", "INFO").upper())

    def handle(self, *args, transport, host, port, log_level, **options):
        logger.setLevel(log_level)
        if transport == "http" and host not in LOOPBACK and not os.environ.get(TOKEN_ENV):
            # Every user's requests and costs would be open to anyone who reaches the port.
            logger.warning("run_analytics_mcp: serving on %s without a bearer token; set %s", host, TOKEN_ENV)
        analytics_database_read_only()
        namespace = argparse.Namespace(transport=transport, host=host, port=port, log_level=log_level)
        serving_run(server=analytics_server_build(), args=namespace, token_env=TOKEN_ENV)
