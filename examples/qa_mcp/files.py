"""Reading the inputs: the allowed roots, CSV files and ZIPs of CSVs, each into plain tables.

ZIP members are read in memory, never extracted, so a member name cannot write outside anything.
"""

from __future__ import annotations

import csv
import io
import os
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


def _var_dir() -> Path:
    # OMNI2 passes its var directory to the stdio servers it starts; alone, the checkout's var/.
    return Path(os.environ.get("OMNI2_VAR_DIR") or Path(__file__).resolve().parents[2] / "var")


def data_root() -> Path:
    """The one directory inputs are read from (QA_MCP_DATA_ROOT), created on first use."""
    return _real_dir(os.environ.get("QA_MCP_DATA_ROOT") or _var_dir() / "qa_data")


def reports_root() -> Path:
    """Where each caller's report folder lives (QA_MCP_REPORT_DIR)."""
    return _real_dir(os.environ.get("QA_MCP_REPORT_DIR") or _var_dir() / "reports" / "qa_mcp")


def _real_dir(raw: str | Path) -> Path:
    path = Path(os.path.realpath(raw))
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_resolve(raw: str, *, what: str, own_dir: Path) -> Path:
    """The real path (symlinks followed) of an input inside the data root or the caller's own
    report folder, else InputError. Relative paths are taken from the data root."""
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(f"{what} is empty")
    if "\0" in raw:
        raise InputError(f"{what} holds a NUL character")
    root, reports = data_root(), reports_root()
    path = Path(os.path.realpath(root / raw))  # an absolute ``raw`` replaces the root
    # Other callers' reports are never inputs, even when the data root holds the reports root.
    inside_others = _under(path, reports) and not _under(path, own_dir)
    if inside_others or not (_under(path, root) or _under(path, own_dir)):
        raise InputError(
            f"{what} {raw!r} is outside the data root ({root}) and your report folder; "
            "put the file under the data root (QA_MCP_DATA_ROOT)"
        )
    return path


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def source_load(*, raw_path: str, what: str, own_dir: Path) -> Source:
    path = path_resolve(raw_path, what=what, own_dir=own_dir)
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
        raise InputError(
            f"{what} {path.name} is not a CSV or ZIP file (expected .csv, .tsv, .txt or .zip)"
        )
    return Source(
        path=path,
        kind="csv",
        size_bytes=size,
        tables={path.name: table_parse(data, name=path.name)},
    )


def _zip_tables(data: bytes, zip_name: str) -> tuple[dict[str, Table], list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not _is_junk(m.filename)]
            csv_members = [m for m in members if Path(m.filename).suffix.lower() in CSV_SUFFIXES]
            tables = {
                m.filename: table_parse(_member_bytes(archive, m, zip_name), name=m.filename)
                for m in csv_members
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
        raise InputError(
            f"{zip_name}:{member.filename} unpacks to {size_human(member.file_size)}, above the limit"
        )
    with archive.open(member) as handle:
        data = handle.read(MAX_BYTES + 1)  # the header's size can lie; never read past the limit
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{zip_name}:{member.filename} unpacks past the {size_human(MAX_BYTES)} limit"
        )
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
    return Table(
        name=name,
        columns=columns,
        rows=rows,
        delimiter=delimiter,
        encoding=encoding,
        ragged_rows=ragged,
    )


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
