"""The ASGI entry point: Django, with the gateway's hot paths in front of it.

``application`` is an :class:`Omni2Asgi`. Every request goes to Django except the gateway's
hot paths (``POST /api/mcp/tools/call``), whose endpoints answer the common case themselves
and hand everything else to Django untouched. At start-up (ASGI lifespan) each server process
gives its event loop to the MCP pool, so a hot-path call awaits its session with no thread hop
(sync code, i.e. Django views and the chat loop, still hands calls over to that loop), and opens
the gateway's async clients (``orchestration.gateway.clients``). At shutdown both are closed on
the same loop.
"""

import logging
import os

from django.core.asgi import get_asgi_application

from core.tracing import tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

tracing_setup(process="web")  # before Django builds its middleware (the instrumentation adds one)
django_application = get_asgi_application()

# After the apps are loaded: these import models.
from orchestration.gateway.clients import (  # noqa: E402
    AsyncClients,
    async_clients_close,
    async_clients_open,
)
from orchestration.gateway.toolcall import ToolCallEndpoint, stats  # noqa: E402
from orchestration.mcp.pool import get_pool  # noqa: E402

logger = logging.getLogger(__name__)


class Omni2Asgi:
    """Django behind a router for the hot paths, with a lifespan of its own."""

    def __init__(self, django_app):
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
        get_pool().adopt_running_loop()
        self.clients = await async_clients_open()
        logger.info(
            "Fast tool-call path %s", "on" if self.clients else "off (needs Redis and PostgreSQL)"
        )

    async def shutdown(self) -> None:
        if self.clients is not None:
            logger.info(
                "Fast tool-call path served %d calls; %d went to Django",
                stats["fast"],
                stats["django"],
            )
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


application = Omni2Asgi(django_application)
