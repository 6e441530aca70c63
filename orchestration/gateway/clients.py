"""The async clients of the gateway: Redis and PostgreSQL on the server's own event loop.

Opened at start-up (ASGI lifespan, ``omni2.asgi``) by each server process: a ``redis.asyncio``
client of the cache's own Redis (the policy version, the rate limiter) and a psycopg async pool
on the default database (the audit statements). Only with Redis and PostgreSQL configured and
``OMNI2_FAST_PATH`` on; without them nothing is opened and every request is Django's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis.asyncio
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from psycopg_pool import AsyncConnectionPool

from permissions.policy.snapshot import VERSION_KEY

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsyncClients:
    redis: Any  # redis.asyncio.Redis
    db: Any  # psycopg_pool.AsyncConnectionPool
    version_key: str  # the cache's key of the policy version token
    encode: Callable[[Any], bytes]  # the cache's own encoding of a stored value

    def policy_guard(self, token: str) -> tuple[str, bytes]:
        """(key, value) that holds while ``token`` is the live policy version in the cache."""
        return self.version_key, self.encode(token)


def fast_path_possible() -> bool:
    return bool(
        settings.OMNI2_FAST_PATH
        and settings.REDIS_URL
        and connections["default"].vendor == "postgresql"
    )


async def async_clients_open() -> AsyncClients | None:
    if not fast_path_possible():
        return None
    cache = caches["default"]
    # Django's own connection parameters and adapters (JSON, inet, time zones), with an async
    # client-side-binding cursor like the sync one: the audit statement is sent the same way.
    params = connections["default"].get_connection_params()
    params.update(cursor_factory=psycopg.AsyncClientCursor, autocommit=True)
    # Checked as they leave the pool, like Django's (CONN_HEALTH_CHECKS): a restart of the
    # server does not fail the first calls that draw a dropped connection.
    db = AsyncConnectionPool(
        kwargs=params,
        min_size=1,
        max_size=settings.OMNI2_FAST_PATH_DB_POOL_MAX,
        timeout=settings.DATABASES["default"]["OPTIONS"]["pool"]["timeout"],
        check=AsyncConnectionPool.check_connection,
        open=False,
        name="omni2-fast-path",
    )
    await db.open(wait=False)
    client = redis.asyncio.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
    )
    return AsyncClients(
        redis=client, db=db, version_key=cache.make_key(VERSION_KEY), encode=cache.client.encode
    )


async def async_clients_close(clients: AsyncClients | None) -> None:
    if clients is not None:
        await clients.redis.aclose()
        await clients.db.close()
