"""qa_mcp compare_csv_files on plain CSVs and ZIPs of CSVs, through the real server process."""

import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

BASE = "id,name,qty\n1,apple,3\n2,pear,4\n3,plum,5\n"


def write(root: Path, name: str, text: str) -> str:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def zip_of(root: Path, name: str, members: dict[str, str]) -> str:
    path = root / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return str(path)


def compare(qa_mcp, first: str, second: str, **extra):
    return qa_mcp.call("compare_csv_files", {"file1_path": first, "file2_path": second, **extra})


def test_identical_files_are_identical_and_leave_a_report(qa_mcp):
    result = compare(qa_mcp, write(qa_mcp.root, "a.csv", BASE), write(qa_mcp.root, "b.csv", BASE))

    assert not result.is_error, result
    assert result.data["success"] is True and result.data["identical"] is True
    assert result.data["statistics"]["rows_file1"] == result.data["statistics"]["rows_file2"] == 3
    assert result.data["file1"]["size"] == f"{len(BASE)} B"
    report = Path(result.data["report_path"])
    assert (
        report.is_file() and report.parent == qa_mcp.reports / "_local"
    )  # no OMNI2 identity: run directly
    assert "RESULT: identical" in report.read_text()


def test_it_finds_rows_only_in_one_file_and_changed_cells_by_key(qa_mcp):
    changed = "id,name,qty\n1,apple,3\n2,pear,40\n4,kiwi,1\n5,fig,2\n"

    result = compare(
        qa_mcp,
        write(qa_mcp.root, "a.csv", BASE),
        write(qa_mcp.root, "b.csv", changed),
        key_columns=["id"],
    )

    assert not result.is_error, result
    stats = result.data["statistics"]
    assert (stats["rows_only_in_file1"], stats["rows_only_in_file2"]) == (1, 2)
    assert (stats["changed_rows"], stats["changed_cells"], stats["row_count_difference"]) == (
        1,
        1,
        1,
    )
    examples = result.data["comparisons"][0]["examples"]
    assert examples["changed_cells"] == [
        {"key": {"id": "2"}, "column": "qty", "file1": "4", "file2": "40"}
    ]
    assert examples["only_in_file1"][0]["key"] == {"id": "3"}
    assert "changed id=2 [qty]: '4' -> '40'" in Path(result.data["report_path"]).read_text()


def test_without_keys_rows_are_compared_by_position(qa_mcp):
    shifted = "id,name,qty\n0,banana,1\n1,apple,3\n2,pear,4\n3,plum,5\n"

    result = compare(
        qa_mcp, write(qa_mcp.root, "a.csv", BASE), write(qa_mcp.root, "b.csv", shifted)
    )

    stats = result.data["statistics"]
    assert result.data["compared_by"].startswith("position")
    assert (stats["changed_rows"], stats["rows_only_in_file2"]) == (3, 1)


def test_it_reports_added_and_removed_columns(qa_mcp):
    other = "id,name,price\n1,apple,0.5\n2,pear,0.7\n3,plum,0.9\n"

    result = compare(
        qa_mcp,
        write(qa_mcp.root, "a.csv", BASE),
        write(qa_mcp.root, "b.csv", other),
        key_columns=["id"],
    )

    pair = result.data["comparisons"][0]
    assert (pair["columns_added"], pair["columns_removed"]) == (["price"], ["qty"])
    assert pair["changed_cells"] == 0 and result.data["identical"] is False


def test_listed_examples_are_capped_but_counts_are_complete(qa_mcp):
    many_1 = "id,v\n" + "".join(f"{i},a\n" for i in range(50))
    many_2 = "id,v\n" + "".join(f"{i},b\n" for i in range(50))

    result = compare(
        qa_mcp,
        write(qa_mcp.root, "a.csv", many_1),
        write(qa_mcp.root, "b.csv", many_2),
        key_columns=["id"],
    )

    assert result.data["statistics"]["changed_cells"] == 50
    assert (
        len(result.data["comparisons"][0]["examples"]["changed_cells"]) == 5
    )  # QA_MCP_MAX_EXAMPLES


def test_it_compares_zips_member_by_member(qa_mcp):
    first = zip_of(
        qa_mcp.root,
        "run1.zip",
        {"orders.csv": BASE, "users.csv": "id\n1\n", "only_here.csv": "x\n1\n"},
    )
    second = zip_of(
        qa_mcp.root,
        "run2.zip",
        {"orders.csv": BASE.replace("plum", "PLUM"), "users.csv": "id\n1\n", "readme.md": "hi"},
    )

    result = compare(qa_mcp, first, second, key_columns=["id"])

    assert not result.is_error, result
    by_name = {c["name"]: c for c in result.data["comparisons"]}
    assert set(by_name) == {"orders.csv", "users.csv"}
    assert by_name["orders.csv"]["changed_cells"] == 1 and by_name["users.csv"]["identical"] is True
    assert result.data["members_only_in_file1"] == ["only_here.csv"]
    assert result.data["skipped_members"]["file2"] == ["readme.md"]
    assert result.data["file1"]["kind"] == "zip" and result.data["file1"]["size"].endswith(
        (" B", " KB")
    )
    assert Path(result.data["report_path"]).is_file()


def test_it_compares_a_csv_with_the_only_csv_in_a_zip(qa_mcp):
    result = compare(
        qa_mcp,
        write(qa_mcp.root, "a.csv", BASE),
        zip_of(qa_mcp.root, "one.zip", {"export/data.csv": BASE}),
    )

    assert not result.is_error, result
    assert result.data["identical"] is True


def test_sizes_are_given_in_kb_and_mb(qa_mcp):
    big = "id,v\n" + "".join(f"{i},{'x' * 100}\n" for i in range(12000))  # ~1.2 MB

    result = compare(
        qa_mcp,
        write(qa_mcp.root, "small.csv", "id,v\n" + "1,x\n" * 600),
        write(qa_mcp.root, "big.csv", big),
    )

    assert result.data["file1"]["size"].endswith(" KB")
    assert result.data["file2"]["size"].endswith(" MB")


def test_a_path_outside_the_root_is_refused(qa_mcp, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text(BASE)

    result = compare(qa_mcp, str(outside), write(qa_mcp.root, "b.csv", BASE))

    assert result.is_error
    assert "outside the data root" in result.text


def test_a_symlink_out_of_the_root_is_refused(qa_mcp, tmp_path):
    (tmp_path / "secret.csv").write_text(BASE)
    (qa_mcp.root / "link.csv").symlink_to(tmp_path / "secret.csv")

    result = compare(qa_mcp, str(qa_mcp.root / "link.csv"), write(qa_mcp.root, "b.csv", BASE))

    assert result.is_error and "outside the data root" in result.text


def test_a_report_dir_outside_the_root_is_refused(qa_mcp, tmp_path):
    result = compare(
        qa_mcp,
        write(qa_mcp.root, "a.csv", BASE),
        write(qa_mcp.root, "b.csv", BASE),
        report_dir=str(tmp_path),
    )

    assert result.is_error and "report_dir" in result.text


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "does not exist"),
        ("picture.png", b"\x89PNG\r\n\x1a\n\x00\x00", "is not a CSV or ZIP file"),
        ("binary.csv", b"id,name\n\x00\x01\x02", "holds binary data"),
        ("broken.zip", b"PK\x03\x04 this is not really a zip", "is not a valid ZIP file"),
        ("empty.zip", "zip-without-csv", "holds no CSV files"),
    ],
)
def test_unusable_inputs_are_clear_tool_errors(qa_mcp, name, content, message):
    path = qa_mcp.root / name
    if content == "zip-without-csv":
        zip_of(qa_mcp.root, name, {"notes.txt.md": "hello"})
    elif content is not None:
        path.write_bytes(content)

    result = compare(qa_mcp, str(path), write(qa_mcp.root, "b.csv", BASE))

    assert result.is_error, result
    assert message in result.text


def test_an_unknown_key_column_is_a_clear_tool_error(qa_mcp):
    result = compare(
        qa_mcp,
        write(qa_mcp.root, "a.csv", BASE),
        write(qa_mcp.root, "b.csv", BASE),
        key_columns=["sku"],
    )

    assert result.is_error
    assert "key column 'sku' is not in file1" in result.text


# --- who may read what: the data root and each caller's own report folder ----------------------

ALICE = {"omni2/user": {"email": "alice@example.com", "role": "read_only", "is_admin": False}}
BOB = {"omni2/user": {"email": "bob@example.com", "role": "read_only", "is_admin": False}}


def test_each_caller_s_report_goes_to_their_own_folder(qa_mcp):
    a, b = write(qa_mcp.root, "a.csv", BASE), write(qa_mcp.root, "b.csv", BASE)

    alice = qa_mcp.call("compare_csv_files", {"file1_path": a, "file2_path": b}, meta=ALICE)
    bob = qa_mcp.call("compare_csv_files", {"file1_path": a, "file2_path": b}, meta=BOB)

    folders = {Path(r.data["report_path"]).parent for r in (alice, bob)}
    assert len(folders) == 2 and all(f.parent == qa_mcp.reports for f in folders)
    assert Path(alice.data["report_path"]).parent.name.startswith("alice@example.com-")


def test_a_user_cannot_read_another_user_s_report_but_can_read_their_own(qa_mcp):
    a = write(qa_mcp.root, "a.csv", BASE)
    report = qa_mcp.call("compare_csv_files", {"file1_path": a, "file2_path": a}, meta=ALICE).data[
        "report_path"
    ]

    by_bob = qa_mcp.call("compare_csv_files", {"file1_path": report, "file2_path": a}, meta=BOB)
    by_alice = qa_mcp.call(
        "compare_csv_files", {"file1_path": report, "file2_path": report}, meta=ALICE
    )

    assert by_bob.is_error and "outside the data root" in by_bob.text
    assert not by_alice.is_error, by_alice


def test_a_report_dir_cannot_climb_out_of_the_caller_s_folder(qa_mcp):
    a = write(qa_mcp.root, "a.csv", BASE)
    bob_folder = Path(
        qa_mcp.call("compare_csv_files", {"file1_path": a, "file2_path": a}, meta=BOB).data[
            "report_path"
        ]
    ).parent

    result = qa_mcp.call(
        "compare_csv_files",
        {"file1_path": a, "file2_path": a, "report_dir": f"../{bob_folder.name}"},
        meta=ALICE,
    )

    assert result.is_error and "inside your own report folder" in result.text
    assert len(list(bob_folder.iterdir())) == 1


def test_relative_paths_are_read_from_the_data_root(qa_mcp):
    write(qa_mcp.root, "a.csv", BASE)

    result = qa_mcp.call(
        "compare_csv_files", {"file1_path": "a.csv", "file2_path": "a.csv"}, meta=ALICE
    )

    assert not result.is_error, result
    assert result.data["file1"]["path"] == str(qa_mcp.root / "a.csv")


def test_a_call_that_names_no_user_writes_no_report(qa_mcp):
    a = write(qa_mcp.root, "a.csv", BASE)
    anonymous = {"omni2/user": {"email": "", "role": "read_only", "is_admin": False}}

    result = qa_mcp.call("compare_csv_files", {"file1_path": a, "file2_path": a}, meta=anonymous)

    assert result.is_error and "names no user" in result.text
    assert not qa_mcp.reports.exists() or not any(qa_mcp.reports.iterdir())


@pytest.fixture
def qa_mcp_defaults(tmp_path):
    """qa_mcp with no root configured: only OMNI2's var dir (here tmp_path/var) says where it works."""
    from .support import stdio_session

    session = stdio_session(
        "examples.qa_mcp",
        env={"OMNI2_VAR_DIR": str(tmp_path / "var")},
        errlog_path=tmp_path / "qa_stderr.log",
    )
    yield session
    session.close()


def test_by_default_nothing_in_the_system_temp_dir_is_readable(qa_mcp_defaults, tmp_path):
    import tempfile

    payroll = Path(tempfile.mkstemp(suffix=".csv", prefix="payroll-")[1])
    try:
        payroll.write_text("name,salary\nalice,100000\n")
        result = qa_mcp_defaults.call(
            "compare_csv_files",
            {"file1_path": str(payroll), "file2_path": str(payroll)},
            meta=ALICE,
        )
    finally:
        payroll.unlink()

    assert result.is_error and "outside the data root" in result.text
    assert str(tmp_path / "var" / "qa_data") in result.text


def test_a_path_with_a_nul_character_is_a_clear_tool_error(qa_mcp):
    result = qa_mcp.call(
        "compare_csv_files", {"file1_path": "a\0.csv", "file2_path": "b.csv"}, meta=ALICE
    )

    assert result.is_error and "NUL character" in result.text
