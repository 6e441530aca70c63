"""``GET /api/audit/logs`` and ``GET /api/audit/stats`` (SPEC §9): own rows, admins everyone's."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import AuditLog, Source, Status, ToolCallLog
from .selectors import (
    LOG_ORDERINGS,
    audit_log_list,
    audit_logs_in_scope,
    audit_scope_for,
    audit_stats,
)

MAX_DAYS = 3650


class ToolCallOutput(serializers.ModelSerializer):
    class Meta:
        model = ToolCallLog
        fields = [
            "mcp",
            "tool",
            "arguments",
            "status",
            "duration_ms",
            "result_size",
            "denial_reason",
            "error",
        ]


class AuditLogOutput(serializers.ModelSerializer):
    cost_usd = serializers.FloatField()
    slack = serializers.SerializerMethodField()
    tool_calls = ToolCallOutput(many=True)

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "user_email",
            "user_role",
            "source",
            "status",
            "message",
            "answer_preview",
            "error",
            "duration_ms",
            "iterations",
            "model",
            "tokens_input",
            "tokens_output",
            "tokens_cache_read",
            "tokens_cache_write",
            "cost_usd",
            "tools_called",
            "mcps_accessed",
            "slack",
            "request_id",
            "tool_calls",
        ]

    def get_slack(self, log: AuditLog) -> dict:
        return {
            "user_id": log.slack_user_id,
            "channel": log.slack_channel,
            "message_ts": log.slack_message_ts,
            "thread_ts": log.slack_thread_ts,
        }


class LogFilters(serializers.Serializer):
    user = serializers.EmailField(required=False, help_text="Only this user's rows (e-mail).")
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=7)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    ordering = serializers.ChoiceField(choices=LOG_ORDERINGS, default="-created_at")


class StatsFilters(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=30)


def _filters(serializer_class, request) -> dict:
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)  # → 400 invalid_request
    return filters.validated_data


class AuditLogListApi(generics.GenericAPIView):
    serializer_class = AuditLogOutput

    def get_queryset(self):
        # The scope is the caller's own rows unless they are an admin; filters only narrow it.
        filters = _filters(LogFilters, self.request)
        return audit_log_list(
            user_scope=audit_scope_for(self.request.user),
            days=filters["days"],
            user_email=filters.get("user"),
            status=filters.get("status"),
            source=filters.get("source"),
            ordering=filters["ordering"],
        )[: filters["limit"]]

    @extend_schema(
        operation_id="audit_logs_list",
        parameters=[LogFilters],
        responses=inline_serializer(
            "AuditLogPage",
            {"count": serializers.IntegerField(), "results": AuditLogOutput(many=True)},
        ),
    )
    def get(self, request):
        results = self.get_serializer(self.get_queryset(), many=True).data
        return Response({"count": len(results), "results": results})


class AuditLogDetailApi(generics.RetrieveAPIView):
    serializer_class = AuditLogOutput

    def get_queryset(self):
        scope = audit_logs_in_scope(user_scope=audit_scope_for(self.request.user))
        return scope.prefetch_related("tool_calls")  # another user's id is a plain 404


class AuditStatsApi(APIView):
    @extend_schema(operation_id="audit_stats", parameters=[StatsFilters], responses={200: dict})
    def get(self, request):
        days = _filters(StatsFilters, request)["days"]
        return Response(audit_stats(user_scope=audit_scope_for(request.user), days=days))
