from django.apps import AppConfig


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "Users, roles and policy"

    def ready(self):
        from . import signals  # noqa: F401  (connects the snapshot invalidation)
