from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class MeApi(APIView):
    """Who the API key belongs to: a quick way to check a key works."""

    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        name = serializers.CharField()
        role = serializers.CharField(source="role.name")
        is_admin = serializers.BooleanField(source="role.is_privileged")
        allowed_databases = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)
