"""Comparing two tables: columns added/removed, rows only in one file, changed cells.

Rows are matched by key columns when given, else by position (data row 1 with data row 1).
Cells are compared as exact strings over the columns both files share. Listed examples are
capped (QA_MCP_MAX_EXAMPLES, default 20 per kind); the counts are always complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from operator import itemgetter

from .files import InputError, Source, Table

MAX_EXAMPLES = int(os.environ.get("QA_MCP_MAX_EXAMPLES", "20"))


@dataclass
class PairResult:
    name: str
    file1_table: str
    file2_table: str
    file1_rows: int
    file2_rows: int
    columns_added: list[str]
    columns_removed: list[str]
    rows_only_in_file1: int = 0
    rows_only_in_file2: int = 0
    changed_rows: int = 0
    changed_cells: int = 0
    duplicate_keys: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list] = field(
        default_factory=lambda: {"only_in_file1": [], "only_in_file2": [], "changed_cells": []}
    )
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (
            self.columns_added
            or self.columns_removed
            or self.rows_only_in_file1
            or self.rows_only_in_file2
            or self.changed_cells
        )

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "duplicate_keys" or v}
        return data | {
            "row_count_difference": self.file2_rows - self.file1_rows,
            "identical": self.identical,
        }


def sources_pair(
    first: Source, second: Source
) -> tuple[list[tuple[Table, Table]], list[str], list[str]]:
    """Pairs of tables to compare, and the table names found only in the first / second source."""
    if first.kind == "csv" and second.kind == "csv":
        return [(_only(first), _only(second))], [], []
    if first.kind == "zip" and second.kind == "zip":
        return _pair_by_name(first.tables, second.tables)
    zip_source, csv_source = (first, second) if first.kind == "zip" else (second, first)
    csv_table = _only(csv_source)
    match = _match_one(zip_source, csv_table.name)
    pair = (match, csv_table) if first.kind == "zip" else (csv_table, match)
    return [pair], [], []


def _only(source: Source) -> Table:
    return next(iter(source.tables.values()))


def _match_one(zip_source: Source, csv_name: str) -> Table:
    if len(zip_source.tables) == 1:
        return _only(zip_source)
    same_name = [t for name, t in zip_source.tables.items() if name.rsplit("/", 1)[-1] == csv_name]
    if len(same_name) == 1:
        return same_name[0]
    raise InputError(
        f"{zip_source.path.name} holds {len(zip_source.tables)} CSV files and none is named {csv_name}: "
        "compare ZIP with ZIP, or CSV with CSV"
    )


def _pair_by_name(first: dict[str, Table], second: dict[str, Table]):
    pairs = [(first[name], second[name]) for name in sorted(first.keys() & second.keys())]
    rest_1 = {n.rsplit("/", 1)[-1]: n for n in first.keys() - second.keys()}
    rest_2 = {n.rsplit("/", 1)[-1]: n for n in second.keys() - first.keys()}
    # Same file name in a different folder of the archive still pairs up.
    for base in sorted(rest_1.keys() & rest_2.keys()):
        pairs.append((first[rest_1.pop(base)], second[rest_2.pop(base)]))
    return pairs, sorted(rest_1.values()), sorted(rest_2.values())


def tables_compare(*, first: Table, second: Table, key_columns: list[str] | None) -> PairResult:
    result = PairResult(
        name=first.name if first.name == second.name else f"{first.name} ↔ {second.name}",
        file1_table=first.name,
        file2_table=second.name,
        file1_rows=len(first.rows),
        file2_rows=len(second.rows),
        columns_added=[c for c in second.columns if c not in first.columns],
        columns_removed=[c for c in first.columns if c not in second.columns],
    )
    common = [c for c in first.columns if c in second.columns]
    if key_columns:
        _compare_by_key(result, first, second, key_columns, common)
    else:
        _compare_by_position(result, first, second, common)
    for table, label in ((first, "file1"), (second, "file2")):
        if table.ragged_rows:
            result.notes.append(
                f"{table.ragged_rows} row(s) in {label} had a different number of cells than the header"
            )
    return result


def _compare_by_position(
    result: PairResult, first: Table, second: Table, common: list[str]
) -> None:
    aligned = _aligned(first, second, common)
    pairs = zip(
        first.rows, second.rows, strict=False
    )  # the longer file's extra rows are handled below
    for number, (row_1, row_2) in enumerate(pairs, start=1):
        _compare_cells(result, lambda n=number: {"row": n}, row_1, row_2, aligned)
    for number in range(len(second.rows) + 1, len(first.rows) + 1):
        _note_only(result, "only_in_file1", {"row": number}, first.rows[number - 1], first.columns)
    for number in range(len(first.rows) + 1, len(second.rows) + 1):
        _note_only(
            result, "only_in_file2", {"row": number}, second.rows[number - 1], second.columns
        )


def _compare_by_key(
    result: PairResult, first: Table, second: Table, key_columns: list[str], common: list[str]
) -> None:
    for table, label in ((first, "file1"), (second, "file2")):
        missing = [k for k in key_columns if k not in table.columns]
        if missing:
            raise InputError(
                f"key column {missing[0]!r} is not in {label} {table.name} (columns: {', '.join(table.columns)})"
            )
    rows_1, rows_2 = (
        _keyed(result, first, key_columns, "file1"),
        _keyed(result, second, key_columns, "file2"),
    )
    aligned = _aligned(first, second, common)

    def where(key: tuple) -> dict:
        return {"key": dict(zip(key_columns, key, strict=True))}

    for key, row_1 in rows_1.items():
        row_2 = rows_2.get(key)
        if row_2 is not None:
            _compare_cells(result, lambda k=key: where(k), row_1, row_2, aligned)
        else:
            _note_only(result, "only_in_file1", where(key), row_1, first.columns)
    for key, row_2 in rows_2.items():
        if key not in rows_1:
            _note_only(result, "only_in_file2", where(key), row_2, second.columns)


def _keyed(
    result: PairResult, table: Table, key_columns: list[str], label: str
) -> dict[tuple, list[str]]:
    positions = [table.columns.index(k) for k in key_columns]
    pick = itemgetter(*positions) if len(positions) > 1 else lambda row, p=positions[0]: (row[p],)
    keyed: dict[tuple, list[str]] = {}
    duplicates = 0
    for row in table.rows:
        key = pick(row)
        if key in keyed:
            duplicates += 1  # the first row with a key is the one compared
            continue
        keyed[key] = row
    if duplicates:
        result.duplicate_keys[label] = duplicates
        result.notes.append(
            f"{duplicates} row(s) in {label} repeat a key already seen; only the first was compared"
        )
    return keyed


def _aligned(first: Table, second: Table, common: list[str]) -> list[tuple[str, int, int]]:
    """(column, its position in file1, its position in file2) for the shared columns; first of duplicates."""
    return [(c, first.columns.index(c), second.columns.index(c)) for c in common]


def _compare_cells(result: PairResult, where, row_1: list[str], row_2: list[str], aligned) -> None:
    # ``where`` is called only for a listed example: building it for every row dominated large files.
    changed = [(column, row_1[i], row_2[j]) for column, i, j in aligned if row_1[i] != row_2[j]]
    if not changed:
        return
    result.changed_rows += 1
    result.changed_cells += len(changed)
    for column, old, new in changed:
        _example(
            result,
            "changed_cells",
            lambda c=column, o=old, n=new: where() | {"column": c, "file1": o, "file2": n},
        )


def _note_only(
    result: PairResult, kind: str, where: dict, row: list[str], columns: list[str]
) -> None:
    setattr(result, f"rows_{kind}", getattr(result, f"rows_{kind}") + 1)
    _example(result, kind, lambda: where | {"values": dict(zip(columns, row, strict=True))})


def _example(result: PairResult, kind: str, make_example) -> None:
    if len(result.examples[kind]) < MAX_EXAMPLES:
        result.examples[kind].append(make_example())
