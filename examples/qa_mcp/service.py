"""compare_csv_files: load both inputs, pair their CSVs, compare, write the report."""

from __future__ import annotations

from ..identity import Caller
from .compare import MAX_EXAMPLES, PairResult, sources_pair, tables_compare
from .files import InputError, source_load
from .report import caller_folder, report_dir_resolve, report_write

STAT_FIELDS = ("rows_only_in_file1", "rows_only_in_file2", "changed_rows", "changed_cells")


def csv_files_compare(
    *,
    file1_path: str,
    file2_path: str,
    key_columns: list[str] | None = None,
    report_dir: str | None = None,
    caller: Caller | None = None,
) -> dict:
    """``caller``: who OMNI2 says is calling (None: run directly); their folder holds the report
    and is the only report folder their inputs may come from."""
    key_columns = _clean_keys(key_columns)
    own_dir = caller_folder(caller)
    directory = report_dir_resolve(
        report_dir, own_dir=own_dir
    )  # checked before the work: fails fast
    first = source_load(raw_path=file1_path, what="file1_path", own_dir=own_dir)
    second = source_load(raw_path=file2_path, what="file2_path", own_dir=own_dir)
    pairs, only_1, only_2 = sources_pair(first, second)
    compared = [tables_compare(first=a, second=b, key_columns=key_columns) for a, b in pairs]
    result = {
        "success": True,
        "file1": first.describe(),
        "file2": second.describe(),
        "compared_by": f"key ({', '.join(key_columns)})"
        if key_columns
        else "position (data row n with data row n)",
        "comparisons": [pair.as_dict() for pair in compared],
        "members_only_in_file1": only_1,
        "members_only_in_file2": only_2,
        "skipped_members": {"file1": first.skipped, "file2": second.skipped},
        "statistics": _statistics(compared, only_1, only_2),
        "examples_cap": MAX_EXAMPLES,
    }
    result["identical"] = result["statistics"]["identical"]
    result["summary"] = _summary(result["statistics"])
    result["report_path"] = str(report_write(directory=directory, result=result))
    return result


def _clean_keys(key_columns) -> list[str]:
    if key_columns is None:
        return []
    if not isinstance(key_columns, list) or not all(isinstance(k, str) and k for k in key_columns):
        raise InputError("key_columns must be a list of column names")
    return list(dict.fromkeys(key_columns))


def _statistics(compared: list[PairResult], only_1: list[str], only_2: list[str]) -> dict:
    stats = {
        "files_compared": len(compared),
        "rows_file1": sum(p.file1_rows for p in compared),
        "rows_file2": sum(p.file2_rows for p in compared),
        "columns_added": sum(len(p.columns_added) for p in compared),
        "columns_removed": sum(len(p.columns_removed) for p in compared),
        **{name: sum(getattr(p, name) for p in compared) for name in STAT_FIELDS},
        "members_only_in_file1": len(only_1),
        "members_only_in_file2": len(only_2),
    }
    stats["row_count_difference"] = stats["rows_file2"] - stats["rows_file1"]
    stats["identical"] = all(p.identical for p in compared) and not only_1 and not only_2
    return stats


def _summary(stats: dict) -> str:
    if stats["identical"]:
        return f"identical: {stats['files_compared']} CSV file(s), {stats['rows_file1']} row(s) each side"
    parts = [
        f"{stats[name]} {label}"
        for name, label in (
            ("columns_added", "column(s) added"),
            ("columns_removed", "column(s) removed"),
            ("rows_only_in_file1", "row(s) only in file1"),
            ("rows_only_in_file2", "row(s) only in file2"),
            ("changed_cells", f"changed cell(s) in {stats['changed_rows']} row(s)"),
            ("members_only_in_file1", "CSV(s) only in file1"),
            ("members_only_in_file2", "CSV(s) only in file2"),
        )
        if stats[name]
    ]
    return "different: " + ", ".join(parts)
