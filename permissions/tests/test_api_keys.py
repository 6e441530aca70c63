import pytest
from django.core.management import call_command

from permissions.models import ApiKey, Role
from permissions.policy.snapshot import policy_version
from permissions.services import (
    api_key_authenticate,
    api_key_create,
    api_key_memoised,
    api_key_revoke,
)

pytestmark = pytest.mark.django_db


def assert_unauthenticated(response):
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_missing_key_is_a_401(api_client):
    assert_unauthenticated(api_client.get("/api/me"))


def test_a_wrong_key_is_a_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer omni2_deadbeef_notarealkeyatallnotarealkey")
    assert_unauthenticated(api_client.get("/api/me"))


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer a b", "Basic Zm9vOmJhcg=="])
def test_a_malformed_authorization_header_is_a_401(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert_unauthenticated(api_client.get("/api/me"))


def test_a_good_key_works(api_client, make_user):
    user = make_user(role="dba", name="Dee")
    _, raw = api_key_create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api_client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["email"] == user.email
    assert response.json()["role"] == "dba"


def test_a_revoked_key_is_a_401(api_client, make_user):
    key, raw = api_key_create(user=make_user())
    api_key_revoke(key=key)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_unauthenticated(api_client.get("/api/me"))


def test_an_inactive_users_key_is_a_401(api_client, make_user):
    user = make_user()
    _, raw = api_key_create(user=user)
    user.is_active = False
    user.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_unauthenticated(api_client.get("/api/me"))


def test_no_key_is_stored_in_plain_text(make_user):
    key, raw = api_key_create(user=make_user())
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert all(raw not in str(value) for value in stored.values())
    secret_part = raw.rsplit("_", 1)[1]
    assert all(secret_part not in str(value) for value in stored.values())


def test_create_api_key_prints_the_key_as_its_last_line(make_user, capsys, api_client):
    user = make_user()
    call_command("create_api_key", "--email", user.email)
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/me").json()["email"] == user.email


def test_the_seeded_roles_exist_with_their_limits():
    limits = dict(Role.objects.values_list("name", "requests_per_hour"))
    assert limits["super_admin"] is None and limits["admin"] is None
    assert limits["dba"] == 200 and limits["senior_dev"] == 150 and limits["power_user"] == 100
    assert limits["junior_dba"] == 50 and limits["read_only"] == 30 and limits["contractor"] == 20
    assert {"qa_tester", "developer", "analyst"} <= set(limits)
    assert Role.objects.get(name="admin").is_admin
    assert Role.objects.get(name="super_admin").is_super_admin


@pytest.mark.django_db(transaction=True)
def test_a_key_revoked_after_it_was_used_stops_working_at_once(make_user):
    key, raw = api_key_create(user=make_user())
    assert api_key_authenticate(raw=raw) is not None  # now memoised in this process
    assert api_key_authenticate(raw=raw) is not None
    api_key_revoke(key=key)
    assert api_key_authenticate(raw=raw) is None


@pytest.mark.django_db(transaction=True)
def test_a_used_key_costs_no_query_until_the_policy_changes(make_user, django_assert_num_queries):
    user = make_user()
    key, raw = api_key_create(user=user)
    assert api_key_memoised(raw=raw) is None  # nothing memoised before the first check
    with django_assert_num_queries(2):  # the lookup and the last_used_at write
        assert api_key_authenticate(raw=raw).pk == user.pk
    with django_assert_num_queries(0):  # memoised, and last_used_at written less than 60 s ago
        assert api_key_authenticate(raw=raw).pk == user.pk
    token, memoised = api_key_memoised(raw=raw)
    assert token == policy_version() and memoised.pk == user.pk
    key.refresh_from_db()
    assert key.last_used_at is not None

    api_key_create(user=make_user())  # any policy row change: a new token, a new lookup
    with django_assert_num_queries(2):
        assert api_key_authenticate(raw=raw).pk == user.pk


@pytest.mark.django_db(transaction=True)
def test_what_a_caller_does_to_its_user_never_reaches_the_memo(make_user):
    key, raw = api_key_create(user=make_user())
    first = api_key_authenticate(raw=raw)  # the call that fills the memo
    first.seen_by = "a view"
    assert not hasattr(api_key_authenticate(raw=raw), "seen_by")
    assert not hasattr(api_key_memoised(raw=raw)[1], "seen_by")


def test_an_unknown_key_is_not_memoised(make_user):
    raw = api_key_create(user=make_user())[1]
    unknown = raw[:-4] + ("aaaa" if not raw.endswith("aaaa") else "bbbb")
    assert api_key_authenticate(raw=unknown) is None and api_key_memoised(raw=unknown) is None


def test_a_key_added_in_admin_is_shown_once_on_its_page_and_kept_nowhere(
    admin_client, make_user, api_client
):
    from django.contrib.messages import get_messages

    user = make_user(role="dba")
    response = admin_client.post(
        "/admin/permissions/apikey/add/", {"user": user.pk, "name": "laptop"}
    )

    assert response.status_code == 200, response.content
    body = response.content.decode()
    raw = body.split('id="new-api-key" value="', 1)[1].split('"', 1)[0]
    assert raw.startswith("omni2_") and body.count(raw) == 1
    assert "no-store" in response["Cache-Control"]
    # Not in a message, a cookie or the session: nothing keeps it after this response.
    assert [m.message for m in get_messages(response.wsgi_request)] == []
    assert all(raw not in morsel.value for morsel in response.cookies.values())
    assert all(raw not in str(value) for value in admin_client.session.values())
    assert raw not in admin_client.get("/admin/permissions/apikey/").content.decode()
    key = ApiKey.objects.get(user=user)
    assert (
        raw not in admin_client.get(f"/admin/permissions/apikey/{key.pk}/change/").content.decode()
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/me").json()["email"] == user.email
