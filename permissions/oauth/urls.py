"""``/oauth/…``: the authorization server's endpoints (their absolute URLs are in the
metadata, ``permissions.oauth.metadata``). The well-known documents sit at the site root
(``omni2.urls``), where RFC 8414 and RFC 9728 put them."""

from django.urls import path
from oauth2_provider.views import RevokeTokenView, TokenView

from .views import (
    ClientRegistrationView,
    McpAuthorizationView,
    OAuthLoginView,
    ResourceMetadataView,
    ServerMetadataView,
    oauth_enabled,
)

urlpatterns = [
    path("authorize", oauth_enabled(McpAuthorizationView.as_view()), name="oauth-authorize"),
    path("token", oauth_enabled(TokenView.as_view()), name="oauth-token"),
    path("revoke", oauth_enabled(RevokeTokenView.as_view()), name="oauth-revoke"),
    path("register", oauth_enabled(ClientRegistrationView.as_view()), name="oauth-register"),
    path("login", oauth_enabled(OAuthLoginView.as_view()), name="oauth-login"),
]

_SERVER = ".well-known/oauth-authorization-server"
_RESOURCE = ".well-known/oauth-protected-resource"
well_known_urlpatterns = [
    path(_SERVER, oauth_enabled(ServerMetadataView.as_view()), name="oauth-server-metadata"),
    path(_RESOURCE, oauth_enabled(ResourceMetadataView.as_view()), name="oauth-resource-root"),
    path(f"{_RESOURCE}/mcp", oauth_enabled(ResourceMetadataView.as_view()), name="oauth-resource"),
    path(
        f"{_RESOURCE}/mcp/<slug:profile>",
        oauth_enabled(ResourceMetadataView.as_view()),
        name="oauth-resource-profile",
    ),
]
