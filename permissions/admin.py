from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from .models import ApiKey, Role, User
from .services import api_key_revoke, new_api_key_secret


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "requests_per_hour", "is_admin", "is_super_admin", "default_model")
    list_filter = ("is_admin", "is_super_admin")
    search_fields = ("name", "description")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are created on the API key page, where the secret is shown once


class OmniUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "role")


class OmniUserChangeForm(UserChangeForm):
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
    inlines = [ApiKeyInline]
    fieldsets = (
        (None, {"fields": ("email", "name", "password")}),
        ("Access", {"fields": ("role", "allowed_databases", "slack_user_id")}),
        ("Admin site", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("user",)
    search_fields = ("prefix", "user__email", "name")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    autocomplete_fields = ("user",)
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name")
        return ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("user",) if obj else ())

    def save_model(self, request, obj, form, change):
        if not change:
            raw = new_api_key_secret(obj)
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"New API key for {obj.user.email}: {raw} — copy it now, it will not be shown again.",
                messages.WARNING,
            )
        else:
            super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
