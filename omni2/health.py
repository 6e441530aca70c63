"""``GET /health``: the system's health (``orchestration.health.system_health``), unauthenticated."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from orchestration.health import system_health


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(["healthy", "degraded"]),
                "database": serializers.CharField(),
                "cache": serializers.ChoiceField(["ok", "unavailable"]),
                "broker": serializers.CharField(),
                "mcps": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request):
        status, body = system_health()
        return Response(body, status=status)
