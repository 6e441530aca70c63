"""python manage.py run_analytics_mcp --transport stdio|http [--host 127.0.0.1] [--port 8302]

Logs go to stderr only: on stdio, stdout *is* the MCP transport.
"""

import argparse
import ipaddress
import logging
import os

from django.core.management.base import BaseCommand, CommandError

from audit.analytics.server import analytics_database_read_only, analytics_server_build
from examples.serving import serving_run

TOKEN_ENV = "OMNI2_ANALYTICS_MCP_TOKEN"  # bearer token required over HTTP when set
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
        if (
            transport == "http"
            and not _is_loopback(host)
            and not os.environ.get(TOKEN_ENV, "").strip()
        ):
            # Every user's requests and costs would be open to anyone who reaches the port.
            raise CommandError(
                f"run_analytics_mcp: refusing to serve on {host} without a bearer token; "
                f"set {TOKEN_ENV} (clients send it as Authorization: Bearer ...)"
            )
        analytics_database_read_only()
        namespace = argparse.Namespace(
            transport=transport, host=host, port=port, log_level=log_level
        )
        serving_run(server=analytics_server_build(), args=namespace, token_env=TOKEN_ENV)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False
