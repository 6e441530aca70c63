"""POST /oauth/register (RFC 7591): public clients, checked redirect URIs, bounded."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import Application

pytestmark = pytest.mark.django_db

GOOD = "http://127.0.0.1:33418/callback"


@pytest.fixture(autouse=True)
def fresh_counters():
    from django.core.cache import cache

    cache.clear()  # the per-address counter lives in the cache


def register(client, **body):
    return client.post("/oauth/register", {"redirect_uris": [GOOD], **body}, "application/json")


def test_a_public_client_registers_and_gets_no_secret(client):
    response = register(client, client_name="Claude Code", token_endpoint_auth_method="none")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["redirect_uris"] == [GOOD] and body["client_name"] == "Claude Code"
    assert response["Cache-Control"].startswith("max-age=0")
    stored = Application.objects.get(client_id=body["client_id"])
    assert (stored.client_type, stored.authorization_grant_type) == ("public", "authorization-code")


@pytest.mark.parametrize(
    "uri",
    [
        "https://claude.ai/api/mcp/auth_callback",
        "http://localhost:6274/oauth/callback",
        "http://[::1]:8080/cb",
        "http://127.0.0.1/cb",
    ],
)
def test_https_and_loopback_http_redirect_uris_are_accepted(client, uri):
    assert register(client, redirect_uris=[uri]).status_code == 201


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/callback",  # http off the loopback interface
        "http://10.0.0.5/callback",
        "https://client.example/cb#frag",
        "https://user:pw@client.example/cb",
        "javascript:alert(1)",
        "cursor://anysphere.cursor-retrieval/oauth/callback",  # not configured
        "/relative/callback",
        "https://bad port:x/cb",
    ],
)
def test_other_redirect_uris_are_an_invalid_redirect_uri(client, uri):
    response = register(client, redirect_uris=[uri])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert response.json()["error_description"]
    assert not Application.objects.exists()


def test_a_configured_private_use_scheme_is_accepted(client, settings):
    settings.OMNI2_OAUTH_EXTRA_REDIRECT_SCHEMES = ["cursor"]
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", "cursor"],
    }
    uri = "cursor://anysphere.cursor-retrieval/oauth/callback"
    assert register(client, redirect_uris=[uri]).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"grant_types": ["client_credentials"]},
        {"grant_types": ["refresh_token"]},
        {"grant_types": "authorization_code"},
        {"response_types": ["token"]},
        {"client_name": 42},
        {"client_name": "x" * 101},
    ],
)
def test_metadata_it_cannot_honour_is_invalid_client_metadata(client, body):
    response = register(client, **body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


@pytest.mark.parametrize(
    "payload", [b"not json", b"[]", b"null", b'{"redirect_uris": []}', b'{"redirect_uris": [1]}']
)
def test_a_body_that_is_not_client_metadata_is_a_400_in_rfc_7591_shape(client, payload):
    response = client.post("/oauth/register", payload, "application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "error_description"}


def test_registrations_are_limited_per_address_an_hour(client, settings):
    settings.OMNI2_OAUTH_REGISTRATIONS_PER_HOUR = 2
    assert [register(client).status_code for _ in range(2)] == [201, 201]
    refused = register(client)
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert Application.objects.count() == 2


def test_clients_that_never_signed_in_are_capped_and_pruned_after_a_day(client, settings):
    settings.OMNI2_OAUTH_MAX_PENDING_CLIENTS = 1
    assert register(client).status_code == 201
    assert register(client).status_code == 429  # one pending client already
    Application.objects.update(created=timezone.now() - timedelta(days=2))
    assert register(client).status_code == 201  # the stale one was removed
    assert Application.objects.count() == 1
