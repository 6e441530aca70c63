from django.contrib import admin

from .models import SlackDelivery


@admin.register(SlackDelivery)
class SlackDeliveryAdmin(admin.ModelAdmin):
    """Read-only: which Slack deliveries were claimed and answered (for support questions)."""

    list_display = ("key", "state", "claimed_at")
    list_filter = ("state",)
    search_fields = ("key",)
    date_hierarchy = "claimed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
