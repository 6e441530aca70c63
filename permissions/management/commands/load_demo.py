from django.core.management.base import BaseCommand

from permissions.models import User


class Command(BaseCommand):
    help = "Load the demo data into an empty database (does nothing when users exist)."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("Database already has users; demo data not loaded.")
            return
        User.objects.create_superuser("admin@example.com", "admin", name="Demo admin")
        self.stdout.write("Demo data loaded. Admin login: admin@example.com / admin (change it).")
