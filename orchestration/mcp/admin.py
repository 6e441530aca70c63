"""Admin: each MCP server's live state, with the refresh-tools and check-health actions."""

from django.contrib import admin, messages

from .discovery import mcp_health_list, mcp_tools_refresh
from .models import McpServerStatus


@admin.register(McpServerStatus)
class McpServerStatusAdmin(admin.ModelAdmin):
    """Read-only: the pool's last known state per server (no probe on page load); the actions
    probe. Configuration is edited on the MCP server page (``permissions``)."""

    list_display = ("name", "transport", "enabled", "status", "tools", "latency", "last_error")
    list_filter = ("enabled", "transport")
    search_fields = ("name", "description")
    actions = ["refresh_tools", "check_health"]

    def changelist_view(self, request, extra_context=None):
        self._health = {row["name"]: row for row in mcp_health_list(probe=False)}
        return super().changelist_view(request, extra_context)

    def _row(self, server) -> dict:
        return getattr(self, "_health", {}).get(server.name, {})

    @admin.display(description="status")
    def status(self, server):
        return self._row(server).get("status", "unknown")

    @admin.display(description="tools")
    def tools(self, server):
        return self._row(server).get("tools", 0)

    @admin.display(description="latency (ms)")
    def latency(self, server):
        return self._row(server).get("latency_ms")

    @admin.display(description="last error")
    def last_error(self, server):
        return self._row(server).get("last_error", "")

    @admin.action(description="Refresh tools from the selected servers")
    def refresh_tools(self, request, queryset):
        for row in mcp_tools_refresh(names=list(queryset.values_list("name", flat=True))):
            if row["ok"]:
                self.message_user(
                    request, f"{row['name']}: {row['tools']} tools.", messages.SUCCESS
                )
            else:
                self.message_user(
                    request, f"{row['name']}: unreachable ({row['error']}).", messages.ERROR
                )

    @admin.action(description="Check health of the selected servers")
    def check_health(self, request, queryset):
        names = set(queryset.values_list("name", flat=True))
        for row in mcp_health_list(probe=True, names=names):
            level = messages.SUCCESS if row["status"] in ("healthy", "disabled") else messages.ERROR
            latency = f", {row['latency_ms']} ms" if row["latency_ms"] is not None else ""
            detail = f" — {row['last_error']}" if row["last_error"] else ""
            self.message_user(
                request,
                f"{row['name']}: {row['status']}{latency}, {row['tools']} tools{detail}",
                level,
            )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
