"""The qa_mcp MCP server: compare_csv_files."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from ..identity import caller_of
from .files import InputError
from .service import csv_files_compare

INSTRUCTIONS = (
    "QA helpers. compare_csv_files compares two CSV files (or two ZIPs of CSVs, paired by member "
    "name) from the data root and writes a text report, kept in the caller's own folder, whose path is "
    "returned as report_path."
)


def compare_csv_files(
    file1_path: str,
    file2_path: str,
    key_columns: list[str] | None = None,
    report_dir: str | None = None,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """Compare two CSV files, or ZIPs of CSVs (paired by member name): file sizes, row counts, columns
    added/removed, rows only in one file and changed cells (matched by key_columns when given, else by
    row position). Paths are relative to the data root (or absolute inside it, or inside your own report
    folder). Writes a text report to your report folder (report_dir: a sub-folder of it) and returns its
    path as report_path, with success and statistics."""
    try:
        return csv_files_compare(
            file1_path=file1_path,
            file2_path=file2_path,
            key_columns=key_columns,
            report_dir=report_dir,
            caller=caller_of(ctx),
        )
    except (InputError, OSError) as exc:
        raise ToolError(str(exc)) from None


def server_build() -> MCPServer:
    server = MCPServer("qa_mcp", instructions=INSTRUCTIONS, version="1.0")
    # Not read-only: every call writes a report file.
    server.add_tool(
        compare_csv_files,
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, open_world_hint=False
        ),
    )
    return server
