"""OMNI2's URLs plus ``/bench/bare``: same server, middleware and request handling as /slack/events."""

from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    return HttpResponse(status=200)


urlpatterns = [path("bench/bare", bare), path("", include("omni2.urls"))]
