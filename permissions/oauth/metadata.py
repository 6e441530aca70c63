"""The two discovery documents, as plain dicts of the public base URL.

RFC 8414 (authorization server) and RFC 9728 (protected resource), with what MCP clients read:
the endpoints, S256 only, public clients (``none``), and the resource each token is bound to.
"""

from django.urls import reverse

from .resources import SCOPE, McpResource


def server_metadata(base_url: str) -> dict:
    """RFC 8414 §2. The issuer is the base URL itself, so the document sits at the origin's
    ``/.well-known/oauth-authorization-server`` as RFC 8414 §3 and the MCP spec look for it."""
    issuer = McpResource.at(base_url).base
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + reverse("oauth-authorize"),
        "token_endpoint": issuer + reverse("oauth-token"),
        "registration_endpoint": issuer + reverse("oauth-register"),
        "revocation_endpoint": issuer + reverse("oauth-revoke"),
        "scopes_supported": [SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        # RFC 9207: the authorization response carries iss (COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS).
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": False,
    }


def resource_metadata(resource: McpResource) -> dict:
    """RFC 9728 §2 for one MCP endpoint (``/mcp`` or ``/mcp/<profile>``)."""
    return {
        "resource": resource.url,
        "authorization_servers": [resource.base],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": f"OMNI2 MCP ({resource.profile})" if resource.profile else "OMNI2 MCP",
    }
