"""python manage.py audit_lockdown --role omni2_app [--print] [--database default]

Gives the application's PostgreSQL role INSERT and SELECT on the audit tables and takes away
everything else (UPDATE, DELETE, TRUNCATE …). Run it as the tables' owner after every migrate;
``--print`` only prints the SQL (for a DBA, or a role that does not exist yet).
"""

from django.core.management.base import BaseCommand, CommandError

from audit.lockdown import LockdownRefused, audit_lockdown_apply, audit_lockdown_statements


class Command(BaseCommand):
    help = "Hold a PostgreSQL role to INSERT and SELECT on the audit tables (no UPDATE, DELETE or TRUNCATE)."

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, help="the role the application connects as")
        parser.add_argument(
            "--print", action="store_true", dest="print_only", help="print the SQL, change nothing"
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, role, print_only, database, **options):
        try:
            if print_only:
                self.stdout.write("\n".join(audit_lockdown_statements(role=role, using=database)))
                return
            statements = audit_lockdown_apply(role=role, using=database)
        except LockdownRefused as refused:
            raise CommandError(str(refused)) from refused
        self.stdout.write(
            f"{role}: INSERT and SELECT only on the audit tables ({len(statements)} statements). "
            "Run this again after each migrate."
        )
