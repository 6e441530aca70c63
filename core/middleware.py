"""Request rules every app shares: a request id, a body size limit, and a 503 for an
unreachable database."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from . import tracing
from .errors import database_unavailable, database_unavailable_response, error_response
from .logging import request_id_from, request_id_get, request_id_reset, request_id_set


class RequestIdMiddleware:
    """Every request gets an id: the caller's ``X-Request-ID`` when well-formed, else a new one
    (or the one the ASGI gateway already gave it). It is the request's audit ``request_id``,
    its log lines' and its error body's, and it goes back in the ``X-Request-ID`` header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_get() or request_id_from(
            request.headers.get("X-Request-ID")
        )
        token = request_id_set(request.request_id)
        tracing.annotate(**{"omni2.request_id": request.request_id})
        try:
            response = self.get_response(request)
        finally:
            request_id_reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies over ``OMNI2_MAX_BODY_BYTES`` with a 413 in the API's error shape.

    DRF reads the request stream itself and skips Django's own upload limit, so the
    limit is enforced here, for declared and chunked bodies alike.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.OMNI2_MAX_BODY_BYTES
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(400, "invalid_request", "Content-Length is not a number.")
            if declared > limit:
                return self._too_large(limit)
            try:
                body = request.body
            except RequestDataTooBig:
                return self._too_large(limit)
            if len(body) > limit:
                return self._too_large(limit)
        return self.get_response(request)

    @staticmethod
    def _too_large(limit):
        return error_response(
            413, "payload_too_large", f"The request body is larger than {limit} bytes."
        )


class DatabaseUnavailableMiddleware:
    """An unreachable database is a 503 ``service_unavailable`` from every view, not a 500.

    DRF views get the same answer from ``core.errors.api_exception_handler``; this covers the
    rest (admin, Slack's endpoints) even with ``DEBUG`` on, where Django would show its own page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return database_unavailable_response(exception) if database_unavailable(exception) else None
