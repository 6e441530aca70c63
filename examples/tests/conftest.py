"""Fixtures for the example MCP servers: real MariaDB/PostgreSQL databases and real server processes.

Each session creates its own databases named omni2_dbmcp_<random> and drops them at the end,
so parallel runs never touch each other's tables.
"""

from __future__ import annotations

import contextlib
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
# MySQL 8 is not installable on every machine (it is not in Debian 12): its runs are skipped unless set.
MYSQL8_URL = os.environ.get("OMNI2_TEST_MYSQL8_URL", "")
# The MySQL-flavoured database entries the analyse/compare tests run on.
MYSQL_TARGETS = [
    pytest.param("maria", id="mariadb"),
    pytest.param(
        "mysql8",
        id="mysql8",
        marks=pytest.mark.skipif(not MYSQL8_URL, reason="OMNI2_TEST_MYSQL8_URL unset"),
    ),
]
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
    # MySQL 8 logs binary by default and then refuses a function that modifies data (error 1418).
    "SET SESSION sql_log_bin = 0",
    "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50), category INT, "
    "KEY idx_category (category)) ENGINE=InnoDB",
    "INSERT INTO items (name, category) WITH RECURSIVE seq (n) AS "
    f"(SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {ITEM_ROWS}) SELECT CONCAT('item', n), n % 50 FROM seq",
    "CREATE TABLE side_effects (id INT PRIMARY KEY AUTO_INCREMENT, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    "CREATE FUNCTION bump_side_effect() RETURNS INT NOT DETERMINISTIC MODIFIES SQL DATA "
    "BEGIN INSERT INTO side_effects () VALUES (); RETURN 1; END",
    "ANALYZE TABLE items",
]


HR_SETUP = [
    "CREATE TABLE salaries (id INT PRIMARY KEY, secret VARCHAR(100))",
    "INSERT INTO salaries VALUES (1, '{secret}')",
]
# The least-privilege monitoring account of docs/MCP_SERVERS.md, word for word.
MYSQL_MONITOR_GRANTS = [
    "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
    "GRANT PROCESS ON *.* TO '{user}'@'%'",
    "GRANT SELECT ON performance_schema.* TO '{user}'@'%'",
    "GRANT SELECT, SHOW VIEW ON `{database}`.* TO '{user}'@'%'",
]
POSTGRES_MONITOR_GRANTS = [
    "CREATE ROLE {user} LOGIN PASSWORD '{password}'",
    "GRANT pg_read_all_stats TO {user}",
    "GRANT CONNECT ON DATABASE {database} TO {user}",
    "GRANT USAGE ON SCHEMA public TO {user}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}",
]
# A secret in a schema the monitored database entry does not allow (issue 13: hr.salaries).
SECRET = f"s3cret-{secrets.token_hex(6)}"
MONITOR_PASSWORD = f"Mon-{secrets.token_hex(8)}"


@contextlib.contextmanager
def _mysql_databases(url: str):
    """A fresh database with items, a side-effecting function, an hr database and a monitor account."""
    name, user = f"omni2_dbmcp_{secrets.token_hex(4)}", f"omni2_mon_{secrets.token_hex(4)}"
    admin = _mysql_connect(url)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
            cur.execute(f"CREATE DATABASE {name}_hr")
            cur.execute(f"USE {name}_hr")
            for statement in HR_SETUP:
                cur.execute(statement.format(secret=SECRET))
            cur.execute(f"USE {name}")
            for statement in MYSQL_SETUP:
                cur.execute(statement)
            for statement in MYSQL_MONITOR_GRANTS:
                cur.execute(statement.format(user=user, password=MONITOR_PASSWORD, database=name))
        monitor = urlsplit(url)._replace(
            netloc=f"{user}:{MONITOR_PASSWORD}@{urlsplit(url).netloc.split('@')[-1]}"
        )
        yield _with_database(url, name), _with_database(urlunsplit(monitor), name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP DATABASE IF EXISTS {name}_hr")
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(scope="session")
def mysql_databases():
    """(dsn as root, dsn as the least-privilege monitor) on the shared MariaDB."""
    with _mysql_databases(MYSQL_URL) as dsns:
        yield dsns


@pytest.fixture(scope="session")
def mysql_dsn(mysql_databases):
    return mysql_databases[0]


@pytest.fixture(scope="session")
def mysql_dsns(mysql_databases, mysql8_dsn) -> dict[str, str | None]:
    """The DSN behind each MySQL-flavoured database entry of the test config."""
    return {"maria": mysql_databases[0], "maria_monitor": mysql_databases[1], "mysql8": mysql8_dsn}


@pytest.fixture(scope="session")
def mysql8_dsn():
    """The same on a MySQL 8 server when OMNI2_TEST_MYSQL8_URL names one, else None."""
    if not MYSQL8_URL:
        yield None
        return
    with _mysql_databases(MYSQL8_URL) as dsns:
        yield dsns[0]


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
    # Puts a value of another schema into its error while the planner folds it.
    "CREATE SCHEMA hr",
    "CREATE TABLE hr.salaries (id int PRIMARY KEY, secret text)",
    "INSERT INTO hr.salaries VALUES (1, '{secret}')",
    "CREATE FUNCTION leaky_constant() RETURNS int IMMUTABLE LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'leaked: %', (SELECT secret FROM hr.salaries LIMIT 1); END $$",
    "ANALYZE items",
]


@pytest.fixture(scope="session")
def postgres_databases():
    """(dsn as postgres, dsn as the least-privilege monitor): items, side effects, an hr schema."""
    name, user = f"omni2_dbmcp_{secrets.token_hex(4)}", f"omni2_mon_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        dsn = _with_database(POSTGRES_URL, name)
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                for statement in POSTGRES_SETUP:
                    conn.execute(statement.replace("{secret}", SECRET))
                for statement in POSTGRES_MONITOR_GRANTS:
                    conn.execute(
                        statement.format(user=user, password=MONITOR_PASSWORD, database=name)
                    )
            monitor = urlsplit(dsn)._replace(
                netloc=f"{user}:{MONITOR_PASSWORD}@{urlsplit(dsn).netloc.split('@')[-1]}"
            )
            yield dsn, urlunsplit(monitor)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {user}")


@pytest.fixture(scope="session")
def postgres_dsn(postgres_databases):
    return postgres_databases[0]


@pytest.fixture(scope="session")
def dbmcp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("database_mcp")


@pytest.fixture(scope="session")
def dbmcp_env(mysql_databases, postgres_databases, mysql8_dsn, dbmcp_dir) -> dict[str, str]:
    """Environment of a configured database_mcp: MariaDB and PostgreSQL (as root and as the
    least-privilege monitor), MySQL 8 when available, and entries that cannot connect."""
    (mysql_dsn, mysql_monitor), (postgres_dsn, postgres_monitor) = (
        mysql_databases,
        postgres_databases,
    )
    config = dbmcp_dir / "databases.yaml"
    config.write_text(
        "databases:\n"
        "  - {name: maria, engine: mysql, dsn: '${TEST_MARIA_DSN}', description: test MariaDB}\n"
        "  - {name: pg, engine: postgres, dsn: '${TEST_PG_DSN}', description: test PostgreSQL}\n"
        "  - {name: maria_monitor, engine: mysql, dsn: '${TEST_MARIA_MONITOR_DSN}'}\n"
        "  - {name: pg_monitor, engine: postgres, dsn: '${TEST_PG_MONITOR_DSN}'}\n"
        "  - {name: mysql8, engine: mysql, dsn: '${TEST_MYSQL8_DSN}'}\n"
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
        "TEST_MARIA_MONITOR_DSN": mysql_monitor,
        "TEST_PG_MONITOR_DSN": postgres_monitor,
        "TEST_MYSQL8_DSN": mysql8_dsn or "",
        "TEST_WRONG_DSN": urlunsplit(wrong),
    }


WRONG_PASSWORD = "Wr0ng-S3cret-Pa55"


@pytest.fixture(scope="session")
def database_mcp(dbmcp_env, dbmcp_dir):
    """database_mcp as a real process over stdio, shared by the session's tests."""
    session = stdio_session(
        "examples.database_mcp", env=dbmcp_env, errlog_path=dbmcp_dir / "stderr.log"
    )
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
    env = {
        "QA_MCP_DATA_ROOT": str(root),
        "QA_MCP_REPORT_DIR": str(reports),
        "QA_MCP_MAX_EXAMPLES": "5",
    }
    session = stdio_session("examples.qa_mcp", env=env, errlog_path=tmp_path / "qa_stderr.log")
    session.root, session.reports = root, reports
    yield session
    session.close()
