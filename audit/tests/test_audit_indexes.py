"""The audit table carries the indexes its queries use and no redundant copy of them."""

import pytest
from django.db import connection

from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def _indexes() -> dict[str, dict]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AuditLog._meta.db_table)
    return {
        name: info
        for name, info in constraints.items()
        if info["index"] and not info["primary_key"]
    }


def test_the_user_is_indexed_only_by_the_user_and_time_index():
    leading_with_user = {
        name for name, info in _indexes().items() if info["columns"][0] == "user_id"
    }
    assert leading_with_user == {"audit_user_time"}


def test_the_request_id_has_one_plain_index():
    on_request_id = {
        name: info for name, info in _indexes().items() if info["columns"] == ["request_id"]
    }
    assert list(on_request_id) == ["audit_request_id"]
    if connection.vendor == "postgresql":  # no varchar_pattern_ops copy for LIKE
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_request_id'")
            assert "pattern_ops" not in cursor.fetchone()[0]
