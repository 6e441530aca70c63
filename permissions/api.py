"""REST endpoints of identity: who a key belongs to, and the user list for admins."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import IsOmniAdmin

from .models import User


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


class AdminUserListApi(APIView):
    permission_classes = [IsOmniAdmin]

    class OutputSerializer(serializers.ModelSerializer):
        role = serializers.CharField(source="role.name")

        class Meta:
            model = User
            fields = ["email", "name", "role", "slack_user_id", "allowed_databases", "is_active"]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        users = User.objects.select_related("role").order_by("email")
        return Response({"users": self.OutputSerializer(users, many=True).data})
