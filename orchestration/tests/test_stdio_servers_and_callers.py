"""What OMNI2's stdio servers are given: only the environment they need, and who is calling.

Real processes started by OMNI2's pool: ``python -m examples.qa_mcp`` (code OMNI2 merely starts)
and ``python manage.py run_analytics_mcp`` (OMNI2's own server, which reads OMNI2's database).
"""

import os
import tempfile
from pathlib import Path

import pytest

from orchestration.mcp.catalog import server_spec
from orchestration.mcp.discovery import mcp_tools_refresh
from orchestration.mcp.pool import McpPool, close_pool
from permissions.models import McpServer

pytestmark = pytest.mark.django_db
SECRET_KEY = "test-secret-key-that-only-omni2-servers-may-see-0042"


@pytest.fixture(scope="module", autouse=True)
def _stdio_servers_end_with_the_module():
    yield
    close_pool()


def child_environment(marker: str) -> dict[str, str]:
    """The environment of this process's child whose command line holds ``marker`` (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent != os.getpid() or marker.encode() not in (
                entry / "cmdline"
            ).read_bytes().split(b"\0"):
                continue
            raw = (entry / "environ").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
        return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    raise AssertionError(f"no child process runs {marker}")


def test_a_python_m_server_gets_neither_the_secret_key_nor_the_database_while_omni2_s_own_does(
    monkeypatch,
):
    monkeypatch.setenv("OMNI2_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("REDIS_URL", os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/4")
    qa = server_spec(
        McpServer(
            name="qa_mcp", transport="stdio", command="python", args=["-m", "examples.qa_mcp"]
        )
    )
    analytics = server_spec(
        McpServer(
            name="omni2_analytics_mcp",
            transport="stdio",
            command="python",
            args=["manage.py", "run_analytics_mcp", "--transport", "stdio"],
        )
    )
    pool = McpPool()
    try:
        assert [tool.name for tool in pool.list_tools(qa)] == ["compare_csv_files"]
        assert len(pool.list_tools(analytics)) == 11
        qa_env, analytics_env = (
            child_environment("examples.qa_mcp"),
            child_environment("run_analytics_mcp"),
        )
    finally:
        pool.close()
    for name in ("OMNI2_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
        assert name not in qa_env, name
    assert SECRET_KEY not in "".join(qa_env.values())
    assert analytics_env["OMNI2_SECRET_KEY"] == SECRET_KEY
    assert analytics_env["DATABASE_URL"] and analytics_env["REDIS_URL"]
    assert (
        qa_env["OMNI2_VAR_DIR"] == analytics_env["OMNI2_VAR_DIR"]
    )  # where shared files live is no secret


# --- qa_mcp through POST /api/mcp/tools/call: each caller's reports are their own ----------------


@pytest.fixture
def qa_mcp(settings, tmp_path):
    """The shipped qa_mcp, as the demo declares it, with OMNI2's var dir at tmp_path/var."""
    settings.VAR_DIR = tmp_path / "var"
    McpServer.objects.create(
        name="qa_mcp", transport="stdio", command="python", args=["-m", "examples.qa_mcp"]
    )
    assert mcp_tools_refresh(names=["qa_mcp"])[0]["ok"]
    data = tmp_path / "var" / "qa_data"  # qa_mcp's default data root under OMNI2's var dir
    data.mkdir(parents=True, exist_ok=True)
    (data / "before.csv").write_text("id,name\n1,alpha\n2,beta\n")
    (data / "after.csv").write_text("id,name\n1,alpha\n2,gamma\n")
    return data


def compare(client, first: str, second: str):
    response = client.post(
        "/api/mcp/tools/call",
        {
            "mcp": "qa_mcp",
            "tool": "compare_csv_files",
            "arguments": {"file1_path": first, "file2_path": second},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_read_only_user_cannot_read_another_user_s_report(qa_mcp, authed_client, settings):
    alice, bob = authed_client(role="read_only"), authed_client(role="read_only")

    mine = compare(alice, "before.csv", "after.csv")  # relative to the data root
    report = Path(mine["result"]["report_path"])
    by_bob = compare(bob, str(report), str(qa_mcp / "after.csv"))
    by_alice = compare(alice, str(report), str(report))

    assert mine["success"] is True
    assert report.parent.parent == settings.VAR_DIR / "reports" / "qa_mcp"
    assert report.parent.name.startswith(alice.user.email + "-")
    assert by_bob["success"] is False and "outside the data root" in by_bob["result"]
    assert "gamma" not in str(by_bob)
    assert by_alice["success"] is True


def test_a_read_only_user_cannot_read_a_csv_in_the_system_temp_dir(qa_mcp, authed_client):
    handle, name = tempfile.mkstemp(prefix="payroll-", suffix=".csv")
    os.write(handle, b"name,salary\nalice,100000\n")
    os.close(handle)
    try:
        answer = compare(authed_client(role="read_only"), name, str(qa_mcp / "after.csv"))
    finally:
        os.unlink(name)

    assert answer["success"] is False and "outside the data root" in answer["result"]
    assert "100000" not in str(answer)
