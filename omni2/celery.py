"""The Celery app. Settings live in ``omni2.settings`` under the ``CELERY_`` prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

app = Celery("omni2")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("omni2.tasks",)
