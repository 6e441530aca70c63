"""Files that tools produced: a ``report_path`` in a tool result, uploaded with the answer.

A tool result is data from an outside server, so a path in it is not trusted: only
existing files under ``OMNI2_SLACK_REPORT_DIRS`` are uploaded (a result naming
``/etc/passwd`` or the app's ``.env`` uploads nothing).
"""

import json
from pathlib import Path

from django.conf import settings

MAX_DEPTH = 6
MAX_BYTES = 50 * 1024 * 1024


def _collect(value, found: list[str], depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        if isinstance(value.get("report_path"), str):
            found.append(value["report_path"])
        for item in value.values():
            _collect(item, found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found, depth + 1)
    elif isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:  # MCP tools often return their JSON as text
            _collect(json.loads(value), found, depth + 1)
        except ValueError:
            pass


def _allowed(path: Path) -> bool:
    roots = [Path(root).resolve() for root in settings.OMNI2_SLACK_REPORT_DIRS]
    return any(path.is_relative_to(root) for root in roots)


def report_paths(tool_results: list[dict]) -> list[Path]:
    """Existing, permitted report files named by the tool results, each once, in order."""
    found: list[str] = []
    for tool_result in tool_results:
        if isinstance(tool_result, dict) and not tool_result.get("is_error"):
            _collect(tool_result.get("result"), found)
    paths = []
    for raw in dict.fromkeys(found):
        path = Path(raw).resolve()
        if _allowed(path) and path.is_file() and path.stat().st_size <= MAX_BYTES:
            paths.append(path)
    return paths
