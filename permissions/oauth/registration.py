"""Dynamic client registration (RFC 7591) for MCP clients: public clients only.

A client says where the browser may bring the code back (``redirect_uris``) and its name; OMNI2
answers with a ``client_id`` and no secret (``token_endpoint_auth_method: none``; PKCE protects
the code). Registration is open, as MCP clients need it to be, so it is bounded twice: a number
per client address an hour (``OMNI2_OAUTH_REGISTRATIONS_PER_HOUR``), and a number of clients
registered in the last day that never obtained a token (``OMNI2_OAUTH_MAX_PENDING_CLIENTS``);
such clients are deleted once they are a day old.
"""

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import Application

from core.outages import outages

from .resources import SCOPE

MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
MAX_NAME_LENGTH = 100
PENDING_DAYS = 1
GRANT_TYPES = ("authorization_code", "refresh_token")
# RFC 8252 §7.3 loopback redirects; "localhost" is what several MCP clients register.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class RegistrationError(Exception):
    """A refusal in RFC 7591 §3.2.2's shape (or a 429 when the limits are reached)."""

    def __init__(self, error: str, description: str, *, status: int = 400, retry_after=None):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.retry_after = retry_after

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class ClientMetadata:
    redirect_uris: tuple[str, ...]
    client_name: str = ""


def client_metadata_parse(data: object) -> ClientMetadata:
    """The metadata OMNI2 registers, or RegistrationError. Fields OMNI2 does not use
    (client_uri, logo_uri, software_id, …) are ignored, as RFC 7591 §2 allows."""
    if not isinstance(data, dict):
        raise _invalid("The body must be a JSON object.")
    uris = data.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise RegistrationError("invalid_redirect_uri", "redirect_uris must be a list of URIs.")
    if len(uris) > MAX_REDIRECT_URIS:
        raise RegistrationError("invalid_redirect_uri", f"At most {MAX_REDIRECT_URIS} URIs.")
    for uri in uris:
        if problem := redirect_uri_problem(uri):
            raise RegistrationError("invalid_redirect_uri", f"{uri[:200]!r}: {problem}")
    _check_public_code_client(data)
    return ClientMetadata(redirect_uris=tuple(dict.fromkeys(uris)), client_name=_name(data))


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` may not receive authorization codes, or None: https, http on the loopback
    interface (RFC 8252 §7.3), or a private-use scheme listed in
    ``OMNI2_OAUTH_EXTRA_REDIRECT_SCHEMES`` (RFC 8252 §7.1); never a fragment or user info."""
    if len(uri) > MAX_URI_LENGTH or any(c.isspace() for c in uri):
        return "not a URI"
    if "#" in uri:
        return "a redirect URI must not have a fragment"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        return "not a URI"
    scheme = parts.scheme.lower()
    if "@" in parts.netloc:
        return "a redirect URI must not carry user info"
    if scheme in settings.OMNI2_OAUTH_EXTRA_REDIRECT_SCHEMES:
        return None
    if not parts.hostname or scheme not in ("http", "https"):
        return "use https, or http on 127.0.0.1, [::1] or localhost"
    if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "http is only for the loopback interface (127.0.0.1, [::1], localhost); use https"
    return None


def _check_public_code_client(data: dict) -> None:
    method = data.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise _invalid("Only public clients register here: token_endpoint_auth_method 'none'.")
    grants = data.get("grant_types", ["authorization_code"])
    if not isinstance(grants, list) or "authorization_code" not in grants:
        raise _invalid("grant_types must include authorization_code.")
    if not set(grants) <= set(GRANT_TYPES):
        raise _invalid(f"grant_types may only be {', '.join(GRANT_TYPES)}.")
    if data.get("response_types", ["code"]) != ["code"]:
        raise _invalid("response_types may only be ['code'].")


def _name(data: dict) -> str:
    name = data.get("client_name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise _invalid(f"client_name must be text of at most {MAX_NAME_LENGTH} characters.")
    return "".join(c for c in name if c.isprintable()).strip()


def _invalid(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


# --- the service ---------------------------------------------------------------------------


@transaction.atomic
def oauth_client_register(*, metadata: ClientMetadata, ip_address: str | None) -> Application:
    """Register a public client, within the limits (RegistrationError with status 429 past
    them). Clients that never obtained a token are removed once a day old."""
    _count_registration(ip_address)
    pending = _pending_clients()
    pending.filter(created__lt=timezone.now() - timedelta(days=PENDING_DAYS)).delete()
    if pending.count() >= settings.OMNI2_OAUTH_MAX_PENDING_CLIENTS:
        raise RegistrationError(
            "temporarily_unavailable",
            "Too many clients registered today have not signed in yet; try again later.",
            status=429,
            retry_after=3600,
        )
    client = Application(
        name=metadata.client_name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(metadata.redirect_uris),
        registration_source=Application.RegistrationSource.DCR,
        # A public client has no secret; an empty one also spares a password hash per call.
        client_secret="",
        hash_client_secret=False,
    )
    try:
        client.full_clean()
    except ValidationError as exc:
        raise RegistrationError("invalid_client_metadata", "; ".join(exc.messages)) from None
    client.save()
    return client


def _pending_clients():
    return Application.objects.filter(
        registration_source=Application.RegistrationSource.DCR,
        accesstoken__isnull=True,
        refreshtoken__isnull=True,
        grant__isnull=True,
    )


def _count_registration(ip_address: str | None) -> None:
    limit, now = settings.OMNI2_OAUTH_REGISTRATIONS_PER_HOUR, int(time.time())
    key = f"oauth:register:{ip_address or '-'}:{now // 3600}"
    try:
        cache.add(key, 0, timeout=3600)
        count = cache.incr(key)
    except Exception as exc:  # the pending-client cap still bounds the table
        outages.down("the cache", exc, meanwhile="client registrations are not counted per address")
        return
    if count > limit:
        raise RegistrationError(
            "temporarily_unavailable",
            f"At most {limit} client registrations an hour from one address.",
            status=429,
            retry_after=3600 - now % 3600,
        )


def client_registration_response(client: Application) -> dict:
    """RFC 7591 §3.2.1: what was registered (no secret: a public client)."""
    body = {
        "client_id": client.client_id,
        "client_id_issued_at": int(client.created.timestamp()),
        "redirect_uris": client.redirect_uris.split(),
        "grant_types": list(GRANT_TYPES),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": SCOPE,
    }
    if client.name:
        body["client_name"] = client.name
    return body
