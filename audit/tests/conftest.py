import uuid

import pytest
from django.conf import settings

from audit.services import ToolCallRecord, audit_record


@pytest.fixture
def record(db):
    """``record(user, **fields)`` → an AuditLog written through the real service."""

    def make(user, **fields):
        fields.setdefault("source", "api")
        fields.setdefault("message", "How is the database?")
        fields.setdefault("status", "success")
        return audit_record(user=user, **fields)

    return make


@pytest.fixture
def tool_call():
    def make(mcp="database_mcp", tool="get_database_health", **fields):
        return ToolCallRecord(mcp=mcp, tool=tool, **fields)

    return make


@pytest.fixture
def redis_client():
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: the Redis limiter needs a real Redis server")
    from django_redis import get_redis_connection

    return get_redis_connection("default")


@pytest.fixture
def limiter_key():
    """A fresh limiter key per test; its Redis sorted set is removed afterwards."""
    keys = []

    def make():
        keys.append(f"test:{uuid.uuid4().hex}")
        return keys[-1]

    yield make
    if settings.REDIS_URL and keys:
        from django_redis import get_redis_connection

        from audit.ratelimit import redis_key

        get_redis_connection("default").delete(*[redis_key(key) for key in keys])


@pytest.fixture
def database_limiter(settings):
    """Force the database-backed limiter even when REDIS_URL is set."""
    settings.REDIS_URL = ""
