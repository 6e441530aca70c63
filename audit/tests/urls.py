"""A one-view URLconf that goes through rate_limit_enforce and the real exception handler."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.ratelimit import rate_limit_enforce


class AskApi(APIView):
    def post(self, request):
        rate_limit_enforce(
            user=request.user,
            source="api",
            message=request.data.get("message", ""),
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        return Response({"ok": True})


urlpatterns = [path("ask", AskApi.as_view())]
