from django.core.management.base import BaseCommand

from orchestration.mcp.discovery import mcp_tools_refresh


class Command(BaseCommand):
    help = "Ask each enabled MCP server (or the named ones) for its tools and store them."

    def add_arguments(self, parser):
        parser.add_argument(
            "names", nargs="*", help="MCP server names; all enabled servers when omitted"
        )

    def handle(self, *args, names, **options):
        failed = 0
        for row in mcp_tools_refresh(names=names or None):
            if row["ok"]:
                self.stdout.write(f"{row['name']}: {row['tools']} tools")
            else:
                failed += 1
                self.stderr.write(f"{row['name']}: unreachable: {row['error']}")
        if failed:
            raise SystemExit(1)
