from django.urls import path

from . import api

urlpatterns = [
    path("mcp/tools/call", api.ToolCallApi.as_view(), name="mcp-tools-call"),
    path("mcp/tools/list", api.ToolListApi.as_view(), name="mcp-tools-list"),
    path("mcp/tools/servers", api.ServerListApi.as_view(), name="mcp-tools-servers"),
    path("chat/ask", api.ChatAskApi.as_view(), name="chat-ask"),
    path("chat/ask/async", api.ChatAskAsyncApi.as_view(), name="chat-ask-async"),
    path("jobs/<uuid:job_id>", api.JobDetailApi.as_view(), name="job-detail"),
    path("admin/tools/refresh", api.AdminToolsRefreshApi.as_view(), name="admin-tools-refresh"),
    path("admin/mcps", api.AdminMcpListApi.as_view(), name="admin-mcps"),
]
