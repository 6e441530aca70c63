"""Secrets out, sizes capped: what is stored of a tool call's arguments and of free text."""

import json
import re

from core.logging import redact_text

REDACTED = "[REDACTED]"
TRUNCATED = "…[truncated]"
_MAX_DEPTH = 12

# Any key containing one of these (case-insensitive, "-" / " " / "." read as "_") is a secret:
# "db_password", "X-Api-Key", "aws_secret_access_key", "Authorization", "sessionCookie".
_SECRET_KEY = re.compile(
    r"token|passw|pwd|secret|authorization|api_?key|access_?key|private_?key|credential"
    r"|dsn|cookie|signature|connection_?string|client_?secret|session_?id"
)
_SEPARATORS = re.compile(r"[-\s.]")


def is_secret_key(key: object) -> bool:
    return bool(_SECRET_KEY.search(_SEPARATORS.sub("_", str(key).lower())))


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(TRUNCATED), 0)] + TRUNCATED


def clean_text(text: str | None, limit: int) -> str:
    """Free text as stored: secret-shaped values masked, then capped."""
    return cap_text(redact_text(str(text or "")), limit)


def redact_arguments(value, *, string_limit: int, depth: int = 0):
    """A copy of ``value`` with secret-named keys masked at any depth and strings capped."""
    if depth > _MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, dict):
        return {
            str(key): REDACTED
            if is_secret_key(key)
            else redact_arguments(item, string_limit=string_limit, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set):
        return [
            redact_arguments(item, string_limit=string_limit, depth=depth + 1) for item in value
        ]
    if isinstance(value, str):
        return clean_text(value, string_limit)
    if value is None or isinstance(value, bool | int | float):
        return value
    return clean_text(repr(value), string_limit)  # anything else JSON cannot hold


def stored_arguments(arguments, *, string_limit: int, total_limit: int):
    """Redacted arguments, replaced by a capped preview when the whole is still too large."""
    cleaned = redact_arguments(
        arguments if arguments is not None else {}, string_limit=string_limit
    )
    encoded = json.dumps(cleaned, ensure_ascii=False)
    if len(encoded) <= total_limit:
        return cleaned
    return {"_truncated": True, "preview": cap_text(encoded, total_limit)}
