"""The ASGI application: Django, plus hot paths served on the server's own event loop.

``omni2.asgi.application`` is an :class:`Omni2Asgi`. Every request goes to Django except its
``hot_paths`` (``POST /api/mcp/tools/call``), whose endpoints answer the common case
themselves and hand everything else to Django untouched. At start-up (ASGI lifespan) each
server process:

- gives its event loop to the MCP pool, so a hot-path call awaits its session with no thread
  hop (sync code, i.e. Django views and the chat loop, still hands calls over to that loop);
- opens :class:`AsyncClients`: a ``redis.asyncio`` client of the cache's own Redis (the policy
  version, the rate limiter) and a psycopg async pool on the default database (the audit
  statement). Only with Redis and PostgreSQL configured and ``OMNI2_FAST_PATH`` on; without
  them nothing is opened and every request is Django's.

At shutdown the clients and the pool's sessions are closed on the same loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

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
    from django.db import connections

    return bool(settings.OMNI2_FAST_PATH and settings.REDIS_URL
                and connections["default"].vendor == "postgresql")


async def async_clients_open() -> AsyncClients | None:
    if not fast_path_possible():
        return None
    import psycopg
    import redis.asyncio
    from django.core.cache import caches
    from django.db import connections
    from psycopg_pool import AsyncConnectionPool

    from permissions.selectors import VERSION_KEY

    cache = caches["default"]
    # Django's own connection parameters and adapters (JSON, inet, time zones), with an async
    # client-side-binding cursor like the sync one: the audit statement is sent the same way.
    params = connections["default"].get_connection_params()
    params.update(cursor_factory=psycopg.AsyncClientCursor, autocommit=True)
    # Checked as they leave the pool, like Django's (CONN_HEALTH_CHECKS): a restart of the
    # server does not fail the first calls that draw a dropped connection.
    db = AsyncConnectionPool(kwargs=params, min_size=1, max_size=settings.OMNI2_FAST_PATH_DB_POOL_MAX,
                             timeout=settings.DATABASES["default"]["OPTIONS"]["pool"]["timeout"],
                             check=AsyncConnectionPool.check_connection, open=False, name="omni2-fast-path")
    await db.open(wait=False)
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    return AsyncClients(redis=client, db=db, version_key=cache.make_key(VERSION_KEY),
                        encode=cache.client.encode)


async def async_clients_close(clients: AsyncClients | None) -> None:
    if clients is not None:
        await clients.redis.aclose()
        await clients.db.close()


class Omni2Asgi:
    """Django behind a router for the hot paths, with a lifespan of its own."""

    def __init__(self, django_app):
        from orchestration.asgi import ToolCallEndpoint

        self.django_app = django_app
        self.clients: AsyncClients | None = None
        self.hot_paths = {("POST", ToolCallEndpoint.path): ToolCallEndpoint(self)}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.hot_paths.get((scope["method"], scope["path"]))
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.django_app(scope, receive, send)

    async def startup(self) -> None:
        from orchestration.mcp.pool import get_pool

        get_pool().adopt_running_loop()
        self.clients = await async_clients_open()
        logger.info("Fast tool-call path %s", "on" if self.clients else "off (needs Redis and PostgreSQL)")

    async def shutdown(self) -> None:
        from orchestration.asgi import stats
        from orchestration.mcp.pool import get_pool

        if self.clients is not None:
            logger.info("Fast tool-call path served %d calls; %d went to Django", stats["fast"], stats["django"])
        clients, self.clients = self.clients, None
        await async_clients_close(clients)
        await get_pool().aclose()

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("Start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return
