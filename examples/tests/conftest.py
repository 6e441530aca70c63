"""Fixtures for the example MCP servers: real MariaDB/PostgreSQL databases and real server processes.

Each session creates its own databases named omni2_dbmcp_<random> and drops them at the end,
so parallel runs never touch each other's tables.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pymysql
import pytest

from testing.mcp_servers import free_port

from .support import http_server_start, http_server_stop, stdio_session

MYSQL_URL = os.environ.get("OMNI2_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get("OMNI2_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
ITEM_ROWS = 500
# The spawned server's statement timeout: a statement that really ran pg_sleep(30) would hit it.
SERVER_STATEMENT_TIMEOUT = "3"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _mysql_connect(url: str, database: str | None = None):
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


MYSQL_SETUP = [
    "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50), category INT, "
    "KEY idx_category (category)) ENGINE=InnoDB",
    "INSERT INTO items (name, category) WITH RECURSIVE seq (n) AS "
    f"(SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {ITEM_ROWS}) SELECT CONCAT('item', n), n % 50 FROM seq",
    "CREATE TABLE side_effects (id INT PRIMARY KEY AUTO_INCREMENT, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    "CREATE FUNCTION bump_side_effect() RETURNS INT NOT DETERMINISTIC MODIFIES SQL DATA "
    "BEGIN INSERT INTO side_effects () VALUES (); RETURN 1; END",
    "ANALYZE TABLE items",
]


@pytest.fixture(scope="session")
def mysql_dsn():
    """A fresh MariaDB/MySQL database with an items table and a side-effecting function."""
    name = f"omni2_dbmcp_{secrets.token_hex(4)}"
    admin = _mysql_connect(MYSQL_URL)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
            cur.execute(f"USE {name}")
            for statement in MYSQL_SETUP:
                cur.execute(statement)
        yield _with_database(MYSQL_URL, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


POSTGRES_SETUP = [
    "CREATE TABLE items (id serial PRIMARY KEY, name text, category int)",
    "CREATE INDEX idx_category ON items (category)",
    f"INSERT INTO items (name, category) SELECT 'item' || g, g % 50 FROM generate_series(1, {ITEM_ROWS}) g",
    "CREATE TABLE side_effects (id serial PRIMARY KEY, at timestamptz DEFAULT now())",
    "CREATE FUNCTION bump_side_effect() RETURNS int VOLATILE LANGUAGE plpgsql AS "
    "$$ BEGIN INSERT INTO side_effects DEFAULT VALUES; RETURN 1; END $$",
    # Lies about being IMMUTABLE, so the planner folds it (runs it) while planning: only the timeout stops it.
    "CREATE FUNCTION slow_constant() RETURNS int IMMUTABLE LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_sleep(30); RETURN 1; END $$",
    "ANALYZE items",
]


@pytest.fixture(scope="session")
def postgres_dsn():
    """A fresh PostgreSQL database with an items table and a side-effecting function."""
    name = f"omni2_dbmcp_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            dsn = _with_database(POSTGRES_URL, name)
            with psycopg.connect(dsn, autocommit=True) as conn:
                for statement in POSTGRES_SETUP:
                    conn.execute(statement)
            yield dsn
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def dbmcp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("database_mcp")


@pytest.fixture(scope="session")
def dbmcp_env(mysql_dsn, postgres_dsn, dbmcp_dir) -> dict[str, str]:
    """Environment of a configured database_mcp: MariaDB, PostgreSQL, and one entry that cannot connect."""
    config = dbmcp_dir / "databases.yaml"
    config.write_text(
        "databases:\n"
        "  - {name: maria, engine: mysql, dsn: '${TEST_MARIA_DSN}', description: test MariaDB}\n"
        "  - {name: pg, engine: postgres, dsn: '${TEST_PG_DSN}', description: test PostgreSQL}\n"
        "  - {name: wrong_password, engine: mysql, dsn: '${TEST_WRONG_DSN}'}\n"
        "  - {name: not_set, engine: postgres, dsn: '${TEST_UNSET_DSN}'}\n"
    )
    wrong = urlsplit(mysql_dsn)._replace(
        netloc=f"root:{WRONG_PASSWORD}@{urlsplit(mysql_dsn).hostname}:{urlsplit(mysql_dsn).port or 3306}"
    )
    return {
        "DATABASE_MCP_CONFIG": str(config),
        "DATABASE_MCP_DATA_DIR": str(dbmcp_dir / "data"),
        "DATABASE_MCP_SAMPLE_SECONDS": "3600",
        "DATABASE_MCP_STATEMENT_TIMEOUT": SERVER_STATEMENT_TIMEOUT,
        "TEST_MARIA_DSN": mysql_dsn,
        "TEST_PG_DSN": postgres_dsn,
        "TEST_WRONG_DSN": urlunsplit(wrong),
    }


WRONG_PASSWORD = "Wr0ng-S3cret-Pa55"


@pytest.fixture(scope="session")
def database_mcp(dbmcp_env, dbmcp_dir):
    """database_mcp as a real process over stdio, shared by the session's tests."""
    session = stdio_session("examples.database_mcp", env=dbmcp_env, errlog_path=dbmcp_dir / "stderr.log")
    yield session
    session.close()


@pytest.fixture(scope="session")
def database_mcp_stderr(dbmcp_dir) -> Path:
    return dbmcp_dir / "stderr.log"


@pytest.fixture
def database_mcp_http(dbmcp_env, tmp_path):
    """database_mcp over streamable HTTP with a bearer token; yields (url, token)."""
    port, token = free_port(), secrets.token_urlsafe(16)
    process = http_server_start(
        "examples.database_mcp",
        env=dbmcp_env | {"DATABASE_MCP_TOKEN": token},
        port=port,
        log_path=tmp_path / "http.log",
    )
    yield f"http://127.0.0.1:{port}/mcp", token
    http_server_stop(process)


@pytest.fixture
def mysql_admin(mysql_dsn):
    conn = _mysql_connect(MYSQL_URL, database=urlsplit(mysql_dsn).path.lstrip("/"))
    yield conn
    conn.close()


@pytest.fixture
def postgres_admin(postgres_dsn):
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def qa_mcp(tmp_path):
    """qa_mcp as a real process over stdio: inputs under tmp_path/root, reports under tmp_path/reports."""
    root, reports = tmp_path / "root", tmp_path / "reports"
    root.mkdir()
    env = {"QA_MCP_DATA_ROOT": str(root), "QA_MCP_REPORT_DIR": str(reports), "QA_MCP_MAX_EXAMPLES": "5"}
    session = stdio_session("examples.qa_mcp", env=env, errlog_path=tmp_path / "qa_stderr.log")
    session.root, session.reports = root, reports
    yield session
    session.close()
