"""The OAuth endpoints OMNI2 adds to DOT's: discovery, registration, login and consent.

DOT's token and revocation views serve as they are (``permissions.oauth.urls``). The
authorization view is DOT's with three rules on top: the ``resource`` must be one of this
server's MCP endpoints (absent, it is ``/mcp``), the user consents every time (no
``approval_prompt=auto``), and the consent page names the client and the tools it will get.
"""

import json
from collections import defaultdict
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import Http404, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.views import AuthorizationView
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from core.drf import client_ip
from permissions.policy.engine import permitted_tools, profile_narrow
from permissions.policy.snapshot import policy_snapshot
from permissions.selectors import user_policy_for

from .metadata import resource_metadata, server_metadata
from .registration import (
    RegistrationError,
    client_metadata_parse,
    client_registration_response,
    oauth_client_register,
)
from .resources import McpResource, request_base_url, resource_of


def oauth_enabled(view):
    """404 for every OAuth URL while ``OMNI2_OAUTH_ENABLED`` is off."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.OMNI2_OAUTH_ENABLED:
            raise Http404("OAuth is turned off (OMNI2_OAUTH_ENABLED).")
        return view(request, *args, **kwargs)

    return wrapped


def _public_json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Access-Control-Allow-Origin"] = "*"  # discovery is public, also to browser clients
    return response


class ServerMetadataView(View):
    """``GET /.well-known/oauth-authorization-server`` (RFC 8414)."""

    def get(self, request):
        return _public_json(server_metadata(request_base_url(request)))


class ResourceMetadataView(View):
    """``GET /.well-known/oauth-protected-resource[/mcp[/<profile>]]`` (RFC 9728). The root
    document describes ``/mcp``, as the MCP spec's fallback discovery expects."""

    def get(self, request, profile: str | None = None):
        if profile is not None and profile not in policy_snapshot().profiles:
            raise Http404("No such profile.")
        return _public_json(resource_metadata(McpResource.at(request_base_url(request), profile)))


@method_decorator(csrf_exempt, name="dispatch")  # a JSON API for clients with no cookies
@method_decorator(never_cache, name="dispatch")
class ClientRegistrationView(View):
    """``POST /oauth/register`` (RFC 7591): a public client, answered 201 with its client_id."""

    def post(self, request):
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            data = None
        try:
            metadata = client_metadata_parse(data)
            client = oauth_client_register(metadata=metadata, ip_address=client_ip(request))
        except RegistrationError as error:
            response = JsonResponse(error.body(), status=error.status)
            if error.retry_after:
                response["Retry-After"] = str(error.retry_after)
            return response
        return JsonResponse(client_registration_response(client), status=201)


class OAuthLoginView(LoginView):
    """OMNI2's own sign-in for the authorization flow (e-mail and password)."""

    template_name = "oauth/login.html"
    redirect_authenticated_user = True


class McpAuthorizationView(AuthorizationView):
    template_name = "oauth/authorize.html"

    def get(self, request, *args, **kwargs):
        query = request.GET.copy()
        query.pop("approval_prompt", None)  # consent every time, whatever the client asks
        if not query.getlist("resource"):
            # The MCP spec makes clients send it; one that does not gets a token for /mcp.
            query.setlist("resource", [McpResource.at(request_base_url(request)).url])
        request.GET = query
        return super().get(request, *args, **kwargs)

    def validate_authorization_request(self, request):
        """DOT's checks (client, redirect URI, PKCE S256), then: the resource is ours."""
        scopes, credentials = super().validate_authorization_request(request)
        problem = self._resource_problem(request.GET.getlist("resource"))
        if problem:
            raise _invalid_target(problem, credentials)
        return scopes, credentials

    def form_valid(self, form):
        # The hidden field came back from the browser: check it again before a code is issued.
        # Its redirect URI came back the same way, so a refusal is a page, never a redirect.
        problem = self._resource_problem((form.cleaned_data.get("resource") or "").split())
        if problem:
            error = CustomOAuth2Error(error="invalid_target", description=problem)
            return self.error_response(FatalClientError(error=error), application=None)
        return super().form_valid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        resources = (context.get("resource") or "").split()
        found = resource_of(resources[0], base_url=self._base()) if resources else None
        if found is not None:
            context["profile"] = found.profile
            context["tools"] = _consent_tools(self.request.user, found.profile)
        return context

    def _resource_problem(self, resources: list[str]) -> str | None:
        if len(resources) != 1:
            return "Ask for exactly one resource: this server's /mcp or /mcp/<profile> URL."
        found = resource_of(resources[0], base_url=self._base())
        if found is None:
            return f"{resources[0][:200]} is not an MCP endpoint of this server."
        if found.profile is not None and found.profile not in policy_snapshot().profiles:
            return f"There is no profile named '{found.profile}'."
        return None

    def _base(self) -> str:
        return request_base_url(self.request)


def _invalid_target(problem: str, credentials) -> OAuthToolkitError:
    error = CustomOAuth2Error(
        error="invalid_target", description=problem, state=credentials.get("state")
    )
    return OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])


def _consent_tools(user, profile: str | None) -> list[tuple[str, list[str]]]:
    """What the client will get: the user's permitted tools (through ``profile``), by server."""
    snapshot = policy_snapshot()
    permitted = permitted_tools(snapshot, user_policy_for(user, snapshot))
    grouped = defaultdict(list)
    for mcp, tool in profile_narrow(snapshot, profile, permitted):
        grouped[mcp].append(tool)
    return sorted(grouped.items())
