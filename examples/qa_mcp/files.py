"""Reading the inputs: the allowed roots, CSV files and ZIPs of CSVs, each into plain tables.

ZIP members are read in memory, never extracted, so a member name cannot write outside anything.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..formatting import size_human

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
ZIP_MAGIC = b"PK\x03\x04"
MAX_BYTES = int(os.environ.get("QA_MCP_MAX_BYTES", str(200 * 1024 * 1024)))
DELIMITERS = ",;\t|"


class InputError(ValueError):
    """A path or file the tool cannot use; the message says which and why."""


@dataclass
class Table:
    name: str  # the file's name, or the member's path inside its ZIP
    columns: list[str]
    rows: list[list[str]]  # each padded or cut to len(columns)
    delimiter: str = ","
    encoding: str = "utf-8"
    ragged_rows: int = 0  # rows whose cell count differed from the header's


@dataclass
class Source:
    path: Path
    kind: str  # "csv" or "zip"
    size_bytes: int
    tables: dict[str, Table]
    skipped: list[str] = field(default_factory=list)  # ZIP members that are not CSV

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "kind": self.kind,
            "size": size_human(self.size_bytes),
            "size_bytes": self.size_bytes,
            "csv_files": sorted(self.tables),
        }


def allowed_roots() -> list[Path]:
    configured = os.environ.get("QA_MCP_ROOT", "")
    roots = [p for p in configured.split(os.pathsep) if p] or [os.getcwd(), tempfile.gettempdir()]
    return [Path(os.path.realpath(root)) for root in roots]


def path_resolve(raw: str, *, what: str) -> Path:
    """The real path (symlinks followed) if it lies under an allowed root, else InputError."""
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(f"{what} is empty")
    path = Path(os.path.realpath(Path(raw).expanduser()))
    if not any(path == root or path.is_relative_to(root) for root in allowed_roots()):
        roots = ", ".join(str(r) for r in allowed_roots())
        raise InputError(f"{what} {raw!r} is outside the allowed roots ({roots}); set QA_MCP_ROOT to allow more")
    return path


def source_load(*, raw_path: str, what: str) -> Source:
    path = path_resolve(raw_path, what=what)
    if not path.is_file():
        raise InputError(f"{what} {raw_path!r} does not exist or is not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(
            f"{what} {path.name} is {size_human(size)}, above the {size_human(MAX_BYTES)} limit (QA_MCP_MAX_BYTES)"
        )
    data = path.read_bytes()
    if path.suffix.lower() == ".zip" or data.startswith(ZIP_MAGIC):
        tables, skipped = _zip_tables(data, path.name)
        return Source(path=path, kind="zip", size_bytes=size, tables=tables, skipped=skipped)
    if path.suffix.lower() not in CSV_SUFFIXES:
        raise InputError(f"{what} {path.name} is not a CSV or ZIP file (expected .csv, .tsv, .txt or .zip)")
    return Source(path=path, kind="csv", size_bytes=size, tables={path.name: table_parse(data, name=path.name)})


def _zip_tables(data: bytes, zip_name: str) -> tuple[dict[str, Table], list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not _is_junk(m.filename)]
            csv_members = [m for m in members if Path(m.filename).suffix.lower() in CSV_SUFFIXES]
            tables = {
                m.filename: table_parse(_member_bytes(archive, m, zip_name), name=m.filename) for m in csv_members
            }
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"{zip_name} is not a valid ZIP file: {exc}") from None
    if not tables:
        raise InputError(f"{zip_name} holds no CSV files")
    skipped = sorted(m.filename for m in members if m not in csv_members)
    return tables, skipped


def _is_junk(name: str) -> bool:
    # macOS adds resource forks that look like CSVs but are not.
    return name.startswith("__MACOSX/") or Path(name).name.startswith("._")


def _member_bytes(archive: zipfile.ZipFile, member: zipfile.ZipInfo, zip_name: str) -> bytes:
    if member.file_size > MAX_BYTES:
        raise InputError(f"{zip_name}:{member.filename} unpacks to {size_human(member.file_size)}, above the limit")
    with archive.open(member) as handle:
        data = handle.read(MAX_BYTES + 1)  # the header's size can lie; never read past the limit
    if len(data) > MAX_BYTES:
        raise InputError(f"{zip_name}:{member.filename} unpacks past the {size_human(MAX_BYTES)} limit")
    return data


def table_parse(data: bytes, *, name: str) -> Table:
    text, encoding = _decode(data, name)
    delimiter = _sniff_delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(f"{name} is not a readable CSV file: {exc}") from None
    columns = records[0] if records else []
    rows, ragged = [], 0
    for record in records[1:]:
        if len(record) != len(columns):
            ragged += 1
            record = (record + [""] * len(columns))[: len(columns)]
        rows.append(record)
    return Table(name=name, columns=columns, rows=rows, delimiter=delimiter, encoding=encoding, ragged_rows=ragged)


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} is not a CSV file: it holds binary data")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Spreadsheet exports from older tools are often Latin-1; every byte decodes, so no guessing beyond this.
        return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
