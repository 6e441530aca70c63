"""Fixtures shared by every app's tests."""

import os
import secrets

import pytest
from django.conf import settings
from rest_framework.test import APIClient

# Fixtures shared across apps (the LLM and MCP stand-ins, the gateway's servers).
pytest_plugins = ["testing.fixtures.llm", "testing.fixtures.mcp", "testing.fixtures.gateway"]

# Tests run on production's settings (DEBUG off, as OMNI2's default is) with two exceptions:
# plain HTTP (the test client sends no HTTPS) and a strong secret key of their own (a new one per
# run, unless the environment sets one), so the start-up check (omni2.checks) passes on
# PostgreSQL as in a real deployment. Django read its settings before this file, so they are
# set on both: child processes (Celery workers, stdio MCP servers, manage.py) read the environment.
os.environ["OMNI2_SSL_REDIRECT"] = "false"
settings.SECURE_SSL_REDIRECT = False
if not os.environ.get("OMNI2_SECRET_KEY"):
    os.environ["OMNI2_SECRET_KEY"] = secrets.token_urlsafe(50)
settings.SECRET_KEY = os.environ["OMNI2_SECRET_KEY"]


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def roles(db):
    """The default roles. Transactional tests flush the tables, seeded rows included."""
    from permissions.models import Role
    from permissions.roles import roles_ensure

    roles_ensure(Role)


@pytest.fixture
def make_user(roles):
    from permissions.services import user_create

    counter = {"n": 0}

    def make(role: str = "read_only", email: str | None = None, **fields):
        counter["n"] += 1
        return user_create(email=email or f"user{counter['n']}@example.com", role=role, **fields)

    return make


@pytest.fixture
def authed_client(make_user):
    """``authed_client(user=None, role=...)`` → an APIClient sending that user's API key."""
    from permissions.services import api_key_create

    def make(user=None, role: str = "read_only"):
        user = user or make_user(role=role)
        _, raw = api_key_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.user = user
        return client

    return make


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real worker process for the whole session; tests using it need transaction=True."""
    from testing.celery_worker import running_worker

    with django_db_blocker.unblock(), running_worker() as proc:
        yield proc
