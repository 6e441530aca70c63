"""REST endpoints for MCP tools (SPEC §9). Views validate, call one service, answer."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import IsOmniAdmin, client_ip, is_omni_admin, request_id
from orchestration.mcp.discovery import mcp_tools_refresh
from permissions.models import McpServer

from .jobs import chat_job_get
from .mcp.types import url_without_credentials
from .services import (
    chat_ask_api,
    chat_job_submit_api,
    servers_for,
    tool_call_direct,
    tools_list_for,
)

# Shared with the fast path (orchestration.gateway.toolcall), which must accept exactly what this accepts.
MCP_NAME = re.compile(r"^[a-z0-9_]{1,100}$")
TOOL_NAME_MAX_LENGTH = 200
# The ASGI scope key under which the fast path hands over a request it recorded but did not run.
AUDIT_REQUEST_SCOPE_KEY = "omni2.audit_request"


class ToolCallApi(APIView):
    class InputSerializer(serializers.Serializer):
        mcp = serializers.RegexField(MCP_NAME)
        tool = serializers.CharField(max_length=TOOL_NAME_MAX_LENGTH)
        arguments = serializers.DictField(required=False, default=dict)

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "ToolCallResult",
            {
                "success": serializers.BooleanField(),
                "result": serializers.JSONField(),
                "duration_ms": serializers.IntegerField(),
                "audit_id": serializers.IntegerField(),
            },
        ),
    )
    def post(self, request):
        data = _valid(self.InputSerializer, request.data)
        result = tool_call_direct(
            user=request.user,
            mcp=data["mcp"],
            tool=data["tool"],
            arguments=data["arguments"],
            ip_address=client_ip(request),
            request_id=request_id(request),
            recorded_request_id=_recorded_request_id(request),
        )
        return Response(result)


def _recorded_request_id(request) -> int | None:
    # Only OMNI2's own ASGI router sets this scope key; under WSGI there is no scope.
    return getattr(request._request, "scope", {}).get(AUDIT_REQUEST_SCOPE_KEY)


class ToolListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("mcp", str, required=False)], responses=OpenApiTypes.OBJECT
    )
    def get(self, request):
        mcp = request.query_params.get("mcp") or None
        return Response({"tools": tools_list_for(user=request.user, mcp=mcp)})


class ServerListApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(
            {"servers": servers_for(user=request.user, is_admin=is_omni_admin(request.user))}
        )


class AdminToolsRefreshApi(APIView):
    permission_classes = [IsOmniAdmin]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ToolsRefreshInput"

        mcps = serializers.ListField(child=serializers.CharField(max_length=100), required=False)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = _valid(self.InputSerializer, request.data or {})
        return Response({"servers": mcp_tools_refresh(names=data.get("mcps"))})


class AdminMcpListApi(APIView):
    permission_classes = [IsOmniAdmin]

    class OutputSerializer(serializers.ModelSerializer):
        has_bearer_token = serializers.BooleanField()
        env_keys = serializers.ListField(child=serializers.CharField())
        tools = serializers.IntegerField(source="tools.count")
        url = serializers.SerializerMethodField()

        def get_url(self, server) -> str:
            return url_without_credentials(server.url)  # a user:password in a URL is a secret too

        class Meta:
            model = McpServer
            fields = [
                "name",
                "description",
                "transport",
                "url",
                "command",
                "args",
                "enabled",
                "admin_only",
                "timeout_seconds",
                "tool_policy_mode",
                "tool_patterns",
                "has_bearer_token",
                "env_keys",
                "tools",
            ]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        servers = McpServer.objects.order_by("name").prefetch_related("tools")
        return Response({"mcps": self.OutputSerializer(servers, many=True).data})


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ChatInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=20_000, trim_whitespace=True)
    thread_id = serializers.CharField(max_length=150, required=False, allow_blank=False)
    model = serializers.CharField(max_length=100, required=False)


class ChatAskApi(APIView):
    @extend_schema(request=ChatInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = _valid(ChatInputSerializer, request.data)
        return Response(
            chat_ask_api(
                user=request.user,
                message=data["message"],
                thread_id=data.get("thread_id"),
                model=data.get("model"),
                ip_address=client_ip(request),
                request_id=request_id(request),
            )
        )


class ChatAskAsyncApi(APIView):
    @extend_schema(
        request=ChatInputSerializer,
        responses={202: inline_serializer("JobCreated", {"job_id": serializers.UUIDField()})},
    )
    def post(self, request):
        data = _valid(ChatInputSerializer, request.data)
        job = chat_job_submit_api(
            user=request.user,
            message=data["message"],
            thread_id=data.get("thread_id"),
            model=data.get("model"),
            ip_address=client_ip(request),
            request_id=request_id(request),
        )
        return Response({"job_id": str(job.pk), "status": job.status}, status=202)


class JobDetailApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, job_id):
        job = chat_job_get(job_id=job_id, user=request.user, is_admin=is_omni_admin(request.user))
        if job is None:
            raise NotFound("No such job.")
        body = {"job_id": str(job.pk), "status": job.status}
        if job.result is not None:
            body["result"] = job.result
        if job.error:
            body["error"] = job.error
        return Response(body)
