from pathlib import Path

from django.core.management.base import BaseCommand

from permissions.policy.yaml_io import policy_export
from permissions.policy.yaml_spec import yaml_dump

HEADER = "# Exported by `manage.py export_policy`; re-import with `manage.py import_policy`.\n"


class Command(BaseCommand):
    help = (
        "Write the policy as DIR/mcps.yaml and DIR/users.yaml. Secrets become ${VAR} placeholders."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", required=True, help="Directory to write into (created if missing)."
        )

    def handle(self, *args, out, **options):
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        mcps, users, variables = policy_export()
        secrets_note = "# Secrets are not exported: set the ${VAR} variables before importing.\n"
        yaml_dump(mcps, directory / "mcps.yaml", HEADER + secrets_note)
        yaml_dump(users, directory / "users.yaml", HEADER)
        self.stdout.write(f"Wrote {directory / 'mcps.yaml'} and {directory / 'users.yaml'}.")
        if variables:
            self.stderr.write(
                "Set these environment variables before importing: " + ", ".join(variables)
            )
