"""The one boundary to the monitored databases: short-timeout connections and clean errors.

No text of the database's own leaves this module: servers put values into their error
messages (MariaDB's XPATH errors, PostgreSQL's failed casts), so a failure becomes an error code
and a fixed sentence chosen from its SQLSTATE or error number. The server's text is logged at
DEBUG only, with the connection password removed.
"""

from __future__ import annotations

import contextlib
import logging
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

logger = logging.getLogger(__name__)

# Fixed sentences, chosen by PostgreSQL SQLSTATE (a full code or its two-character class) or by
# MySQL/MariaDB error number. Nothing of the server's message is ever added to them.
TIMED_OUT = "the statement timeout (DATABASE_MCP_STATEMENT_TIMEOUT) stopped it"
MISSING = "it names a table, column or function that does not exist here"
UNREADABLE = "the monitoring account may not read something it names"
NOT_PARSED = "the database could not parse it"
BAD_VALUE = "a value or a type does not fit (for example text where a number is expected)"
WRITES = "it would write, which the READ ONLY transaction refuses"
POSTGRES_REASONS = {
    "57014": TIMED_OUT, "25006": WRITES, "42601": NOT_PARSED, "42501": UNREADABLE,
    "42P01": MISSING, "42703": MISSING, "42883": MISSING, "42704": MISSING, "3F000": MISSING,
    "42804": BAD_VALUE, "22": BAD_VALUE,
}  # fmt: skip
MYSQL_REASONS = {
    3024: TIMED_OUT, 1969: TIMED_OUT, 1317: TIMED_OUT, 1792: WRITES, 1064: NOT_PARSED, 1149: NOT_PARSED,
    1142: UNREADABLE, 1143: UNREADABLE, 1044: UNREADABLE, 1227: UNREADABLE, 1370: UNREADABLE,
    1146: MISSING, 1054: MISSING, 1305: MISSING, 1109: MISSING, 1630: MISSING, 1049: MISSING,
    1292: BAD_VALUE, 1366: BAD_VALUE, 1690: BAD_VALUE, 1105: "the database refused it",
}  # fmt: skip
CONNECT_REASONS = {
    "28P01": "the server refused the account or password", "28000": "the server refused the account or password",
    1045: "the server refused the account or password", 1044: "the account may not use this database",
    "3D000": "the database does not exist", 1049: "the database does not exist",
}  # fmt: skip
UNREACHABLE = "the server did not answer (host, port, network or timeout)"


class DatabaseError(Exception):
    """A database could not be reached or refused a statement: a code and a fixed sentence.

    ``code`` is ``connection_failed`` or the code the caller of :func:`connection_open` chose
    (``explain_failed``, ``query_failed``); the message never holds the server's own text.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class InvalidArgument(ValueError):
    """A tool argument is out of range; the message says what is allowed."""


def redact(text: str, *, spec: DatabaseSpec) -> str:
    secrets = {spec.dsn, spec.password, quote(spec.password, safe="")} - {""}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


@contextlib.contextmanager
def connection_open(
    *, spec: DatabaseSpec, failure: str = "query_failed", doing: str = "a monitoring query"
) -> Iterator[object]:
    """A connection with autocommit off; whatever happened, it is rolled back and closed.

    A failure while connecting is ``connection_failed``; one while using the connection is
    ``failure``, worded "<name>: the database refused <doing>: <reason>".
    """
    try:
        conn = _mysql_connect(spec) if spec.engine == "mysql" else _postgres_connect(spec)
    except (pymysql.Error, psycopg.Error, OSError) as exc:
        _log(spec, exc)
        reason = CONNECT_REASONS.get(_error_key(exc), UNREACHABLE)
        message = f"could not connect to {spec.name} ({spec.location}): {reason}"
        raise DatabaseError("connection_failed", message) from None
    try:
        yield conn
    except (pymysql.Error, psycopg.Error) as exc:
        _log(spec, exc)
        reason = _statement_reason(exc)
        message = (
            f"{spec.name}: the database refused {doing}: {reason} (its own message is not shown)"
        )
        raise DatabaseError(failure, message) from None
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
        cur.execute(
            "SET SESSION TRANSACTION READ ONLY"
        )  # every transaction of this monitoring session
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


def _error_key(exc: Exception) -> str | int | None:
    if (
        isinstance(exc, pymysql.Error) and exc.args and isinstance(exc.args[0], int)
    ):  # args are (number, message)
        return exc.args[0]
    return getattr(exc, "sqlstate", None)


def _statement_reason(exc: Exception) -> str:
    key = _error_key(exc)
    if isinstance(key, int):
        return MYSQL_REASONS.get(key, "the database refused it")
    if key is None:
        return "the connection failed while it ran"
    return POSTGRES_REASONS.get(key, POSTGRES_REASONS.get(key[:2], "the database refused it"))


def _log(spec: DatabaseSpec, exc: Exception) -> None:
    # DEBUG only: the text may hold values the caller must not see; it stays on this host.
    logger.debug(
        "%s: database error %s: %s", spec.name, _error_key(exc), redact(str(exc), spec=spec)
    )


def is_mariadb(conn) -> bool:
    return "mariadb" in conn.get_server_info().lower()


def mysql_set_statement_timeout(cursor, *, mariadb: bool) -> None:
    if mariadb:
        cursor.execute("SET SESSION max_statement_time = %s", (STATEMENT_TIMEOUT,))
    else:  # MySQL's limit is in milliseconds and applies to SELECT only
        cursor.execute("SET SESSION max_execution_time = %s", (int(STATEMENT_TIMEOUT * 1000),))


def postgres_set_statement_timeout(cursor) -> None:
    cursor.execute(
        "SELECT set_config('statement_timeout', %s, true)", (f"{int(STATEMENT_TIMEOUT * 1000)}ms",)
    )
