"""omni2_analytics_mcp as a real process (manage.py run_analytics_mcp) over stdio and streamable HTTP.

The server reads the test database through DATABASE_URL, so the rows must be committed:
these tests are transactional.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from audit.analytics.server import TOOL_NAMES
from audit.models import AuditLog
from audit.tests.test_analytics_seed import seed_audit_trail
from core.dburl import current_database_url
from orchestration.mcp.catalog import server_spec
from orchestration.mcp.pool import McpPool
from orchestration.mcp.types import McpUnavailable, ServerSpec
from permissions.models import McpServer
from testing.mcp_servers import free_port, wait_listening

pytestmark = pytest.mark.django_db(transaction=True)
BASE_DIR = Path(settings.BASE_DIR)
SPEC_TOOLS = {
    "get_cost_summary",
    "get_top_expensive_queries",
    "get_slow_queries",
    "get_high_iteration_queries",
    "get_error_summary",
    "get_failed_queries",
    "get_active_users",
    "get_tool_popularity",
    "get_mcp_health_summary",
    "get_token_usage",
    "get_cache_hit_rate",
}
TOKEN = "analytics-test-token"


@pytest.fixture
def trail(make_user):
    return seed_audit_trail(make_user)


@pytest.fixture(scope="module")
def pool():
    # Private, and one per module: the stdio server starts once and ends before the database is dropped.
    pool = McpPool()
    yield pool
    pool.close()


@pytest.fixture
def stdio_spec(db):
    # The server row exactly as the demo policy declares it.
    row = McpServer.objects.create(
        name="omni2_analytics_mcp",
        transport="stdio",
        command="python",
        args=["manage.py", "run_analytics_mcp", "--transport", "stdio"],
    )
    return server_spec(row)


def server_env(**extra) -> dict:
    return {**os.environ, "DATABASE_URL": current_database_url(), "PYTHONUNBUFFERED": "1", **extra}


@pytest.fixture(scope="module")
def http_server(tmp_path_factory, django_db_setup):
    port, log_path = free_port(), tmp_path_factory.mktemp("analytics_http") / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_analytics_mcp",
            "--transport",
            "http",
            "--port",
            str(port),
        ],
        cwd=BASE_DIR,
        env=server_env(OMNI2_ANALYTICS_MCP_TOKEN=TOKEN),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_listening(process, port, log_path, timeout=60)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_it_offers_exactly_the_eleven_tools_of_the_spec(pool, stdio_spec):
    tools = pool.list_tools(stdio_spec)
    assert {tool.name for tool in tools} == SPEC_TOOLS == set(TOOL_NAMES)
    for tool in tools:
        assert tool.description and "period" in tool.input_schema["properties"], tool.name


def test_over_stdio_it_answers_what_the_rest_endpoint_says(trail, pool, stdio_spec, authed_client):
    stats = authed_client(role="admin").get("/api/audit/stats?days=7").json()
    result = pool.call_tool(stdio_spec, "get_cost_summary", {"period": "week", "group_by": "user"})
    assert not result.is_error, result.text
    summary = result.structured
    assert summary["period"]["days"] == 7
    assert {key: summary[key] for key in ("requests", "errors", "cost_usd", "tokens")} == {
        key: stats[key] for key in ("requests", "errors", "cost_usd", "tokens")
    }
    assert summary["groups"] == stats["by_user"]
    assert (summary["requests"], summary["cost_usd"]) == (7, 0.03088)


def test_every_tool_answers_over_stdio(trail, pool, stdio_spec):
    for name in sorted(SPEC_TOOLS):
        result = pool.call_tool(stdio_spec, name, {"period": "today"})
        assert not result.is_error, (name, result.text)
        assert result.structured["period"]["name"] == "today", name
    slowest = pool.call_tool(
        stdio_spec, "get_slow_queries", {"period": 3650, "limit": 1}
    ).structured
    assert [row["duration_ms"] for row in slowest["queries"]] == [99999]


@pytest.mark.parametrize(
    "arguments", [{"period": "yesterday"}, {"period": 0}, {"limit": 101}, {"group_by": "planet"}]
)
def test_bad_arguments_are_a_tool_error_not_a_crash(pool, stdio_spec, arguments):
    result = pool.call_tool(stdio_spec, "get_cost_summary", arguments)
    assert result.is_error
    assert "validation error" in result.text and next(iter(arguments)) in result.text


def test_over_http_with_its_bearer_token(trail, pool, http_server):
    spec = ServerSpec(
        name="omni2_analytics_mcp", transport="http", url=http_server, bearer_token=TOKEN
    )
    result = pool.call_tool(spec, "get_tool_popularity", {"period": "today", "mcp": "qa_mcp"})
    assert not result.is_error, result.text
    assert [(t["tool"], t["calls"], t["users"]) for t in result.structured["tools"]] == [
        ("compare_csv_files", 2, 2)
    ]
    assert len(pool.list_tools(spec)) == 11


def test_over_http_a_wrong_token_is_refused(pool, http_server):
    spec = ServerSpec(
        name="omni2_analytics_mcp", transport="http", url=http_server, bearer_token="wrong"
    )
    with pytest.raises(McpUnavailable):
        pool.list_tools(spec, timeout=10)


WRITE_ATTEMPT = """
import django
django.setup()
from django.db import DatabaseError
from audit.analytics.server import analytics_database_read_only
from audit.models import AuditLog
from audit.services import AuditUnavailable, audit_record
analytics_database_read_only()
print("rows", AuditLog.objects.count())
try:
    audit_record(user=None, source="api", status="success", message="sneaked in")
except (DatabaseError, AuditUnavailable) as exc:  # SQLite's read-only refusal is an OperationalError
    print("refused:", type(exc).__name__)
"""


def test_the_server_process_cannot_write_to_the_database(trail):
    done = subprocess.run(
        [sys.executable, "-c", WRITE_ATTEMPT],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        env=server_env(DJANGO_SETTINGS_MODULE="omni2.settings"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "rows 9" and lines[1].startswith("refused:"), done.stdout + done.stderr
    assert AuditLog.objects.count() == 9


def test_an_unreadable_database_is_a_clear_tool_error(pool, tmp_path):
    missing = tmp_path / "no-such-dir" / "audit.sqlite3"
    spec = ServerSpec(
        name="analytics_without_db",
        transport="stdio",
        command=sys.executable,
        args=(str(BASE_DIR / "manage.py"), "run_analytics_mcp", "--transport", "stdio"),
        env={
            "PYTHONPATH": str(BASE_DIR),
            "DATABASE_URL": f"sqlite:///{missing}",
            "OMNI2_VAR_DIR": str(tmp_path),
        },
    )
    result = pool.call_tool(spec, "get_cost_summary", {"period": "today"})
    assert result.is_error
    assert result.text.endswith(": The audit database could not be read; try again shortly.")
    assert str(tmp_path) not in result.text  # where the database lives is not the caller's business


def identity(email, *, is_admin=False):
    return {
        "omni2/user": {
            "email": email,
            "role": "admin" if is_admin else "read_only",
            "is_admin": is_admin,
        }
    }


def test_a_caller_omni2_names_as_a_non_admin_gets_only_their_own_rows(trail, pool, stdio_spec):
    def users(meta):
        result = pool.call_tool(stdio_spec, "get_active_users", {"period": "month"}, meta=meta)
        assert not result.is_error, result.text
        return {row["user_email"] for row in result.structured["groups"]}

    everyone = {"alice@example.com", "bob@example.com", "carol@example.com"}
    assert users(identity("bob@example.com")) == {"bob@example.com"}
    assert (
        users(identity("", is_admin=False)) == set()
    )  # an unknown user owns no rows, not the anonymous ones
    assert users(identity("root@example.com", is_admin=True)) == everyone
    assert users(None) == everyone  # no identity: whoever runs the server with its credentials


def test_over_http_it_refuses_to_start_on_a_public_address_without_a_token():
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "run_analytics_mcp",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        cwd=BASE_DIR,
        env={k: v for k, v in server_env().items() if k != "OMNI2_ANALYTICS_MCP_TOKEN"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "refusing to serve on 0.0.0.0 without a bearer token" in done.stderr
    assert "OMNI2_ANALYTICS_MCP_TOKEN" in done.stderr


def test_on_a_public_address_with_a_token_it_refuses_a_wrong_one(pool, tmp_path):
    port, log_path = free_port(), tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_analytics_mcp",
                "--transport",
                "http",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
            ],
            cwd=BASE_DIR,
            env=server_env(OMNI2_ANALYTICS_MCP_TOKEN=TOKEN),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_listening(process, port, log_path, timeout=60)
            url = f"http://127.0.0.1:{port}/mcp"
            with pytest.raises(McpUnavailable):
                pool.list_tools(
                    ServerSpec(
                        name="public_wrong", transport="http", url=url, bearer_token="wrong"
                    ),
                    timeout=10,
                )
            right = ServerSpec(name="public_right", transport="http", url=url, bearer_token=TOKEN)
            assert len(pool.list_tools(right, timeout=30)) == 11
        finally:
            process.terminate()
            process.wait(10)
