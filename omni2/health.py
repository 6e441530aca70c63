"""System health: the database, the broker and each MCP server."""

import logging

from django.db import connection
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any driver error means "down"; the reason goes to the log
        logger.warning("health: database unreachable: %s", exc.__class__.__name__)
        return "down"


def broker_status() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return "ok"
    except Exception as exc:
        logger.warning("health: broker unreachable: %s", exc.__class__.__name__)
        return "down"


def system_health() -> tuple[int, dict]:
    from orchestration.health import mcp_health_summary

    database = database_status()
    broker = broker_status()
    mcps = mcp_health_summary() if database == "ok" else []
    healthy = database == "ok" and broker == "ok" and all(
        m["status"] in ("healthy", "disabled") for m in mcps
    )
    body = {
        "status": "healthy" if healthy else "degraded",
        "database": database,
        "broker": broker,
        "mcps": mcps,
    }
    return (503 if database != "ok" else 200), body


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(["healthy", "degraded"]),
                "database": serializers.CharField(),
                "broker": serializers.CharField(),
                "mcps": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request):
        status, body = system_health()
        return Response(body, status=status)
