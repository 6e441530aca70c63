from django.urls import path

from . import api

urlpatterns = [
    path("mcp/tools/call", api.ToolCallApi.as_view(), name="mcp-tools-call"),
    path("mcp/tools/list", api.ToolListApi.as_view(), name="mcp-tools-list"),
    path("mcp/tools/servers", api.ServerListApi.as_view(), name="mcp-tools-servers"),
    path("admin/tools/refresh", api.AdminToolsRefreshApi.as_view(), name="admin-tools-refresh"),
    path("admin/users", api.AdminUserListApi.as_view(), name="admin-users"),
    path("admin/mcps", api.AdminMcpListApi.as_view(), name="admin-mcps"),
]
