"""Make this test's view of a shared server unreachable, never the server itself.

``redis_unreachable(settings)`` points the cache (and so the limiter, the policy cache and
Slack's dedupe) at a closed port. ``database_rerouted(port)`` points Django's default
database at another port (a :class:`testing.tcpproxy.TcpProxy`, or a closed one) with a short
pool timeout, and puts everything back afterwards. Tests using it need ``transaction=True``:
the test's own transaction cannot follow its connection elsewhere.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from .mcp_servers import free_port


def closed_port() -> int:
    return free_port()  # free: nothing listens there, so a connection is refused at once


def redis_unreachable(settings) -> str:
    """Point REDIS_URL and the cache at a closed port (pytest-django's ``settings`` restores them)."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
        }
    }
    settings.CACHES["default"].pop("OPTIONS", None)
    return url


@contextmanager
def database_rerouted(port: int | None = None, *, pool_timeout: float = 1.0) -> Iterator[int]:
    """Django's default database through 127.0.0.1:``port`` (a closed port when None).

    SQLite has no port: the database file is moved out of reach instead, unless ``port`` is
    given (then the caller is testing something only PostgreSQL has).
    """
    connection = connections["default"]
    settings_dict = connection.settings_dict
    saved = copy.deepcopy(settings_dict)
    port = closed_port() if port is None else port
    _drop(connection)
    if connection.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=str(port))
        pool = settings_dict["OPTIONS"].get("pool")
        if isinstance(pool, dict):
            settings_dict["OPTIONS"]["pool"] = {**pool, "timeout": pool_timeout, "min_size": 1}
    else:
        settings_dict["NAME"] = "/nonexistent-omni2-test-dir/db.sqlite3"
    try:
        yield port
    finally:
        _drop(connection)
        settings_dict.clear()
        settings_dict.update(saved)


def _drop(connection) -> None:
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()
