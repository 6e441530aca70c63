"""DOT's admin pages as OMNI2 wants them (wired through DOT's ``*_ADMIN_CLASS`` settings).

Tokens are stored as a SHA-256 only; neither the (empty) token column nor the checksum is shown.
An admin revokes a client's tokens here, a user's on the user list (``permissions.admin``).
This module is imported by DOT's own admin module, so nothing else may import it first.
"""

from django.contrib import admin
from django.db.models import Count
from oauth2_provider import admin as dot_admin

from .tokens import oauth_tokens_revoke


class ApplicationAdmin(dot_admin.ApplicationAdmin):
    list_display = ("name", "client_id", "registration_source", "live_tokens", "created")
    list_filter = ("registration_source", "client_type")
    search_fields = ("name", "client_id")
    view_on_site = False  # DOT's own application pages are not mounted
    actions = ["revoke_all_tokens"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(token_total=Count("accesstoken"))

    @admin.display(description="access tokens", ordering="token_total")
    def live_tokens(self, client):
        return client.token_total

    @admin.action(description="Revoke every token of the selected clients")
    def revoke_all_tokens(self, request, queryset):
        count = sum(oauth_tokens_revoke(client=client) for client in queryset)
        self.message_user(request, f"Revoked {count} token(s) of {queryset.count()} client(s).")


class _HiddenChecksum:
    def get_exclude(self, request, obj=None):
        return (*(super().get_exclude(request, obj) or ()), "token", "token_checksum")


class AccessTokenAdmin(_HiddenChecksum, dot_admin.AccessTokenAdmin):
    list_display = ("pk", "user", "application", "resource", "expires")
    list_filter = ("application", "expires")


class RefreshTokenAdmin(_HiddenChecksum, dot_admin.RefreshTokenAdmin):
    list_display = ("pk", "user", "application", "resource", "created", "revoked")
    list_filter = ("application", "revoked")


class GrantAdmin(dot_admin.GrantAdmin):
    list_display = ("pk", "application", "user", "expires")
