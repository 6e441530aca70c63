"""``audit_lockdown``: the application's PostgreSQL role may add and read audit rows, and
PostgreSQL itself refuses it UPDATE, DELETE and TRUNCATE."""

import uuid
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.lockdown import audit_tables
from audit.models import AuditLog

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="roles and privileges are PostgreSQL's"
)


def lockdown(*args: str) -> str:
    out = StringIO()
    call_command("audit_lockdown", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def app_role(transactional_db):
    """A login role of its own (roles are shared by every database on the server), given what
    an application role gets in docs/CONFIGURATION.md; dropped afterwards."""
    role, password = f"omni2_app_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", [password])
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        cursor.execute(f"GRANT TRUNCATE ON {', '.join(audit_tables())} TO {role}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    params = connection.get_connection_params()
    dsn = {key: params[key] for key in ("host", "port", "dbname") if params.get(key)}
    yield role, {**dsn, "user": role, "password": password}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {role}")  # its privileges in this database
        cursor.execute(f"DROP ROLE {role}")


INSERT = (
    "INSERT INTO audit_auditlog (created_at, user_email, user_role, source, message, answer_preview, "
    "status, error, duration_ms, iterations, model, tokens_input, tokens_output, tokens_cache_read, "
    "tokens_cache_write, cost_usd, tools_called, mcps_accessed, slack_user_id, slack_channel, "
    "slack_message_ts, slack_thread_ts, request_id) VALUES (now(), 'a@x.com', 'admin', 'api', 'hi', '', "
    "'success', '', 1, 1, '', 0, 0, 0, 0, 0, '[]', '[]', '', '', '', '', 'r1') RETURNING id"
)


@on_postgresql
def test_the_locked_role_inserts_and_reads_and_postgresql_refuses_it_the_rest(app_role):
    role, dsn = app_role
    assert "INSERT and SELECT only" in lockdown("--role", role)
    with psycopg.connect(**dsn, autocommit=True) as conn:
        row_id = conn.execute(INSERT).fetchone()[0]
        conn.execute(
            "INSERT INTO audit_toolcalllog (audit_id, created_at, mcp, tool, arguments, status, "
            "duration_ms, result_size, denial_reason, error) "
            "VALUES (%s, now(), 'm', 't', '{}', 'success', 1, 0, '', '')",
            [row_id],
        )
        assert conn.execute(
            "SELECT count(*) FROM audit_toolcalllog WHERE audit_id = %s", [row_id]
        ).fetchone() == (1,)
        for statement in (
            "UPDATE audit_auditlog SET status = 'error'",
            "DELETE FROM audit_auditlog",
            "TRUNCATE audit_auditlog CASCADE",
            "UPDATE audit_toolcalllog SET status = 'error'",
            "DELETE FROM audit_toolcalllog",
            "TRUNCATE audit_toolcalllog",
        ):
            # PostgreSQL's own permission check, before the append-only trigger could run.
            with pytest.raises(
                psycopg.errors.InsufficientPrivilege, match="permission denied for table"
            ):
                conn.execute(statement)
        # The rest of the schema keeps what the application needs.
        conn.execute("DELETE FROM audit_ratelimithit")
    assert AuditLog.objects.filter(pk=row_id, status="success").exists()


@on_postgresql
def test_running_it_again_changes_nothing(app_role):
    role, _ = app_role
    first = lockdown("--role", role)
    assert lockdown("--role", role) == first


@on_postgresql
@pytest.mark.django_db
def test_print_shows_the_sql_for_every_audit_table_and_applies_nothing():
    sql = lockdown("--role", "omni2_app", "--print")  # the role need not exist
    for table in audit_tables():
        assert f"REVOKE ALL ON TABLE {table} FROM PUBLIC, omni2_app;" in sql
        assert f"GRANT SELECT, INSERT ON TABLE {table} TO omni2_app;" in sql
        assert f"GRANT USAGE ON SEQUENCE public.{table}_id_seq TO omni2_app;" in sql
    assert set(audit_tables()) >= {"audit_auditlog", "audit_toolcalllog"}


@on_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, refusal",
    [
        ('app"; DROP TABLE audit_auditlog; --', "not a plain PostgreSQL role name"),
        ("no_such_role_here", "There is no role"),
    ],
)
def test_it_refuses_a_bad_or_missing_role(role, refusal):
    with pytest.raises(CommandError, match=refusal):
        lockdown("--role", role)


@on_postgresql
@pytest.mark.django_db
def test_it_refuses_a_superuser_or_the_owner_and_changes_nothing():
    user = connection.get_connection_params()["user"]  # the test's own role owns the tables
    with pytest.raises(CommandError, match="superuser|owns"):
        lockdown("--role", user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(%s, 'audit_auditlog', 'INSERT')", [user])
        assert cursor.fetchone() == (True,)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the embedded database")
@pytest.mark.django_db
def test_it_explains_that_sqlite_has_no_privileges():
    with pytest.raises(CommandError, match="PostgreSQL feature"):
        lockdown("--role", "omni2_app", "--print")


def can(role: str, privilege: str, table: str = "audit_auditlog") -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])
        return cursor.fetchone()[0]


@on_postgresql
def test_it_refuses_a_member_of_the_owner_and_changes_nothing(app_role):
    role, _ = app_role
    owner = connection.get_connection_params()["user"]
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT {owner} TO {role}")
    with pytest.raises(CommandError, match="owns"):
        lockdown("--role", role)
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE {owner} FROM {role}")
    assert can(role, "UPDATE") and can(role, "TRUNCATE")


@on_postgresql
def test_it_undoes_everything_when_another_role_still_lends_update(app_role):
    role, _ = app_role
    lender = f"{role}_lender"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {lender}")
        cursor.execute(f"GRANT UPDATE ON audit_auditlog TO {lender}")
        cursor.execute(f"GRANT {lender} TO {role}")
    try:
        with pytest.raises(CommandError, match=f"{role} may still UPDATE on audit_auditlog"):
            lockdown("--role", role)
        assert can(role, "DELETE") and can(role, "TRUNCATE")  # the REVOKEs were rolled back
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {lender}")
            cursor.execute(f"DROP ROLE {lender}")
