"""``GET /metrics``: Prometheus's text format, summed over every web and worker process.

The counters and histograms are ``core.metrics``'s (multiprocess files); MCP health, breaker
state and Celery queue depth are asked for at scrape. Access (SPEC §13): with
``OMNI2_METRICS_TOKEN`` set, ``Authorization: Bearer <token>`` or 401; unset, loopback callers
only, and not through a proxy (a request carrying ``X-Forwarded-For`` or ``Forwarded`` came
through one, whatever its loopback address says).
"""

import hmac
import ipaddress
import logging

from celery import current_app
from django.conf import settings
from django.http import HttpResponse

from core.errors import database_unavailable, error_response
from core.metrics import EXPOSITION_CONTENT_TYPE, exposition, scrape_families
from core.outages import outages
from orchestration.mcp.health import mcp_health_summary

logger = logging.getLogger(__name__)
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def metrics_view(request):
    if request.method not in ("GET", "HEAD"):
        return error_response(405, "method_not_allowed", "Use GET.")
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(exposition(_at_scrape), content_type=EXPOSITION_CONTENT_TYPE)


def _refusal(request):
    token = settings.OMNI2_METRICS_TOKEN
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            return None
        response = error_response(
            401, "unauthenticated", "Send Authorization: Bearer <OMNI2_METRICS_TOKEN>."
        )
        response["WWW-Authenticate"] = 'Bearer realm="omni2-metrics"'
        return response
    if _loopback(request):
        return None
    return error_response(
        403,
        "permission_denied",
        "Without OMNI2_METRICS_TOKEN, /metrics answers loopback callers only.",
    )


def _loopback(request) -> bool:
    if any(request.headers.get(name) for name in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "").is_loopback
    except ValueError:
        return False


def _at_scrape() -> list:
    return scrape_families(mcps=_mcp_rows(), queues=_queue_depths())


def _mcp_rows() -> list[dict]:
    # The rows /health shows: probed by this process at most every 10 s (HEALTH_MAX_AGE_SECONDS).
    try:
        return mcp_health_summary()
    except Exception as exc:  # a scrape answers with what it has; the failure goes to the log
        if database_unavailable(exc):
            outages.down("the database", exc, meanwhile="/metrics leaves out MCP health")
        else:
            logger.exception("MCP health for /metrics failed")
        return []


def _queue_depths() -> dict[str, int]:
    app = current_app
    names = {app.conf.task_default_queue} | {q.name for q in app.conf.task_queues or ()}
    depths = {}
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            for name in sorted(names):
                depths[name] = _depth(connection, name)
    except Exception as exc:
        outages.down("the broker", exc, meanwhile="/metrics leaves out the queue depth")
        return {}
    outages.up("the broker")
    return depths


def _depth(connection, name: str) -> int:
    try:
        return connection.default_channel.queue_declare(queue=name, passive=True).message_count
    except connection.channel_errors:
        return 0  # no such queue (Redis drops an empty list): nothing is waiting in it
