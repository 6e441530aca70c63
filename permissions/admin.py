from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers

from permissions.policy.engine import explain
from permissions.policy.snapshot import policy_snapshot

from .forms import (
    AllowedDatabasesMixin,
    ExplainForm,
    GlobalPolicyForm,
    McpProfileForm,
    McpServerForm,
    RoleForm,
    RoleRestrictionForm,
    UserOverrideForm,
)
from .models import (
    ApiKey,
    DiscoveredTool,
    GlobalPolicy,
    McpProfile,
    McpServer,
    Role,
    RoleRestriction,
    User,
    UserOverride,
)
from .oauth.tokens import oauth_tokens_revoke
from .selectors import user_policy_for
from .services import api_key_revoke, new_api_key_secret


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    list_display = ("name", "requests_per_hour", "is_admin", "is_super_admin", "default_model")
    list_filter = ("is_admin", "is_super_admin")
    search_fields = ("name", "description")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "name", "profile", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are created on the API key page, where the secret is shown once


class RoleRestrictionInline(admin.TabularInline):
    model = RoleRestriction
    form = RoleRestrictionForm
    extra = 0
    fields = ("role", "mode", "patterns")


class UserOverrideInline(admin.TabularInline):
    model = UserOverride
    form = UserOverrideForm
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "mode", "tools", "deny")


class UserOverrideForUserInline(UserOverrideInline):
    autocomplete_fields = ()
    fields = ("mcp", "mode", "tools", "deny")


class OmniUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "role")


class OmniUserChangeForm(AllowedDatabasesMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = OmniUserChangeForm
    add_form = OmniUserCreationForm
    ordering = ("email",)
    list_display = ("email", "name", "role", "slack_user_id", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff")
    list_select_related = ("role",)
    search_fields = ("email", "name", "slack_user_id")
    inlines = [UserOverrideForUserInline, ApiKeyInline]
    fieldsets = (
        (None, {"fields": ("email", "name", "password")}),
        ("Access", {"fields": ("role", "allowed_databases", "slack_user_id")}),
        (
            "Admin site",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),
    )
    actions = ["revoke_oauth_tokens"]

    @admin.action(description="Revoke the OAuth tokens of the selected users (MCP clients)")
    def revoke_oauth_tokens(self, request, queryset):
        count = sum(oauth_tokens_revoke(user=user) for user in queryset)
        self.message_user(request, f"Revoked {count} token(s) of {queryset.count()} user(s).")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "prefix",
        "user",
        "name",
        "profile",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at", "profile")
    list_select_related = ("user", "profile")
    search_fields = ("prefix", "user__email", "name")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    autocomplete_fields = ("user",)
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "profile")
        return ("user", "name", "profile", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("user",) if obj else ())

    def save_model(self, request, obj, form, change):
        if not change:
            # Held on this request's instance only, for response_add; never stored or messaged.
            obj.raw_key = new_api_key_secret(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """The new key on this one page: not in a message (a cookie or the session would keep
        it), not in a redirect, and not cached by the browser."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "key": obj,
            "raw_key": obj.raw_key,
            "title": "New API key",
        }
        response = TemplateResponse(request, "admin/permissions/apikey/created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


# --- Policy tables ---------------------------------------------------------------------------


class DiscoveredToolInline(admin.TabularInline):
    model = DiscoveredTool
    extra = 0
    fields = ("name", "description", "last_seen")
    readonly_fields = fields
    can_delete = False
    classes = ("collapse",)

    def has_add_permission(self, request, obj=None):
        return False  # filled by tool discovery


@admin.register(McpServer)
class McpServerAdmin(admin.ModelAdmin):
    form = McpServerForm
    change_list_template = "admin/permissions/mcpserver/change_list.html"
    list_display = (
        "name",
        "transport",
        "enabled",
        "admin_only",
        "tool_policy_mode",
        "tool_count",
        "token_state",
        "timeout_seconds",
    )
    list_filter = ("enabled", "admin_only", "transport", "tool_policy_mode")
    search_fields = ("name", "description", "url", "command")
    inlines = [RoleRestrictionInline, UserOverrideInline, DiscoveredToolInline]
    fieldsets = (
        (None, {"fields": ("name", "description", "enabled")}),
        ("Connection", {"fields": ("transport", "url", "command", "args", "timeout_seconds")}),
        (
            "Secrets (write-only)",
            {"fields": ("bearer_token", "clear_bearer_token", "env_update", "clear_env")},
        ),
        (
            "Tool policy",
            {"fields": ("admin_only", "tool_policy_mode", "tool_patterns", "database_argument")},
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tool_total=Count("tools"))

    @admin.display(description="tools", ordering="tool_total")
    def tool_count(self, server):
        return server.tool_total

    @admin.display(description="bearer token")
    def token_state(self, server):
        return "set" if server.has_bearer_token else "not set"

    def get_urls(self):
        explain_url = path(
            "explain/", self.admin_site.admin_view(self.explain_view), name="permissions_explain"
        )
        return [explain_url, *super().get_urls()]

    def explain_view(self, request):
        """Every known tool of one MCP for one user: ALLOW/DENY, the step, pattern and reason."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ExplainForm(request.GET or None)
        rows, subject = [], None
        if form.is_valid():
            data = form.cleaned_data
            subject = user_policy_for(data["user"])
            extra = [data["tool"]] if data["tool"] else []
            rows = explain(policy_snapshot(), subject, data["mcp"].name, extra)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "rows": rows,
            "subject": subject,
            "title": "Explain decision",
        }
        return TemplateResponse(request, "admin/permissions/explain.html", context)


@admin.register(McpProfile)
class McpProfileAdmin(admin.ModelAdmin):
    form = McpProfileForm
    list_display = ("name", "description", "patterns", "key_count")
    search_fields = ("name", "description")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(key_total=Count("api_keys"))

    @admin.display(description="tools")
    def patterns(self, profile):
        return ", ".join(profile.tools) or "(none)"

    @admin.display(description="API keys", ordering="key_total")
    def key_count(self, profile):
        return profile.key_total


@admin.register(GlobalPolicy)
class GlobalPolicyAdmin(admin.ModelAdmin):
    form = GlobalPolicyForm

    def changelist_view(self, request, extra_context=None):
        # One row only: the list is just a detour to it.
        return redirect(
            reverse("admin:permissions_globalpolicy_change", args=[GlobalPolicy.load().pk])
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoleRestriction)
class RoleRestrictionAdmin(admin.ModelAdmin):
    form = RoleRestrictionForm
    list_display = ("mcp", "role", "mode", "patterns")
    list_filter = ("mode", "role", "mcp")
    list_select_related = ("mcp", "role")
    search_fields = ("mcp__name", "role__name")


@admin.register(UserOverride)
class UserOverrideAdmin(admin.ModelAdmin):
    form = UserOverrideForm
    list_display = ("user", "mcp", "mode", "tools", "deny")
    list_filter = ("mode", "mcp")
    list_select_related = ("user", "mcp")
    search_fields = ("user__email", "user__name", "mcp__name")
    autocomplete_fields = ("user",)


@admin.register(DiscoveredTool)
class DiscoveredToolAdmin(admin.ModelAdmin):
    list_display = ("name", "mcp", "last_seen")
    list_filter = ("mcp",)
    list_select_related = ("mcp",)
    search_fields = ("name", "description", "mcp__name")
    readonly_fields = ("mcp", "name", "description", "input_schema", "last_seen")

    def has_add_permission(self, request):
        return False  # filled by tool discovery (refresh_tools)
