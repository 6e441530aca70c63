"""A URLconf for error-shape tests: one view that parses a JSON body."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class EchoApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        return Response({"received": request.data})

    def get(self, request):
        raise RuntimeError("boom: a bug in a view")


urlpatterns = [
    path("echo", EchoApi.as_view()),
    path("", include("omni2.urls")),
]

handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"
