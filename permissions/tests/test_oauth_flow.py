"""The OAuth flow an MCP client runs, end to end over real HTTP against a live server:
discovery, registration, sign-in, consent, code with PKCE S256, token, refresh, revocation; and
what ``bearer_authenticate`` (the gateway's check) then accepts."""

import pytest

from permissions.models import GlobalPolicy, McpProfile, McpServer
from permissions.oauth.resources import McpResource
from permissions.services import bearer_authenticate, discovered_tools_sync

from .oauth_client import REDIRECT_URI, McpOAuthClient, hidden_inputs, pkce_pair, query_of

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long test password 1"


@pytest.fixture
def site(live_server, settings, make_user):
    """A live server (plain HTTP, so cookies without Secure), a DBA with a password, a server
    with three tools (one blocked for everyone) and a profile that keeps one of them."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    user = make_user(role="dba", email="dee@example.com")
    user.set_password(PASSWORD)
    user.save()
    server = McpServer.objects.create(name="database_mcp", url="http://db-mcp:8300/mcp")
    discovered_tools_sync(
        server=server, tools=[{"name": n} for n in ("get_health", "list_dbs", "drop_db")]
    )
    McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    rules = GlobalPolicy.load()
    rules.blocked_patterns = ["drop_*"]
    rules.save()
    client = McpOAuthClient.at(live_server.url)
    yield client, user
    client.http.close()


def signed_in(site):
    client, user = site
    assert client.register().status_code == 201
    assert client.login(user.email, PASSWORD).status_code == 302
    return client, user


def test_discovery_leads_from_the_resource_to_every_endpoint(site):
    client, _ = site
    resource = client.http.get("/.well-known/oauth-protected-resource/mcp").json()
    assert resource["resource"] == f"{client.base}/mcp"
    assert resource["bearer_methods_supported"] == ["header"]
    [issuer] = resource["authorization_servers"]
    server = client.http.get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == issuer == client.base  # RFC 8414 §3.3: the same string
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["response_types_supported"] == ["code"]
    assert server["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert "none" in server["token_endpoint_auth_methods_supported"]
    for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
        assert server[key].startswith(f"{client.base}/oauth/")
    assert server["revocation_endpoint"] == f"{client.base}/oauth/revoke"


def test_the_root_document_describes_mcp_and_a_profile_has_its_own(site):
    client, _ = site
    root = client.http.get("/.well-known/oauth-protected-resource").json()
    assert root["resource"] == f"{client.base}/mcp"
    profile = client.http.get("/.well-known/oauth-protected-resource/mcp/db-readonly").json()
    assert profile["resource"] == f"{client.base}/mcp/db-readonly"
    missing = client.http.get("/.well-known/oauth-protected-resource/mcp/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_a_signed_out_browser_is_sent_to_sign_in_first(site):
    client, _ = site
    client.register()
    _, challenge = pkce_pair()
    answer = client.http.get("/oauth/authorize", params=client.authorize_params(challenge))
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/oauth/login?next=/oauth/authorize")


def test_the_full_flow_gives_a_token_bearer_authenticate_accepts(site):
    client, user = signed_in(site)
    verifier, challenge = pkce_pair()
    page = client.http.get("/oauth/authorize", params=client.authorize_params(challenge))
    assert "Test MCP client" in page.text and REDIRECT_URI in page.text
    # The consent page lists what the client will get: the user's permitted tools.
    assert "get_health" in page.text and "list_dbs" in page.text and "drop_db" not in page.text
    callback = query_of(client.consent(page).headers["location"])
    assert callback["state"] == "st-123" and callback["iss"] == client.base  # RFC 9207
    tokens = client.tokens_for(verifier, callback["code"])
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    assert tokens["scope"] == "mcp"

    caller = bearer_authenticate(raw=tokens["access_token"], resource=McpResource.at(client.base))
    assert (caller.user.pk, caller.how, caller.client, caller.profile) == (
        user.pk,
        "oauth",
        "Test MCP client",
        None,
    )


def test_a_code_is_good_once_and_only_with_its_verifier(site):
    client, _ = signed_in(site)
    verifier, challenge = pkce_pair()
    code = client.code_for(challenge)["code"]
    wrong = client.token(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=pkce_pair()[0],
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = client.code_for(challenge)["code"]
    client.tokens_for(verifier, code)
    again = client.token(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("method", ["plain", None])
def test_pkce_other_than_s256_is_refused_before_consent(site, method):
    client, _ = signed_in(site)
    verifier, _ = pkce_pair()
    # No method means "plain" (RFC 7636 §4.3): the verifier itself is the challenge.
    params = client.authorize_params(None, code_challenge=verifier, code_challenge_method=method)
    answer = client.http.get("/oauth/authorize", params=params)
    assert answer.status_code == 302
    error = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(REDIRECT_URI)
    assert error["error"] == "invalid_request" and error["state"] == "st-123"


def test_an_authorization_request_without_pkce_is_refused(site):
    client, _ = signed_in(site)
    answer = client.http.get("/oauth/authorize", params=client.authorize_params(None))
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    "resource", ["http://elsewhere.example/mcp", "{base}/api", "{base}/mcp/no-such-profile"]
)
def test_a_resource_that_is_not_one_of_our_mcp_endpoints_is_refused(site, resource):
    client, _ = signed_in(site)
    _, challenge = pkce_pair()
    params = client.authorize_params(challenge, resource=resource.format(base=client.base))
    answer = client.http.get("/oauth/authorize", params=params)
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_target"


def test_without_a_resource_the_token_is_bound_to_mcp(site):
    client, _ = signed_in(site)
    verifier, challenge = pkce_pair()
    code = client.code_for(challenge, resource=None)["code"]
    tokens = client.tokens_for(verifier, code)
    assert bearer_authenticate(raw=tokens["access_token"], resource=McpResource.at(client.base))


def test_a_token_for_another_resource_is_refused(site):
    client, _ = signed_in(site)
    verifier, challenge = pkce_pair()
    tokens = client.tokens_for(verifier, client.code_for(challenge)["code"])
    raw = tokens["access_token"]
    assert bearer_authenticate(raw=raw, resource=McpResource.at(client.base)) is not None
    elsewhere = McpResource.at("https://other-omni2.example.com")
    assert bearer_authenticate(raw=raw, resource=elsewhere) is None
    # Issued for /mcp, it is good at a profile too: a profile only narrows.
    at_profile = bearer_authenticate(raw=raw, resource=McpResource.at(client.base, "db-readonly"))
    assert at_profile.profile == "db-readonly"


def test_a_token_issued_for_a_profile_is_good_only_there(site):
    client, _ = signed_in(site)
    verifier, challenge = pkce_pair()
    profile_url = f"{client.base}/mcp/db-readonly"
    page = client.http.get(
        "/oauth/authorize", params=client.authorize_params(challenge, resource=profile_url)
    )
    assert "db-readonly" in page.text and "get_health" in page.text
    assert "list_dbs" not in page.text  # the consent page lists the profile's tools only
    code = query_of(client.consent(page).headers["location"])["code"]
    raw = client.tokens_for(verifier, code, resource=profile_url)["access_token"]
    caller = bearer_authenticate(raw=raw, resource=McpResource.at(client.base, "db-readonly"))
    assert caller.profile == "db-readonly"
    assert bearer_authenticate(raw=raw, resource=McpResource.at(client.base)) is None


def test_refresh_gives_a_new_token_and_the_old_one_stops_at_once(site):
    client, _ = signed_in(site)
    verifier, challenge = pkce_pair()
    first = client.tokens_for(verifier, client.code_for(challenge)["code"])
    resource = McpResource.at(client.base)
    assert bearer_authenticate(raw=first["access_token"], resource=resource)  # memoised now
    refreshed = client.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert bearer_authenticate(raw=second["access_token"], resource=resource)
    assert bearer_authenticate(raw=first["access_token"], resource=resource) is None
    # A replayed refresh token revokes its whole family (RFC 9700 §4.14.2).
    replay = client.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replay.status_code == 400
    assert bearer_authenticate(raw=second["access_token"], resource=resource) is None


def test_a_revoked_token_is_refused_on_its_next_use(site):
    client, _ = signed_in(site)
    verifier, challenge = pkce_pair()
    tokens = client.tokens_for(verifier, client.code_for(challenge)["code"])
    resource = McpResource.at(client.base)
    assert bearer_authenticate(raw=tokens["access_token"], resource=resource)  # memoised now
    revoked = client.http.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "client_id": client.client_id}
    )
    assert revoked.status_code == 200
    assert bearer_authenticate(raw=tokens["access_token"], resource=resource) is None
    refreshed = client.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 400  # revoking the access token revoked its refresh token


def test_a_denied_consent_sends_access_denied_back(site):
    client, _ = signed_in(site)
    _, challenge = pkce_pair()
    page = client.http.get("/oauth/authorize", params=client.authorize_params(challenge))
    answer = client.consent(page, allow=False)
    assert query_of(answer.headers["location"])["error"] == "access_denied"


def test_a_tampered_resource_on_the_consent_form_is_refused_without_a_redirect(site):
    client, _ = signed_in(site)
    _, challenge = pkce_pair()
    page = client.http.get("/oauth/authorize", params=client.authorize_params(challenge))
    fields = {**hidden_inputs(page.text), "resource": "https://evil.example/mcp", "allow": "1"}
    answer = client.http.post("/oauth/authorize", data=fields)
    assert answer.status_code == 400 and "invalid_target" in answer.text


def test_a_deactivated_user_s_token_is_refused(site):
    client, user = signed_in(site)
    verifier, challenge = pkce_pair()
    raw = client.tokens_for(verifier, client.code_for(challenge)["code"])["access_token"]
    resource = McpResource.at(client.base)
    assert bearer_authenticate(raw=raw, resource=resource)
    user.is_active = False
    user.save()
    assert bearer_authenticate(raw=raw, resource=resource) is None


def test_turned_off_every_oauth_url_is_a_404(site, settings):
    client, _ = site
    settings.OMNI2_OAUTH_ENABLED = False
    for url in ("/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource"):
        assert client.http.get(url).status_code == 404
    assert client.register().status_code == 404
