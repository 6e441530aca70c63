"""Project-wide DRF pieces shared by every app's API."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.permissions import BasePermission

# No request of this API nests JSON deeper; far deeper input would exhaust Python's recursion
# (the decoder's, or later the schema check's and the audit's) and answer 500.
MAX_JSON_DEPTH = 64


def json_too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` levels deep (iterative)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser, refusing nesting deeper than ``MAX_JSON_DEPTH`` with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
        if data is None or json_too_deep(data):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        return data


def is_omni_admin(user) -> bool:
    role = getattr(user, "role", None)
    return bool(role and (role.is_admin or role.is_super_admin))


class IsOmniAdmin(BasePermission):
    """The caller's OMNI2 role is admin or super_admin."""

    message = "This endpoint is for OMNI2 admins."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and is_omni_admin(request.user))


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def request_id(request) -> str:
    """The request's id (``core.middleware.RequestIdMiddleware``)."""
    return getattr(request, "request_id", "") or (request.headers.get("X-Request-ID") or "")[:64]
