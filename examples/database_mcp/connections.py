"""The one boundary to the monitored databases: short-timeout connections and clean errors.

Every message that leaves this module has the connection password removed, because driver
errors sometimes echo the DSN they were given.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pymysql
import pymysql.cursors
from psycopg.rows import dict_row

from .config import DatabaseSpec

CONNECT_TIMEOUT = int(os.environ.get("DATABASE_MCP_CONNECT_TIMEOUT", "5"))
# Bounds every statement we send, EXPLAIN included, so nothing can hold a connection for long.
STATEMENT_TIMEOUT = float(os.environ.get("DATABASE_MCP_STATEMENT_TIMEOUT", "10"))


class DatabaseError(Exception):
    """A database could not be reached or refused a statement; the message is safe to show."""


class InvalidArgument(ValueError):
    """A tool argument is out of range; the message says what is allowed."""


def redact(text: str, *, spec: DatabaseSpec) -> str:
    secrets = {spec.dsn, spec.password, quote(spec.password, safe="")} - {""}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


@contextlib.contextmanager
def connection_open(*, spec: DatabaseSpec) -> Iterator[object]:
    """A connection with autocommit off; whatever happened, it is rolled back and closed."""
    try:
        conn = _mysql_connect(spec) if spec.engine == "mysql" else _postgres_connect(spec)
    except (pymysql.Error, psycopg.Error, OSError) as exc:
        raise DatabaseError(
            f"could not connect to {spec.name} ({spec.location}): {redact(str(exc), spec=spec)}"
        ) from None
    try:
        yield conn
    except (pymysql.Error, psycopg.Error) as exc:
        raise DatabaseError(f"{spec.name}: {redact(_first_line(exc), spec=spec)}") from None
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
        with contextlib.suppress(Exception):
            conn.close()


def _mysql_connect(spec: DatabaseSpec) -> pymysql.connections.Connection:
    parts = urlsplit(spec.dsn)
    conn = pymysql.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=spec.password,
        database=unquote(parts.path.lstrip("/")) or None,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=int(STATEMENT_TIMEOUT) + 5,
        write_timeout=int(STATEMENT_TIMEOUT) + 5,
        charset="utf8mb4",
        autocommit=False,
        cursorclass=pymysql.cursors.DictCursor,
    )  # client_flag without MULTI_STATEMENTS: the server itself refuses a second statement
    with conn.cursor() as cur:
        cur.execute("SET SESSION TRANSACTION READ ONLY")  # every transaction of this monitoring session
    return conn


def _postgres_connect(spec: DatabaseSpec) -> psycopg.Connection:
    conn = psycopg.connect(
        spec.dsn,
        connect_timeout=CONNECT_TIMEOUT,
        autocommit=False,
        application_name="database_mcp",
        row_factory=dict_row,
    )
    conn.read_only = True  # psycopg opens every transaction as BEGIN READ ONLY
    return conn


def _first_line(exc: Exception) -> str:
    if isinstance(exc, pymysql.Error) and len(exc.args) == 2:  # PyMySQL's args are (code, message)
        return f"{exc.args[1]} (error {exc.args[0]})"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def is_mariadb(conn) -> bool:
    return "mariadb" in conn.get_server_info().lower()


def mysql_set_statement_timeout(cursor, *, mariadb: bool) -> None:
    if mariadb:
        cursor.execute("SET SESSION max_statement_time = %s", (STATEMENT_TIMEOUT,))
    else:  # MySQL's limit is in milliseconds and applies to SELECT only
        cursor.execute("SET SESSION max_execution_time = %s", (int(STATEMENT_TIMEOUT * 1000),))


def postgres_set_statement_timeout(cursor) -> None:
    cursor.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(STATEMENT_TIMEOUT * 1000)}ms",))
