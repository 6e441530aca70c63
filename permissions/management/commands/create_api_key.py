from django.core.management.base import BaseCommand, CommandError

from permissions.models import User
from permissions.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user. The key is printed once, as the last line."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--name", default="", help="A label for the key, e.g. the tool that uses it."
        )

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(
                f"No user with e-mail {email!r}. Create one with 'manage.py add_user'."
            )
        if not user.is_active:
            raise CommandError(f"User {email!r} is not active.")
        key, raw = api_key_create(user=user, name=name)
        self.stderr.write(
            f"Created API key {key.prefix}… for {user.email}. It will not be shown again."
        )
        self.stdout.write(raw)
