"""Project-wide DRF pieces shared by every app's API."""

from rest_framework.permissions import BasePermission


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
    return (request.headers.get("X-Request-ID") or "")[:64]
