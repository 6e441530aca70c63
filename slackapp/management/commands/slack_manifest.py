"""Print the Slack app manifest (slack/manifest.yaml) with this deployment's base URL."""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MANIFEST = Path(settings.BASE_DIR) / "slack" / "manifest.yaml"
PLACEHOLDER = "https://omni2.example.com"


class Command(BaseCommand):
    help = "Print slack/manifest.yaml with every URL under --base-url (paste it into api.slack.com/apps)."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", required=True, help="e.g. https://omni2.your-company.com")

    def handle(self, *args, base_url: str, **options):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise CommandError(
                "--base-url must be an https:// URL (Slack calls HTTPS only), "
                "without ?query or #fragment."
            )
        self.stdout.write(
            MANIFEST.read_text().replace(PLACEHOLDER, base_url.rstrip("/")), ending=""
        )
