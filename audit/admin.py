"""The audit trail in Django admin: read and filter, never add, change or delete."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import Truncator

from .dashboard.views import dashboard_urls
from .models import AuditLog, AuditRequest, ToolCallLog
from .selectors import audit_totals

RECENT_DAYS = 30  # filter choices come from recent rows: a DISTINCT over all history is slow


class EstimatedCountPaginator(Paginator):
    """Pages without COUNT(*) over the whole table.

    Unfiltered on PostgreSQL the planner's row estimate (pg_class.reltuples) is used;
    otherwise counting stops at ``OMNI2_AUDIT_ADMIN_COUNT_CAP`` rows.
    """

    @cached_property
    def count(self) -> int:
        queryset, cap = self.object_list, settings.OMNI2_AUDIT_ADMIN_COUNT_CAP
        if not queryset.query.where:
            estimate = _estimated_rows(queryset)
            if estimate > cap:
                return estimate
        return queryset.order_by()[:cap].count()


def _estimated_rows(queryset) -> int:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else -1


def _recent_distinct(queryset, field: str) -> list[str]:
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    values = queryset.filter(created_at__gte=since).exclude(**{field: ""})
    return list(values.order_by(field).values_list(field, flat=True).distinct()[:200])


class UserFilter(admin.SimpleListFilter):
    title, parameter_name = "user", "user_email"

    def lookups(self, request, model_admin):
        emails = get_user_model().objects.order_by("email").values_list("email", flat=True)[:500]
        return [(email, email) for email in emails]

    def queryset(self, request, queryset):
        return queryset.filter(user_email=self.value()) if self.value() else queryset


class McpFilter(admin.SimpleListFilter):
    title, parameter_name = "MCP", "mcp"

    def lookups(self, request, model_admin):
        return [(mcp, mcp) for mcp in _recent_distinct(ToolCallLog.objects, "mcp")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if queryset.model is ToolCallLog:
            return queryset.filter(mcp=self.value())
        return queryset.filter(
            id__in=ToolCallLog.objects.filter(mcp=self.value()).values("audit_id")
        )


class ModelFilter(admin.SimpleListFilter):
    title, parameter_name = "model", "model"

    def lookups(self, request, model_admin):
        return [(model, model) for model in _recent_distinct(AuditLog.objects, "model")]

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


class ReadOnlyAdminMixin:
    """Nobody, superusers included, may add, change or delete an audit row."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ToolCallInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ToolCallLog
    fields = readonly_fields = [
        "mcp",
        "tool",
        "status",
        "duration_ms",
        "result_size",
        "arguments",
        "denial_reason",
        "error",
    ]
    extra = 0
    can_delete = False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "user_email",
        "source",
        "status",
        "model",
        "short_message",
        "cost_usd",
        "tokens",
        "duration_ms",
    ]
    list_filter = [
        "status",
        "source",
        UserFilter,
        McpFilter,
        ModelFilter,
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["user_email", "message", "=request_id", "=slack_channel"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    inlines = [ToolCallInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "created_at",
                    "user_email",
                    "user_role",
                    "source",
                    "status",
                    "message",
                    "answer_preview",
                    "error",
                ]
            },
        ),
        (
            "Model and cost",
            {
                "fields": [
                    "model",
                    "iterations",
                    "duration_ms",
                    "tokens_input",
                    "tokens_output",
                    "tokens_cache_read",
                    "tokens_cache_write",
                    "cost_usd",
                    "tools_called",
                    "mcps_accessed",
                ]
            },
        ),
        (
            "Origin",
            {
                "fields": [
                    "slack_user_id",
                    "slack_channel",
                    "slack_message_ts",
                    "slack_thread_ts",
                    "ip_address",
                    "request_id",
                    "request_record",
                ]
            },
        ),
    ]
    # The user FK is left out on purpose: rows outlive users, and e-mail/role are the record.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    @admin.display(description="message")
    def short_message(self, log: AuditLog) -> str:
        return Truncator(log.message).chars(80)

    @admin.display(description="tokens (in/out/cache)")
    def tokens(self, log: AuditLog) -> str:
        return f"{log.tokens_input}/{log.tokens_output}/{log.tokens_cache_read + log.tokens_cache_write}"

    def get_urls(self):
        return [*dashboard_urls(self), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect or an error page
            logs, days = changelist.queryset, None
            if not any(key.startswith("created_at__") for key in request.GET):
                # Unbounded, the sums would read every row ever written; the index keeps this cheap.
                days = RECENT_DAYS
                logs = logs.filter(created_at__gte=timezone.now() - timedelta(days=days))
            response.context_data["audit_totals"] = audit_totals(logs=logs)
            response.context_data["audit_totals_days"] = days
        return response


@admin.register(ToolCallLog)
class ToolCallLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "mcp", "tool", "status", "duration_ms", "result_size", "audit_id"]
    list_filter = ["status", McpFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=mcp", "tool"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = readonly_fields = [
        "audit",
        "created_at",
        "mcp",
        "tool",
        "status",
        "duration_ms",
        "result_size",
        "arguments",
        "denial_reason",
        "error",
    ]


class OutcomeFilter(admin.SimpleListFilter):
    """Requests whose outcome was never written: an outage or a crash after they were recorded."""

    title, parameter_name = "outcome", "outcome"

    def lookups(self, request, model_admin):
        return [("missing", "missing (outage or crash)"), ("written", "written")]

    def queryset(self, request, queryset):
        if self.value() in ("missing", "written"):
            return queryset.filter(outcome__isnull=self.value() == "missing")
        return queryset


@admin.register(AuditRequest)
class AuditRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every request as recorded before it ran (no record, no call); its outcome is an audit log."""

    list_display = ["created_at", "user_email", "source", "short_message", "outcome_link"]
    list_filter = [OutcomeFilter, "source", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["user_email", "message", "=request_id"]
    list_select_related = ["outcome"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = readonly_fields = [
        "created_at",
        "user_email",
        "source",
        "message",
        "mcp",
        "tool",
        "arguments",
        "ip_address",
        "request_id",
        "outcome_link",
    ]

    @admin.display(description="message")
    def short_message(self, record: AuditRequest) -> str:
        return Truncator(record.message).chars(80)

    @admin.display(description="outcome")
    def outcome_link(self, record: AuditRequest) -> str:
        outcome = getattr(record, "outcome", None)
        if outcome is None:
            return "missing"
        url = reverse("admin:audit_auditlog_change", args=[outcome.pk])
        return format_html('<a href="{}">#{} {}</a>', url, outcome.pk, outcome.status)
