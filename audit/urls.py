from django.urls import path, re_path

from .api import AuditLogDetailApi, AuditLogListApi, AuditStatsApi

urlpatterns = [
    path("logs", AuditLogListApi.as_view(), name="audit-logs"),
    # At most 18 digits: a larger id cannot exist and would overflow a bigint query.
    re_path(r"^logs/(?P<pk>[0-9]{1,18})$", AuditLogDetailApi.as_view(), name="audit-log-detail"),
    path("stats", AuditStatsApi.as_view(), name="audit-stats"),
]
