"""The audit tables made append-only by privilege (PostgreSQL): the application's role may
INSERT and SELECT, never UPDATE, DELETE or TRUNCATE.

The first line is the database's permission check: a role without the privilege is refused
before anything runs, whatever code or shell it uses. The append-only trigger (migration 0002)
stays as the second line, for a role that does hold them (the owner, a superuser, a migration).
Used by ``manage.py audit_lockdown``; docs/CONFIGURATION.md shows the whole set-up.
"""

import re

from django.apps import apps
from django.db import connections, transaction

from .models import AppendOnlyModel

# An unquoted PostgreSQL identifier: refusing anything else keeps the role out of the SQL's syntax.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
REFUSED = ("UPDATE", "DELETE", "TRUNCATE")
NEEDED = ("SELECT", "INSERT")


class LockdownRefused(Exception):
    """The role cannot be held to INSERT and SELECT (bad name, missing, owner, superuser)."""


def audit_tables() -> list[str]:
    """Every append-only table of the audit app, so a table added later is covered too."""
    return sorted(
        model._meta.db_table
        for model in apps.get_app_config("audit").get_models()
        if issubclass(model, AppendOnlyModel)
    )


def audit_lockdown_statements(*, role: str, using: str = "default") -> list[str]:
    """The REVOKE/GRANT statements, in order; idempotent, so they can follow every migrate."""
    connection = _postgresql(using)
    _check_name(role)
    statements = []
    with connection.cursor() as cursor:
        for table in audit_tables():
            statements += [
                f"REVOKE ALL ON TABLE {table} FROM PUBLIC, {role};",
                f"GRANT {', '.join(NEEDED)} ON TABLE {table} TO {role};",
            ]
            # An INSERT draws the next id from the table's sequence.
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            if sequence:
                statements.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {role};")
    return statements


def audit_lockdown_apply(*, role: str, using: str = "default") -> list[str]:
    """Run the statements for an existing role in one transaction; then ask PostgreSQL what the
    role may do, and refuse (nothing applied) if it could still change or remove a row."""
    connection = _postgresql(using)
    _check_name(role)
    _check_role(connection, role)
    statements = audit_lockdown_statements(role=role, using=using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        problems = _privilege_problems(cursor, role)
        if problems:
            raise LockdownRefused("; ".join(problems) + ". Nothing was changed.")
    return statements


def _postgresql(using: str):
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise LockdownRefused(
            f"Database privileges are a PostgreSQL feature; this database is {connection.vendor} "
            "(the embedded demo keeps only the application's own append-only refusal)."
        )
    return connection


def _check_name(role: str) -> None:
    if not ROLE_NAME.match(role):
        raise LockdownRefused(
            f"{role!r} is not a plain PostgreSQL role name (lower-case letters, digits, _ and $; "
            "at most 63 characters, not starting with a digit)."
        )


def _check_role(connection, role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            raise LockdownRefused(
                f"There is no role {role!r}: create it first (docs/CONFIGURATION.md), or use "
                "--print to get the SQL."
            )
        if row[0]:
            raise LockdownRefused(
                f"{role!r} is a superuser: PostgreSQL checks no privileges for it."
            )
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE c.relname = ANY(%s) AND c.relkind = 'r' AND pg_has_role(%s, r.rolname, 'MEMBER')",
            [audit_tables(), role],
        )
        owned = [name for (name,) in cursor.fetchall()]
        if owned:
            raise LockdownRefused(
                f"{role!r} owns (or is a member of the owner of) {', '.join(owned)}: an owner can grant itself "
                "any privilege again. Run migrations as the owner and the application as a role that owns nothing."
            )


def _privilege_problems(cursor, role: str) -> list[str]:
    problems = []
    for table in audit_tables():
        for privilege in (*REFUSED, *NEEDED):
            cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])
            if cursor.fetchone()[0] != (privilege in NEEDED):
                verb = "may still" if privilege in REFUSED else "may not"
                problems.append(
                    f"{role} {verb} {privilege} on {table} (through a role it is a member of?)"
                )
    return problems
