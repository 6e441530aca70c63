"""The text report a comparison leaves behind (Slack uploads it from ``report_path``)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from ..identity import Caller
from .files import InputError, reports_root

LOCAL_FOLDER = "_local"  # a caller OMNI2 did not name: whoever runs the server directly


def caller_folder(caller: Caller | None) -> Path:
    """The caller's own report folder, ``<reports root>/<safe user key>/``, created on first use."""
    folder = reports_root() / user_key(caller)
    folder.mkdir(exist_ok=True)
    return folder


def user_key(caller: Caller | None) -> str:
    """A folder name per e-mail: readable, and a hash so that two e-mails never share one."""
    if caller is None:
        return LOCAL_FOLDER
    if not caller.email:
        # Unknown users would all share one folder, and so each other's reports.
        raise InputError(
            "qa_mcp keeps each user's reports apart, and this call names no user; "
            "ask an OMNI2 admin to register your account"
        )
    slug = re.sub(r"[^a-z0-9_@.-]+", "_", caller.email)[:48].lstrip(".")
    return f"{slug}-{hashlib.sha256(caller.email.encode()).hexdigest()[:12]}"


def report_dir_resolve(raw: str | None, *, own_dir: Path) -> Path:
    """The report directory: the caller's folder, or a sub-folder of it named by ``report_dir``."""
    if not raw:
        return own_dir
    directory = Path(os.path.realpath(own_dir / raw))
    if not (directory == own_dir or directory.is_relative_to(own_dir)):
        raise InputError(f"report_dir {raw!r} must be a folder inside your own report folder")
    if directory.exists() and not directory.is_dir():
        raise InputError(f"report_dir {raw!r} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def report_write(*, directory: Path, result: dict) -> Path:
    stem_1, stem_2 = (_slug(Path(result[f]["name"]).stem) for f in ("file1", "file2"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = directory / f"csv_compare_{stem_1}_vs_{stem_2}_{stamp}_{secrets.token_hex(3)}.txt"
    with open(path, "x", encoding="utf-8") as handle:  # "x": never overwrite another report
        handle.write(report_text(result))
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)[:40] or "file"


def report_text(result: dict) -> str:
    stats = result["statistics"]
    lines = [
        "CSV comparison report",
        f"generated: {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        f"file1: {result['file1']['path']} ({result['file1']['kind']}, {result['file1']['size']})",
        f"file2: {result['file2']['path']} ({result['file2']['kind']}, {result['file2']['size']})",
        f"rows matched by: {result['compared_by']}",
        "",
        f"RESULT: {result['summary']}",
        "",
        "statistics:",
        *(f"  {name}: {value}" for name, value in stats.items()),
    ]
    for label in ("members_only_in_file1", "members_only_in_file2"):
        if result.get(label):
            lines += ["", f"{label.replace('_', ' ')}:", *(f"  {name}" for name in result[label])]
    for pair in result["comparisons"]:
        lines += ["", *_pair_lines(pair)]
    return "\n".join(lines) + "\n"


def _pair_lines(pair: dict) -> list[str]:
    lines = [
        f"== {pair['name']}: {'identical' if pair['identical'] else 'DIFFERENT'}",
        f"  rows: file1 {pair['file1_rows']}, file2 {pair['file2_rows']}"
        f" (difference {pair['row_count_difference']:+d})",
        f"  columns added in file2: {', '.join(pair['columns_added']) or 'none'}",
        f"  columns removed from file2: {', '.join(pair['columns_removed']) or 'none'}",
        f"  rows only in file1: {pair['rows_only_in_file1']}, only in file2: {pair['rows_only_in_file2']}",
        f"  changed rows: {pair['changed_rows']}, changed cells: {pair['changed_cells']}",
        *(f"  note: {note}" for note in pair["notes"]),
    ]
    examples = pair["examples"]
    for example in examples["changed_cells"]:
        lines.append(
            f"  changed {_where(example)} [{example['column']}]: {example['file1']!r} -> {example['file2']!r}"
        )
    for kind in ("only_in_file1", "only_in_file2"):
        for example in examples[kind]:
            lines.append(f"  {kind.replace('_', ' ')} {_where(example)}: {example['values']}")
    return lines


def _where(example: dict) -> str:
    if "key" in example:
        return ", ".join(f"{k}={v}" for k, v in example["key"].items())
    return f"row {example['row']}"
