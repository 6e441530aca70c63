from django.core.management.base import BaseCommand, CommandError

from permissions.policy.yaml_io import policy_import
from permissions.policy.yaml_spec import PolicyFileError, mcps_file_parse, users_file_parse


class Command(BaseCommand):
    help = (
        "Import policy from YAML (SPEC §4.3/§4.4): all or nothing, merged by MCP name and "
        "user e-mail; ${VAR} is expanded from the environment."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mcps", help="mcps.yaml: global rules and MCP servers.")
        parser.add_argument("--users", help="users.yaml: roles, super admins, users, default user.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Also remove MCP servers and deactivate users the files do not name.",
        )

    def handle(self, *args, mcps, users, replace, **options):
        if not mcps and not users:
            raise CommandError("Give --mcps FILE, --users FILE, or both.")
        try:
            # Both files are parsed before anything is written.
            mcps_file = mcps_file_parse(mcps) if mcps else None
            users_file = users_file_parse(users) if users else None
            summary = policy_import(mcps=mcps_file, users=users_file, replace=replace)
        except PolicyFileError as exc:
            raise CommandError(f"{exc}\nNothing was imported.") from exc
        self.stdout.write(f"Policy imported: {summary}.")
        for line in summary.removed:
            self.stdout.write(f"  removed {line}")
