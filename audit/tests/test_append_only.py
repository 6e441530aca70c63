import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AppendOnlyError, AuditLog, ToolCallLog

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


@pytest.fixture
def log(make_user, record, tool_call):
    return record(make_user(), tool_calls=[tool_call()])


def test_saving_a_changed_row_is_refused(log):
    log.status = "error"
    with pytest.raises(AppendOnlyError):
        log.save()
    call = log.tool_calls.get()
    call.status = "error"
    with pytest.raises(AppendOnlyError):
        call.save()
    assert AuditLog.objects.get(pk=log.pk).status == "success"


def test_deleting_a_row_is_refused(log):
    with pytest.raises(AppendOnlyError):
        log.delete()
    with pytest.raises(AppendOnlyError):
        log.tool_calls.get().delete()
    assert AuditLog.objects.filter(pk=log.pk).exists()


@pytest.mark.parametrize("model", [AuditLog, ToolCallLog])
def test_queryset_update_and_delete_are_refused(log, model):
    with pytest.raises(AppendOnlyError):
        model.objects.all().update(status="error")
    with pytest.raises(AppendOnlyError):
        model.objects.filter(pk__gte=0).delete()
    with pytest.raises(AppendOnlyError):
        model.objects.bulk_update(list(model.objects.all()), ["status"])
    assert model.objects.count() == 1 and model.objects.get().status == "success"


@on_postgresql
@pytest.mark.parametrize("table", ["audit_auditlog", "audit_toolcalllog"])
def test_raw_sql_update_is_refused_by_the_database(log, table):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET status = 'error'")
    assert AuditLog.objects.get().status == "success"


@on_postgresql
@pytest.mark.parametrize("table", ["audit_toolcalllog", "audit_auditlog"])
def test_raw_sql_delete_is_refused_by_the_database(log, table):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")
    assert ToolCallLog.objects.count() == 1


def test_rows_outlive_their_user(log):
    email = log.user_email
    user_id = log.user_id
    log.user.delete()  # neither cascades nor UPDATEs (the trigger would refuse an UPDATE)
    survivor = AuditLog.objects.get(pk=log.pk)
    assert (survivor.user_id, survivor.user_email) == (user_id, email)


@on_postgresql
def test_request_records_refuse_raw_sql_update_and_delete(make_user):
    from audit.models import AuditRequest
    from audit.services import audit_request_record

    record = audit_request_record(user=make_user(), source="api", message="m.t", mcp="m", tool="t")
    for sql in ("UPDATE audit_auditrequest SET tool = 'other'", "DELETE FROM audit_auditrequest"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditRequest.objects.get(pk=record.pk).tool == "t"
    with pytest.raises(AppendOnlyError):
        AuditRequest.objects.all().update(tool="other")
