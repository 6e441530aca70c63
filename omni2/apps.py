from django.apps import AppConfig


class Omni2Config(AppConfig):
    """The project package as an app, so its start-up checks are registered."""

    name = "omni2"
    verbose_name = "OMNI2"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
