from django.urls import path

from .api import AuditLogDetailApi, AuditLogListApi, AuditStatsApi

urlpatterns = [
    path("logs", AuditLogListApi.as_view(), name="audit-logs"),
    path("logs/<int:pk>", AuditLogDetailApi.as_view(), name="audit-log-detail"),
    path("stats", AuditStatsApi.as_view(), name="audit-stats"),
]
