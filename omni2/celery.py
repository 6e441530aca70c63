"""The Celery app. Settings live in ``omni2.settings`` under the ``CELERY_`` prefix."""

import os

from celery import Celery
from celery.signals import worker_init

from omni2.checks import checks_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

app = Celery("omni2")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("omni2.tasks",)


@worker_init.connect
def _refuse_unsafe_settings(**kwargs):
    # The checks a management command runs first (a placeholder secret key stops the worker).
    checks_or_exit()
