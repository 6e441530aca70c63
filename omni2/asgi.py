"""The ASGI entry point: Django, with the hot paths of ``omni2.aio`` in front of it."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

django_application = get_asgi_application()

from omni2.aio import Omni2Asgi  # noqa: E402  (imports models: after the apps are loaded)

application = Omni2Asgi(django_application)
