from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from permissions.models import User

DEMO_DIR = settings.BASE_DIR / "config" / "demo"


class Command(BaseCommand):
    help = "Load the demo admin and the demo policy (config/demo/) into an empty database."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("Database already has users; demo data not loaded.")
            return
        User.objects.create_superuser("admin@example.com", "admin", name="Demo admin")
        call_command("import_policy", mcps=str(DEMO_DIR / "mcps.yaml"), users=str(DEMO_DIR / "users.yaml"),
                     stdout=self.stdout)
        self.stdout.write("Demo data loaded. Admin login: admin@example.com / admin (change it).")
