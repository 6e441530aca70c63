"""Tool results that are tables, and those tables as CSV (the "Export CSV" button).

A tool result is data from an outside server: it is parsed defensively, and a cell that a
spreadsheet would run as a formula is written as text.
"""

import csv
import io
import json

MAX_DEPTH = 3
# A cell starting with one of these is a formula to Excel / Sheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _parsed(value):
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:  # MCP tools often return their JSON as text
            return json.loads(value)
        except ValueError:
            return value
    return value


def _rows_of(value) -> list[dict] | None:
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        return value
    return None


def table_of(value, depth: int = 0) -> list[dict] | None:
    """The first list of objects in a tool result (the result itself, or a value inside it)."""
    value = _parsed(value)
    rows = _rows_of(value)
    if rows is not None or depth >= MAX_DEPTH or not isinstance(value, dict):
        return rows
    for item in value.values():
        rows = table_of(item, depth + 1)
        if rows is not None:
            return rows
    return None


def tables_in(tool_results: list[dict]) -> list[tuple[str, list[dict]]]:
    """``("mcp.tool", rows)`` for each successful tool result that holds a table."""
    found = []
    for result in tool_results:
        if isinstance(result, dict) and not result.get("is_error"):
            rows = table_of(result.get("result"))
            if rows is not None:
                found.append((f"{result.get('mcp')}.{result.get('tool')}", rows))
    return found


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_csv(rows: list[dict]) -> str:
    """The rows as CSV; the columns are every key seen, in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(str(c)) for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
    return out.getvalue()
