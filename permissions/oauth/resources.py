"""The URLs OMNI2 publishes as an authorization server and as protected resources.

One origin is both. The issuer is the public base URL (``OMNI2_PUBLIC_URL``, else the request's
scheme and host); every MCP endpoint is a protected resource of its own, ``<base>/mcp`` and
``<base>/mcp/<profile>`` (RFC 8707 resource indicators, RFC 9728 metadata), so a token issued
for one profile is not a token for everything.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MCP_PATH = "/mcp"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server"
SCOPE = "mcp"  # the one scope: "use my MCP tools"; what that means is the policy's business
_PROFILE = re.compile(r"[-a-zA-Z0-9_]{1,64}")  # a slug, as McpProfile.name
_DEFAULT_PORTS = {"http": 80, "https": 443}


def public_base_url(*, scheme: str, host: str) -> str:
    """``OMNI2_PUBLIC_URL`` when set, else ``scheme://host`` of the request (a host Django or
    the gateway has already checked against ALLOWED_HOSTS)."""
    return canonical_url(settings.OMNI2_PUBLIC_URL or f"{scheme}://{host}") or ""


def request_base_url(request) -> str:
    return public_base_url(scheme=request.scheme, host=request.get_host())


def canonical_url(url: str) -> str | None:
    """Lower-case scheme and host, no default port, no trailing slash; None for anything that
    is not a plain http(s) URL (query, fragment or user info included)."""
    if not isinstance(url, str) or "#" in url or "?" in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    host = f"[{host}]" if ":" in host else host
    port_text = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{port_text}{parts.path.rstrip('/')}"


@dataclass(frozen=True, slots=True)
class McpResource:
    """One MCP endpoint of this server: ``base`` is the canonical public base URL."""

    base: str
    profile: str | None = None

    @classmethod
    def at(cls, base_url: str, profile: str | None = None) -> "McpResource":
        return cls(canonical_url(base_url) or base_url, profile)

    @property
    def url(self) -> str:
        return f"{self.base}{MCP_PATH}" + (f"/{self.profile}" if self.profile else "")

    @property
    def metadata_url(self) -> str:
        """Its RFC 9728 document: the well-known path with the resource's path appended."""
        return f"{self.base}{RESOURCE_METADATA_PATH}{self.url.removeprefix(self.base)}"


def resource_of(url: str, *, base_url: str) -> McpResource | None:
    """The MCP endpoint of this server that ``url`` names (any spelling RFC 3986 calls equal),
    or None when it names something else. The profile is not checked to exist here."""
    found, root = canonical_url(url), McpResource.at(base_url)
    if found is None:
        return None
    if found == root.url:
        return root
    profile = found.removeprefix(root.url + "/") if found.startswith(root.url + "/") else ""
    return McpResource(root.base, profile) if _PROFILE.fullmatch(profile) else None


def audience_allows(audience: tuple[str, ...], resource: McpResource) -> bool:
    """Whether a token issued for ``audience`` (its RFC 8707 resources) may be used at
    ``resource``: issued for that very endpoint, or for ``/mcp`` (every profile narrows it).
    A token issued for a profile is never good at ``/mcp`` or at another profile."""
    issued = {canonical_url(url) for url in audience}
    return resource.url in issued or (
        resource.profile is not None and McpResource(resource.base).url in issued
    )


def www_authenticate(resource: McpResource, *, error: str = "", description: str = "") -> str:
    """The ``WWW-Authenticate`` value of a 401 at ``resource`` (RFC 6750 §3, RFC 9728 §5.1):
    where its metadata is, and the scope to ask for. ``error`` is "invalid_token" when a
    token was presented and refused, empty when none was presented."""
    params = [f'resource_metadata="{resource.metadata_url}"', f'scope="{SCOPE}"']
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append('error_description="{}"'.format(description.replace('"', "'")))
    return "Bearer " + ", ".join(params)
