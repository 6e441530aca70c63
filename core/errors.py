"""One error shape for the whole API: ``{"error": {"code", "message"}}`` (plus ``request_id``).

Views raise :class:`ApiError` (or DRF's own exceptions); the DRF exception handler
and the Django handlers below turn every failure into that shape, so a client
never sees an HTML page or a traceback.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from .logging import request_id_get
from .outages import outages

logger = logging.getLogger(__name__)


class ApiError(drf.APIException):
    """An error with a stable machine code, a sentence for people, and a status."""

    status_code = 400
    default_code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail=message)
        self.message = message
        self.code = code or self.default_code
        if status is not None:
            self.status_code = status
        self.headers = headers or {}
        self.extra = extra or {}


class ServiceUnavailable(ApiError):
    """503: a server OMNI2 needs (the database, or every rate-limit store) cannot be asked."""

    status_code = 503
    default_code = "service_unavailable"


SERVICE_UNAVAILABLE_MESSAGE = "OMNI2 cannot reach its database right now; please try again shortly."


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be asked", not "this query is wrong"."""
    return isinstance(exc, OperationalError | InterfaceError)


_CODES = [
    (drf.ParseError, "invalid_request"),
    (drf.ValidationError, "invalid_request"),
    (drf.NotAuthenticated, "unauthenticated"),
    (drf.AuthenticationFailed, "unauthenticated"),
    (drf.PermissionDenied, "permission_denied"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.NotAcceptable, "not_acceptable"),
    (drf.UnsupportedMediaType, "unsupported_media_type"),
    (drf.Throttled, "rate_limited"),
]


def error_body(code: str, message: str, **extra) -> dict:
    # The request id (core.logging) lets a caller quote the answer that failed: it is the audit
    # row's request_id and on the request's log lines.
    request_id = request_id_get()
    if request_id:
        extra.setdefault("request_id", request_id)
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse(error_body(code, message, **extra), status=status)


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApiError):
        return Response(
            error_body(exc.code, exc.message, **exc.extra),
            status=exc.status_code,
            headers=exc.headers,
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."), status=413
        )
    elif database_unavailable(exc):
        return database_unavailable_response(exc, Response)
    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _CODES if isinstance(exc, cls)), "invalid_request")
        message = _flatten(exc.detail)
        extra = {"fields": exc.detail} if isinstance(exc, drf.ValidationError) else {}
        headers = {}
        if isinstance(exc, drf.AuthenticationFailed | drf.NotAuthenticated):
            headers["WWW-Authenticate"] = 'Bearer realm="omni2"'
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(error_body(code, message, **extra), status=exc.status_code, headers=headers)
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("internal_error", "Something went wrong on our side."), status=500)


# Django-level handlers (requests that never reach a DRF view).
def bad_request(request, exception=None):
    return error_response(400, "invalid_request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return error_response(403, "permission_denied", "You do not have permission to do this.")


def not_found(request, exception=None):
    return error_response(404, "not_found", "Not found.")


def database_unavailable_response(exc: BaseException, response_class=JsonResponse):
    outages.down("the database", exc, meanwhile="requests that need it are answered 503")
    response = response_class(
        error_body("service_unavailable", SERVICE_UNAVAILABLE_MESSAGE), status=503
    )
    # The outage is logged once a minute above; Django's own "Service Unavailable: <path>" line
    # per request would flood the log for as long as it lasts (the flag is what Django sets itself).
    response._has_been_logged = True
    return response


def server_error(request):
    # Django calls this inside its ``except`` block: an exception raised by a middleware (a
    # session saved to an unreachable database) is still told apart from a bug.
    exc = sys.exc_info()[1]
    if exc is not None and database_unavailable(exc):
        return database_unavailable_response(exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")
