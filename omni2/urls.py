from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from permissions.oauth.urls import well_known_urlpatterns

from .health import HealthView
from .metrics import metrics_view

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("permissions.urls")),
    path("api/", include("orchestration.urls")),
    path("api/audit/", include("audit.urls")),
    path("slack/", include("slackapp.urls")),
    path("oauth/", include("permissions.oauth.urls")),
    *well_known_urlpatterns,  # OAuth discovery for MCP clients (RFC 8414, RFC 9728)
]

handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"
