from decimal import Decimal

import pytest
from django.db import connection, transaction

from audit.models import AuditLog, ToolCallLog
from core.redaction import REDACTED, redact_arguments

pytestmark = pytest.mark.django_db


def test_it_records_a_chat_request_with_its_cost_and_tool_calls(make_user, record, tool_call):
    user = make_user(role="dba")
    log = record(
        user,
        source="slack",
        message="Health of prod?",
        answer="All good.",
        duration_ms=1234,
        iterations=2,
        model="claude-3-5-haiku-20241022",
        usage={"input_tokens": 140, "output_tokens": 346, "cache_read_tokens": 7589},
        tool_calls=[
            tool_call(duration_ms=40, result_size=512, arguments={"database": "prod"}),
            tool_call(tool="get_top_queries"),
            tool_call(),
        ],
        slack={"user_id": "U1", "channel": "C1", "message_ts": "1.2", "thread_ts": "1.1"},
        ip_address="10.0.0.7",
        request_id="req-1",
    )
    log = AuditLog.objects.get(pk=log.pk)
    assert (log.user_email, log.user_role, log.status) == (user.email, "dba", "success")
    assert log.cost_usd == Decimal("0.002103")
    assert (log.tokens_input, log.tokens_output, log.tokens_cache_read) == (140, 346, 7589)
    assert log.tools_called == ["database_mcp.get_database_health", "database_mcp.get_top_queries"]
    assert log.mcps_accessed == ["database_mcp"]
    assert (log.slack_channel, log.slack_thread_ts, log.ip_address) == ("C1", "1.1", "10.0.0.7")
    calls = list(log.tool_calls.all())
    assert [call.tool for call in calls] == [
        "get_database_health",
        "get_top_queries",
        "get_database_health",
    ]
    assert calls[0].arguments == {"database": "prod"} and calls[0].created_at == log.created_at


def test_a_denied_call_is_logged_but_not_counted_as_called(make_user, record, tool_call):
    log = record(
        make_user(),
        status="denied",
        tool_calls=[
            tool_call(tool="drop_table", status="denied", denial_reason="step 2: blocked by drop_*")
        ],
    )
    assert log.tools_called == [] and log.mcps_accessed == []
    assert log.tool_calls.get().denial_reason == "step 2: blocked by drop_*"


def test_an_unknown_model_that_spent_tokens_marks_the_row_warning(make_user, record):
    log = record(make_user(), model="llama3.1:8b", usage={"input_tokens": 10, "output_tokens": 5})
    assert log.status == "warning"
    assert log.cost_usd == 0
    assert "llama3.1:8b" in log.error


def test_an_unknown_model_without_tokens_stays_a_success(make_user, record):
    assert record(make_user(), model="", usage=None).status == "success"


def test_an_error_row_with_an_unknown_model_stays_an_error(make_user, record):
    log = record(make_user(), status="error", error="boom", model="x", usage={"input_tokens": 3})
    assert (log.status, log.error) == ("error", "boom")


SECRETS = {
    "database": "prod",
    "password": "hunter2",
    "DB_Password": "hunter2",
    "X-Api-Key": "k-123",
    "headers": {"Authorization": "Bearer abcdefghijkl", "Accept": "json"},
    "targets": [
        {"name": "a", "credentials": {"user": "u", "pass": "p"}},
        [{"deep": {"aws_secret_access_key": "AKIA", "region": "eu"}}],
    ],
    "session": {"cookie": "c=1", "refresh_token": "r"},
    "dsn": "postgres://u:p@h/db",
    "privateKey": "-----BEGIN",
    "apikey": "zzz",
}


def test_secrets_in_arguments_are_redacted_at_any_depth():
    cleaned = redact_arguments(SECRETS, string_limit=1000)
    assert cleaned["database"] == "prod"
    for key in ("password", "DB_Password", "X-Api-Key", "dsn", "privateKey", "apikey"):
        assert cleaned[key] == REDACTED, key
    assert cleaned["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert cleaned["targets"][0] == {"name": "a", "credentials": REDACTED}
    assert cleaned["targets"][1][0]["deep"] == {"aws_secret_access_key": REDACTED, "region": "eu"}
    assert cleaned["session"] == {"cookie": REDACTED, "refresh_token": REDACTED}
    assert SECRETS["password"] == "hunter2"  # the caller's arguments are left untouched


def test_stored_arguments_never_hold_a_secret(make_user, record, tool_call):
    log = record(make_user(), tool_calls=[tool_call(arguments=SECRETS)])
    stored = ToolCallLog.objects.get(audit=log).arguments
    text = str(stored)
    for secret in ("hunter2", "k-123", "abcdefghijkl", "AKIA", "postgres://u:p", "zzz"):
        assert secret not in text


def test_secret_shaped_text_is_masked_in_messages_and_argument_values(make_user, record, tool_call):
    log = record(
        make_user(),
        message="use key sk-ant-api03-abcdefghijklmnop please",
        tool_calls=[tool_call(arguments={"query": "Bearer abcdefghijklmnop"})],
    )
    assert "abcdefghijklmnop" not in log.message
    assert "abcdefghijklmnop" not in str(log.tool_calls.get().arguments)


def test_stored_text_is_capped(make_user, record, tool_call, settings):
    settings.OMNI2_AUDIT_PREVIEW_MAX_CHARS = 100
    log = record(
        make_user(),
        message="m" * 50_000,
        answer="a" * 50_000,
        error="e" * 50_000,
        tool_calls=[tool_call(arguments={"sql": "s" * 50_000, "rows": ["x" * 10] * 5000})],
    )
    log = AuditLog.objects.get(pk=log.pk)
    assert len(log.message) == settings.OMNI2_AUDIT_MESSAGE_MAX_CHARS
    assert len(log.answer_preview) == 100 and log.answer_preview.endswith("…[truncated]")
    assert len(log.error) == settings.OMNI2_AUDIT_ERROR_MAX_CHARS
    arguments = log.tool_calls.get().arguments
    assert arguments["_truncated"] is True
    assert len(arguments["preview"]) == settings.OMNI2_AUDIT_ARGUMENTS_MAX_CHARS


def test_a_long_argument_string_is_capped_on_its_own(make_user, record, tool_call, settings):
    log = record(make_user(), tool_calls=[tool_call(arguments={"sql": "s" * 5000, "db": "prod"})])
    arguments = log.tool_calls.get().arguments
    assert len(arguments["sql"]) == settings.OMNI2_AUDIT_ARGUMENT_MAX_CHARS
    assert arguments["db"] == "prod"


def test_a_bad_tool_call_status_writes_nothing(make_user, record, tool_call):
    with pytest.raises(ValueError, match="tool call status"):
        record(make_user(), tool_calls=[tool_call(), tool_call(status="exploded")])
    assert not AuditLog.objects.exists() and not ToolCallLog.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("source", "email"), ("status", "ok")])
def test_an_unknown_source_or_status_is_refused(make_user, record, field, value):
    with pytest.raises(ValueError):
        record(make_user(), **{field: value})


def test_odd_inputs_are_stored_safely(make_user, record):
    log = record(
        make_user(),
        ip_address="not-an-ip",
        duration_ms=-5,
        iterations=10**9,
        usage={"input_tokens": None, "output_tokens": "12", "cache_read_tokens": "x"},
    )
    log = AuditLog.objects.get(pk=log.pk)
    assert (log.ip_address, log.duration_ms, log.iterations) == (None, 0, 32767)
    assert (log.tokens_input, log.tokens_output, log.tokens_cache_read) == (0, 12, 0)


def test_a_request_without_a_user_is_recorded(record):
    log = record(None, source="mcp")
    assert (log.user_id, log.user_email, log.user_role) == (None, "", "")


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement insert is PostgreSQL's"
)


def statements_of(action) -> list[str]:
    """The SQL that ``action()`` sent, seen through Django's own execute hook."""
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        action()
    return seen


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("calls", [0, 1, 3])
def test_on_postgresql_a_record_is_one_statement_and_commits_on_its_own(
    make_user, record, tool_call, calls
):
    user = make_user()
    sql = statements_of(
        lambda: record(
            user,
            ip_address="10.9.8.7",
            tool_calls=[
                tool_call(tool=f"t{i}", arguments={"database": "prod", "n": i})
                for i in range(calls)
            ],
        )
    )
    assert len(sql) == 1 and sql[0].startswith("WITH" if calls else "INSERT")
    log = AuditLog.objects.get(user=user)
    assert (log.ip_address, log.tools_called) == (
        "10.9.8.7",
        [f"database_mcp.t{i}" for i in range(calls)],
    )
    children = list(log.tool_calls.all())
    assert [(c.tool, c.arguments, c.created_at) for c in children] == [
        (f"t{i}", {"database": "prod", "n": i}, log.created_at) for i in range(calls)
    ]


@on_postgresql
def test_on_postgresql_a_record_joins_the_callers_transaction(make_user, record, tool_call):
    user = make_user()

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        log = record(user, tool_calls=[tool_call()])
        assert AuditLog.objects.filter(pk=log.pk).exists()
        raise Rollback
    assert not AuditLog.objects.filter(user=user).exists()
    assert not ToolCallLog.objects.filter(audit_id=log.pk).exists()
