from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from permissions.models import Role, User, email_normalize
from permissions.policy.engine import pattern_problem
from permissions.services import user_create


class Command(BaseCommand):
    help = (
        "Create a user (e-mail is the identity). Access beyond the role is edited in admin or YAML."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--slack-id", dest="slack_id", default=None)
        parser.add_argument(
            "--databases",
            default=None,
            help="Comma-separated database patterns (default: *, every database).",
        )

    def handle(self, *args, email, role, name, slack_id, databases, **options):
        email = email_normalize(email)
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"--email: {email!r} is not an e-mail address.") from None
        if not Role.objects.filter(name=role).exists():
            roles = ", ".join(Role.objects.values_list("name", flat=True))
            raise CommandError(f"Unknown role {role!r}. Roles: {roles}.")
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(f"A user with e-mail {email!r} already exists.")
        if slack_id and User.objects.filter(slack_user_id=slack_id).exists():
            raise CommandError(f"Slack id {slack_id!r} already belongs to another user.")
        patterns = (
            [p.strip() for p in databases.split(",") if p.strip()]
            if databases is not None
            else None
        )
        for pattern in patterns or []:
            if problem := pattern_problem(pattern, database=True):
                raise CommandError(f"--databases: {problem}")
        user = user_create(
            email=email, role=role, name=name, slack_user_id=slack_id, allowed_databases=patterns
        )
        self.stdout.write(
            f"Created {user.email} (role {role}). Give them an API key with create_api_key."
        )
