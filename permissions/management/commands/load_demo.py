from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from permissions.models import User

DEMO_DIR = settings.BASE_DIR / "config" / "demo"


class Command(BaseCommand):
    help = (
        "Load the demo admin (admin@example.com / admin) and the demo policy (config/demo/) into an "
        "empty database. Only with DEBUG on: `make run` sets OMNI2_DEBUG=true."
    )

    def handle(self, *args, **options):
        # A well-known password must never reach a deployment, whatever starts this command there.
        if not settings.DEBUG:
            raise CommandError(
                "load_demo creates the demo admin admin@example.com with the password 'admin', so it runs "
                "only in the embedded demo (`make run`, which sets OMNI2_DEBUG=true). For a deployment, "
                "create the first admin with `manage.py createsuperuser` and load a policy with "
                "`manage.py import_policy`."
            )
        if User.objects.exists():
            self.stdout.write("Database already has users; demo data not loaded.")
            return
        User.objects.create_superuser("admin@example.com", "admin", name="Demo admin")
        call_command(
            "import_policy",
            mcps=str(DEMO_DIR / "mcps.yaml"),
            users=str(DEMO_DIR / "users.yaml"),
            stdout=self.stdout,
        )
        self.stdout.write("Demo data loaded. Admin login: admin@example.com / admin (change it).")
