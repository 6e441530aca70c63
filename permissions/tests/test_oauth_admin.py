"""OAuth clients and tokens in Django admin: revoked per user and per client, never shown."""

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken, set_token_value

from permissions.oauth import tokens
from permissions.oauth.resources import McpResource
from permissions.services import bearer_authenticate

# Transactional: outside a test's open transaction, lookups are memoised as in production, so
# these show that a revocation reaches the memo too.
pytestmark = pytest.mark.django_db(transaction=True)

BASE = "https://omni2.example.com"


@pytest.fixture(autouse=True)
def _roles(roles):
    """Transactional tests flush the seeded roles; admin_client's superuser needs them."""


def client_named(name: str) -> Application:
    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1/cb",
        client_secret="",
        hash_client_secret=False,
    )


def issue(user, client) -> str:
    """An access token with its refresh token, as the token endpoint stores them: hashed."""
    raw = secrets.token_urlsafe(30)
    access = AccessToken(
        user=user,
        application=client,
        scope="mcp",
        expires=timezone.now() + timedelta(hours=1),
        resource=[f"{BASE}/mcp"],
    )
    set_token_value(access, raw)
    access.save()
    refresh = RefreshToken(user=user, application=client, access_token=access)
    set_token_value(refresh, secrets.token_urlsafe(30))
    refresh.save()
    return raw


def works(raw: str) -> bool:
    return bearer_authenticate(raw=raw, resource=McpResource.at(BASE)) is not None


def test_tokens_are_stored_hashed_only(make_user):
    raw = issue(make_user(), client_named("Claude Code"))
    stored = AccessToken.objects.values().get()
    assert all(raw not in str(value) for value in stored.values())
    assert stored["token"] == ""


def test_an_admin_revokes_every_token_of_a_user(admin_client, make_user):
    ann, bob, claude = make_user(), make_user(), client_named("Claude Code")
    anns, bobs = issue(ann, claude), issue(bob, claude)
    assert works(anns) and works(bobs)
    response = admin_client.post(
        "/admin/permissions/user/",
        {"action": "revoke_oauth_tokens", "_selected_action": [ann.pk]},
    )
    assert response.status_code == 302
    assert not works(anns) and works(bobs)
    assert not RefreshToken.objects.filter(user=ann, revoked__isnull=True).exists()


def test_an_admin_revokes_every_token_of_a_client(admin_client, make_user):
    user, claude, cursor = make_user(), client_named("Claude Code"), client_named("Cursor")
    by_claude, by_cursor = issue(user, claude), issue(user, cursor)
    response = admin_client.post(
        "/admin/oauth2_provider/application/",
        {"action": "revoke_all_tokens", "_selected_action": [claude.pk]},
    )
    assert response.status_code == 302
    assert not works(by_claude) and works(by_cursor)


def test_a_deleted_client_s_tokens_stop_working(make_user):
    user, claude = make_user(), client_named("Claude Code")
    raw = issue(user, claude)
    assert works(raw)
    claude.delete()
    assert not works(raw)


def test_an_expired_token_is_refused_though_memoised(make_user, monkeypatch):
    raw = issue(make_user(), client_named("Claude Code"))
    assert works(raw)
    assert tokens._tokens  # memoised
    later = (timezone.now() + timedelta(hours=1, seconds=1)).timestamp()
    monkeypatch.setattr(tokens, "_clock", lambda: later)
    assert not works(raw)


@pytest.mark.parametrize("model", ["accesstoken", "refreshtoken", "application", "grant"])
def test_the_oauth_pages_render_and_show_no_token(admin_client, make_user, model):
    user, claude = make_user(), client_named("Claude Code")
    raw = issue(user, claude)
    listing = admin_client.get(f"/admin/oauth2_provider/{model}/", {"q": "Claude"})
    assert listing.status_code == 200 and raw not in listing.content.decode()
    if model in ("accesstoken", "refreshtoken"):
        row = (AccessToken if model == "accesstoken" else RefreshToken).objects.get()
        page = admin_client.get(f"/admin/oauth2_provider/{model}/{row.pk}/change/")
        assert page.status_code == 200
        assert row.token_checksum not in page.content.decode()
        assert 'name="token"' not in page.content.decode()


def test_bearer_memoised_answers_from_memory_under_the_version_it_was_built(make_user):
    from permissions.models import McpProfile
    from permissions.policy.snapshot import policy_version
    from permissions.services import api_key_create, bearer_memoised

    user, claude = make_user(), client_named("Claude Code")
    token = issue(user, claude)
    profile = McpProfile.objects.create(name="db-readonly", tools=["database_mcp.get_*"])
    _, key = api_key_create(user=user, name="ci", profile=profile)
    resource = McpResource.at(BASE)
    assert bearer_memoised(raw=token, resource=resource) is None  # nothing memoised yet
    assert bearer_memoised(raw=key, resource=resource) is None
    assert works(token) and works(key)  # fills the memos

    version, caller = bearer_memoised(raw=token, resource=resource)
    assert version == policy_version() and (caller.how, caller.client) == ("oauth", "Claude Code")
    version, caller = bearer_memoised(raw=key, resource=resource)
    assert version == policy_version() and (caller.how, caller.profile) == (
        "api_key",
        "db-readonly",
    )
    assert bearer_memoised(raw=key, resource=McpResource.at(BASE, "other")) is None

    tokens_revoked = tokens.oauth_tokens_revoke(user=user)
    assert tokens_revoked == 1
    stale = bearer_memoised(raw=token, resource=resource)
    assert stale is None or stale[0] != policy_version()  # the caller sees it is stale
