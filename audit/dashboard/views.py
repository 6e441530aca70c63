"""The dashboard's two admin pages: the charts, and the JSON they are drawn from.

Both sit behind the admin site (staff, logged in; others are sent to the admin login) and
then ask what the audit pages ask, the audit log's view permission, plus an OMNI2 admin role:
the dashboard shows every user's spend.
"""

from datetime import UTC

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from core.errors import error_response

from ..selectors import audit_sees_everything
from .figures import dashboard_data
from .period import CHOICES, DEFAULT, PeriodInvalid, dashboard_period_parse

FORBIDDEN = "The audit dashboard is for OMNI2 admins with access to the audit log."


def dashboard_urls(model_admin) -> list:
    """URL patterns of the dashboard, under the audit log's admin (``admin:audit_dashboard``)."""
    wrap = model_admin.admin_site.admin_view
    return [
        path("dashboard/", wrap(lambda r: dashboard_page(r, model_admin)), name="audit_dashboard"),
        path(
            "dashboard/data",
            wrap(lambda r: dashboard_json(r, model_admin)),
            name="audit_dashboard_data",
        ),
    ]


def dashboard_allowed(request, model_admin) -> bool:
    return model_admin.has_view_permission(request) and audit_sees_everything(request.user)


def dashboard_page(request, model_admin):
    if not dashboard_allowed(request, model_admin):
        raise PermissionDenied(FORBIDDEN)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Audit dashboard",
        "choices": [(key, "today" if key == "today" else f"{key} days") for key in CHOICES],
        "chosen": request.GET.get("period") or ("" if "from" in request.GET else DEFAULT),
        "date_from": request.GET.get("from", ""),
        "date_to": request.GET.get("to", ""),
    }
    return TemplateResponse(request, "admin/audit/dashboard.html", context)


def dashboard_json(request, model_admin):
    if not dashboard_allowed(request, model_admin):
        return error_response(403, "permission_denied", FORBIDDEN)
    try:
        today = timezone.now().astimezone(UTC).date()
        period = dashboard_period_parse(params=request.GET, today=today)
    except PeriodInvalid as exc:
        return error_response(400, exc.code, exc.message)
    return JsonResponse(dashboard_data(period=period))
