import os

from django.core.wsgi import get_wsgi_application

from core.tracing import tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

tracing_setup(process="web")  # before Django builds its middleware (the instrumentation adds one)
application = get_wsgi_application()
