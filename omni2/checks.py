"""Start-up checks: outside the embedded demo, OMNI2 will not run on a secret key others can know.

The key signs admin sessions and encrypts the MCP secrets stored in the database
(``permissions.crypto``), so the development default, a placeholder (the value in
``.env.example``, anything "change-me") or a short key is an error on any database but the
embedded SQLite of ``make run``. As a Django system check it stops ``manage.py check``,
``migrate``, ``runserver`` and every other management command (``serve``,
``run_analytics_mcp``) with its message; ``python -m omni2.web`` and the Celery worker run the
same checks before they start (``checks_or_exit``).
"""

import sys

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.management.base import BaseCommand, SystemCheckError

# Django's own deployment check (security.W009) asks for the same length and variety.
MIN_LENGTH = 50
MIN_DISTINCT_CHARACTERS = 5
# Parts of the values shipped in examples and docs, or typed when told to "change me".
PLACEHOLDER_PARTS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "your-secret",
    "django-insecure-",
)

HINT = (
    "Set OMNI2_SECRET_KEY (in .env for docker compose) to a long random value, e.g. the output "
    'of: python -c "import secrets; print(secrets.token_urlsafe(50))". Keep it once set: the MCP '
    "secrets stored in the database are encrypted with it (docs/CONFIGURATION.md)."
)


def secret_key_weakness(key: str, *, dev_key: str) -> str | None:
    """Why ``key`` must not guard a real deployment, or None when it may."""
    if key == dev_key:
        return "is not set (OMNI2 would use its development key)"
    lowered = key.lower()
    if any(part in lowered for part in PLACEHOLDER_PARTS):
        return "is a placeholder (such as the value in .env.example)"
    if len(key) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def embedded_database() -> bool:
    """The embedded demo's database (SQLite), the one place a development key is allowed."""
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


@register(Tags.security)
def secret_key_check(app_configs=None, **kwargs) -> list[Error]:
    if embedded_database():
        return []
    weakness = secret_key_weakness(settings.SECRET_KEY, dev_key=settings.DEV_SECRET_KEY)
    if weakness is None:
        return []
    # The key itself is never part of the message: it may be a real secret that is merely short.
    return [
        Error(
            f"OMNI2_SECRET_KEY {weakness}. OMNI2 does not start on a "
            f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} database with a secret key "
            "others can know or guess: it signs admin sessions and encrypts the stored MCP secrets. "
            "Only the embedded demo (SQLite, `make run`) runs on the development key.",
            hint=HINT,
            id="omni2.E001",
        )
    ]


def checks_or_exit() -> None:
    """For starters that are not management commands: run the system checks as a command does
    before it starts, and on an error print their report (no traceback) and exit with 1."""
    try:
        BaseCommand().check()
    except SystemCheckError as error:
        sys.stderr.write(f"{error}\n")
        sys.exit(1)
