"""Accept exactly one plain SELECT (or WITH … SELECT) for EXPLAIN; refuse everything else.

The statement is read with sqlparse's tokenizer, not a regex. Where sqlparse and a database
could read the same text differently (``#`` comments, backslashes in string literals, MySQL's
executable ``/*! … */`` comments) we refuse instead of guessing. This is one layer of several:
the EXPLAIN also runs in a READ ONLY transaction that is rolled back, under a statement timeout,
on a connection that cannot send two statements at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlparse
from sqlparse import tokens as T

MAX_QUERY_CHARS = 100_000

# Keywords that make a SELECT write, lock or leave the database (a data-modifying CTE, INTO …).
WRITE_KEYWORDS = frozenset(
    """
    INSERT UPDATE DELETE MERGE UPSERT REPLACE TRUNCATE DROP ALTER CREATE GRANT REVOKE INTO COPY
    CALL
    """.split()
)
LOCK_FOLLOWERS = {"UPDATE", "SHARE", "NO", "KEY"}  # FOR UPDATE / FOR SHARE / FOR NO KEY UPDATE / FOR KEY SHARE

# Functions with side effects (writes, locks, files, server control) that EXPLAIN could reach
# through constant folding; refused by name, schema qualification ignored.
COMMON_FUNCTIONS = {"nextval", "setval", "lastval"}
POSTGRES_FUNCTIONS = frozenset(
    """
    set_config pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile
    pg_switch_wal pg_create_restore_point pg_promote pg_backup_start pg_backup_stop pg_start_backup
    pg_stop_backup pg_advisory_lock pg_advisory_lock_shared pg_advisory_xact_lock
    pg_advisory_xact_lock_shared pg_try_advisory_lock pg_try_advisory_lock_shared
    pg_try_advisory_xact_lock pg_try_advisory_xact_lock_shared pg_advisory_unlock
    pg_advisory_unlock_shared pg_advisory_unlock_all lo_import lo_export lo_unlink lo_create
    lo_creat lo_from_bytea lo_put lo_truncate pg_read_file pg_read_binary_file pg_ls_dir
    pg_file_write pg_file_unlink pg_file_rename dblink dblink_exec dblink_connect dblink_send_query
    pg_notify pg_stat_reset pg_stat_reset_shared pg_stat_reset_single_table_counters
    pg_stat_statements_reset pg_create_physical_replication_slot pg_create_logical_replication_slot
    pg_drop_replication_slot pg_logical_emit_message pg_replication_origin_create
    pg_import_system_collations query_to_xml query_to_xml_and_xmlschema query_to_xmlschema
    cursor_to_xml cursor_to_xmlschema
    """.split()
)
MYSQL_FUNCTIONS = frozenset(
    """
    sleep benchmark get_lock release_lock release_all_locks load_file master_pos_wait
    source_pos_wait master_gtid_wait wait_for_executed_gtid_set wait_until_sql_thread_after_gtids
    sys_exec sys_eval
    """.split()
)


class QueryRejected(ValueError):
    """The text is not a single read-only SELECT; the message says why."""


@dataclass(frozen=True)
class SafeSelect:
    text: str  # the one statement, without a trailing semicolon


def select_validate(*, sql: str, dialect: str) -> SafeSelect:
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRejected("the query is empty")
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRejected(f"the query is longer than {MAX_QUERY_CHARS} characters")
    statement = _single_statement(sql)
    tokens = [t for t in statement.flatten() if not t.is_whitespace]
    _check_lexical_traps(tokens)
    code = [t for t in tokens if t.ttype not in T.Comment]
    _check_starts_with_select(code)
    _check_keywords(code)
    _check_functions(code, dialect)
    return SafeSelect(text=_without_trailing_semicolon(statement))


def _single_statement(sql: str):
    statements = [s for s in sqlparse.parse(sql) if _has_code(s)]
    if not statements:
        raise QueryRejected("the query holds only comments")
    if len(statements) > 1:
        raise QueryRejected(f"only one statement can be analysed; found {len(statements)} (separated by ';')")
    return statements[0]


def _has_code(statement) -> bool:
    return any(not t.is_whitespace and t.ttype not in T.Comment and t.value != ";" for t in statement.flatten())


def _check_lexical_traps(tokens) -> None:
    for token in tokens:
        value = token.value
        if token.ttype in T.Comment and value.startswith(("/*!", "/*M!")):
            raise QueryRejected("executable comments (/*! … */) are not accepted: MySQL runs their content")
        if token.ttype in T.Comment and value.startswith("#"):
            raise QueryRejected("'#' comments are not accepted: PostgreSQL reads '#' as an operator, not a comment")
        if token.ttype in T.Comment and value.count("/*") > 1:
            raise QueryRejected("nested comments are not accepted: databases disagree on where they end")
        if token.ttype in T.String and "\\" in value:
            raise QueryRejected("backslashes in string literals are not accepted: databases escape them differently")


def _check_starts_with_select(code) -> None:
    first = next((t for t in code if t.value != "("), None)
    word = first.value.upper() if first is not None else ""
    if word not in ("SELECT", "WITH"):
        raise QueryRejected(
            f"only a single SELECT (or WITH … SELECT) statement can be analysed; got {word or 'nothing'}"
        )


def _check_keywords(code) -> None:
    words = [t.value.upper() if t.ttype in T.Keyword else "" for t in code]
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "FOR" and following in LOCK_FOLLOWERS:
            raise QueryRejected(f"locking clauses (FOR {following} …) are not accepted: they take row locks")
        if word == "LOCK" and following == "IN":
            raise QueryRejected("LOCK IN SHARE MODE is not accepted: it takes row locks")
        if word == "INTO":
            raise QueryRejected("SELECT … INTO is not accepted: it writes a table, variable or file")
        if word in WRITE_KEYWORDS:
            raise QueryRejected(f"{word} is not accepted: only read-only SELECT statements can be analysed")


def _check_functions(code, dialect: str) -> None:
    refused = COMMON_FUNCTIONS | (POSTGRES_FUNCTIONS if dialect == "postgres" else MYSQL_FUNCTIONS)
    for token, following in zip(code, code[1:], strict=False):
        name = token.value.strip('`"').lower()
        if following.value == "(" and name in refused:
            raise QueryRejected(f"{name}() is not accepted: it has side effects (writes, locks, files or waits)")


def _without_trailing_semicolon(statement) -> str:
    # Keep everything up to the last real token, so a trailing ';' (and comment) never reach EXPLAIN.
    tokens = list(statement.flatten())
    last = max(i for i, t in enumerate(tokens) if not t.is_whitespace and t.ttype not in T.Comment and t.value != ";")
    return "".join(t.value for t in tokens[: last + 1]).strip()
