"""Encryption at rest for MCP secrets (bearer tokens, env values).

The Fernet key is derived from ``SECRET_KEY`` (HKDF with a purpose label), so no extra
key has to be managed; ``SECRET_KEY_FALLBACKS`` keep old values readable while the
secret key is rotated. Re-saving a secret re-encrypts it under the current key.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_PURPOSE = b"omni2:mcp-secrets:v1"


class SecretUnreadable(Exception):
    """A stored secret no longer decrypts (SECRET_KEY changed without a fallback)."""


def _fernet_for(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=4)
def _fernet(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(key) for key in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _fernet(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def secret_encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored MCP secret cannot be decrypted with the current SECRET_KEY."
        ) from exc
