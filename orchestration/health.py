"""System health: the database, the cache (the rate limiter's store), the broker and each MCP server.

No authentication: statuses and short error codes only. Error text goes to the log (once a
minute per backend, ``core.outages``) and, for MCP servers, to admins at
``/api/mcp/tools/servers``.
"""

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_redis import get_redis_connection

from core.outages import outages

from .mcp.health import mcp_health_public, mcp_health_summary


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the reason goes to the log
        outages.down("the database", exc, meanwhile="requests that need it are answered 503")
        return "down"
    outages.up("the database")
    return "ok"


def cache_status() -> str:
    """Redis (policy cache, rate limits, Slack dedupe) or the embedded file cache."""
    try:
        if settings.REDIS_URL:
            get_redis_connection("default").ping()
        else:
            cache.get("omni2:health")
    except Exception as exc:
        outages.down("the cache", exc, meanwhile="rate limits are counted in the database")
        return "unavailable"
    outages.up("the cache")
    return "ok"


def broker_status() -> str:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:
        outages.down("the broker", exc, meanwhile="/health reports it down")
        return "down"
    outages.up("the broker")
    return "ok"


def system_health() -> tuple[int, dict]:
    database, cache_state, broker = database_status(), cache_status(), broker_status()
    mcps = [mcp_health_public(row) for row in mcp_health_summary()] if database == "ok" else []
    healthy = database == cache_state == broker == "ok" and all(
        m["status"] in ("healthy", "disabled") for m in mcps
    )
    body = {
        "status": "healthy" if healthy else "degraded",
        "database": database,
        "cache": cache_state,
        "broker": broker,
        "mcps": mcps,
    }
    return (503 if database != "ok" else 200), body
