from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog, RateLimitHit
from audit.ratelimit import (
    RateLimited,
    RateLimitResult,
    rate_limit_enforce,
    rate_limit_hit,
    rate_limit_message,
    rate_limit_user,
    redis_key,
)
from permissions.models import GlobalPolicy, Role

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    """Each test runs against the database limiter and, when REDIS_URL is set, the Redis one."""
    if request.param == "database":
        settings.REDIS_URL = ""
        yield request.param
        return
    client = request.getfixturevalue("redis_client")
    forget_user_keys(client)  # user ids repeat between test runs
    yield request.param
    forget_user_keys(client)


def forget_user_keys(client):
    for key in client.scan_iter(redis_key("user:*")):
        client.delete(key)


def add_old_hit(backend, key, *, seconds_ago):
    """A hit recorded ``seconds_ago`` seconds in the past, straight into the limiter's storage."""
    if backend == "database":
        RateLimitHit.objects.create(key=key, at=timezone.now() - timedelta(seconds=seconds_ago))
        return
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    client.zadd(redis_key(key), {f"old-{seconds_ago}": now_ms - seconds_ago * 1000})


def stored_hits(backend, key) -> int:
    if backend == "database":
        return RateLimitHit.objects.filter(key=key).count()
    from django_redis import get_redis_connection

    return get_redis_connection("default").zcard(redis_key(key))


def test_it_admits_up_to_the_limit_then_refuses(backend, limiter_key):
    key = limiter_key()
    results = [rate_limit_hit(key=key, limit=3) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.used for r in results] == [1, 2, 3, 3, 3]
    assert all(r.limit == 3 for r in results)
    assert results[0].retry_after_seconds == 0
    assert 3500 < results[3].retry_after_seconds <= 3600


def test_a_refused_attempt_is_not_recorded(backend, limiter_key):
    key = limiter_key()
    for _ in range(10):
        rate_limit_hit(key=key, limit=2)
    assert stored_hits(backend, key) == 2


def test_keys_are_counted_apart(backend, limiter_key):
    first, second = limiter_key(), limiter_key()
    assert rate_limit_hit(key=first, limit=1).allowed
    assert rate_limit_hit(key=second, limit=1).allowed
    assert not rate_limit_hit(key=first, limit=1).allowed


def test_hits_older_than_the_window_stop_counting(backend, limiter_key):
    key = limiter_key()
    add_old_hit(backend, key, seconds_ago=3601)
    add_old_hit(backend, key, seconds_ago=7200)
    add_old_hit(backend, key, seconds_ago=3000)  # still inside the hour
    result = rate_limit_hit(key=key, limit=2)
    assert (result.allowed, result.used) == (True, 2)
    assert not rate_limit_hit(key=key, limit=2).allowed
    assert stored_hits(backend, key) == 2  # the expired hits were dropped


def test_retry_after_is_when_the_oldest_hit_leaves_the_window(backend, limiter_key):
    key = limiter_key()
    add_old_hit(backend, key, seconds_ago=3600 - 120)
    rate_limit_hit(key=key, limit=2)
    refused = rate_limit_hit(key=key, limit=2)
    assert not refused.allowed
    assert 115 <= refused.retry_after_seconds <= 121


def test_a_shorter_window_is_honoured(backend, limiter_key):
    key = limiter_key()
    add_old_hit(backend, key, seconds_ago=61)
    assert rate_limit_hit(key=key, limit=1, window_seconds=60).allowed
    assert not rate_limit_hit(key=key, limit=1, window_seconds=60).allowed


def test_a_zero_limit_refuses_everything(backend, limiter_key):
    result = rate_limit_hit(key=limiter_key(), limit=0)
    assert (result.allowed, result.used, result.retry_after_seconds) == (False, 0, 3600)


def test_no_limit_means_unlimited_and_stores_nothing(backend, limiter_key):
    key = limiter_key()
    results = [rate_limit_hit(key=key, limit=None) for _ in range(50)]
    assert all(r.allowed and r.limit is None for r in results)
    assert stored_hits(backend, key) == 0


def test_a_user_gets_their_roles_limit(backend, make_user):
    user = make_user(role="contractor")
    results = [rate_limit_user(user=user) for _ in range(21)]
    assert [r.allowed for r in results].count(True) == 20
    assert (results[-1].used, results[-1].limit) == (20, 20)


@pytest.mark.parametrize("role", ["admin", "super_admin"])
def test_admins_are_unlimited(backend, make_user, role):
    user = make_user(role=role)
    assert all(rate_limit_user(user=user).limit is None for _ in range(5))


SLACK = {"user_id": "U0STRANGER", "channel": "C0X", "message_ts": "1.1", "thread_ts": "1.1"}


def ask_as_stranger(key: str, message: str = "hi") -> RateLimitResult:
    return rate_limit_enforce(
        user=None, stranger_key=key, source="slack", message=message, slack=SLACK
    )


def default_role_set(name: str | None) -> None:
    policy = GlobalPolicy.load()
    policy.default_role = Role.objects.get(name=name) if name else None
    policy.save()


def test_an_unknown_caller_gets_the_default_roles_limit_in_a_window_of_its_own(
    backend, roles, limiter_key
):
    stranger, other = limiter_key(), limiter_key()
    assert all(ask_as_stranger(stranger).allowed for _ in range(30))  # read_only: 30 an hour
    with pytest.raises(RateLimited) as refused:
        ask_as_stranger(stranger, "one more")
    assert (refused.value.result.used, refused.value.result.limit) == (30, 30)
    assert ask_as_stranger(other).allowed  # another unknown caller counts apart
    log = AuditLog.objects.get()
    assert (log.user_id, log.source, log.message, log.status) == (
        None,
        "slack",
        "one more",
        "rate_limited",
    )
    assert log.error == rate_limit_message(refused.value.result) == refused.value.message
    assert (log.slack_user_id, log.slack_channel) == ("U0STRANGER", "C0X")
    assert refused.value.audit_id == log.pk


def test_an_unknown_caller_takes_the_configured_default_roles_limit(backend, roles, limiter_key):
    default_role_set("contractor")
    key = limiter_key()
    assert all(ask_as_stranger(key).allowed for _ in range(20))
    with pytest.raises(RateLimited):
        ask_as_stranger(key)


def test_an_unknown_caller_is_unlimited_when_the_default_role_is_an_admin(
    backend, roles, limiter_key
):
    default_role_set("admin")
    key = limiter_key()
    assert all(ask_as_stranger(key).limit is None for _ in range(40))
    assert stored_hits(backend, key) == 0
    assert not AuditLog.objects.exists()


def test_a_known_user_is_counted_as_themselves_whatever_the_stranger_key(
    backend, make_user, limiter_key
):
    user = make_user(role="contractor")
    key = limiter_key()
    results = [
        rate_limit_enforce(user=user, stranger_key=key, source="slack", message="hi")
        for _ in range(20)
    ]
    assert results[-1].used == 20 and stored_hits(backend, key) == 0
    with pytest.raises(RateLimited):
        rate_limit_enforce(user=user, stranger_key=key, source="slack", message="hi")
    assert AuditLog.objects.get().user_id == user.pk


def test_a_caller_with_no_account_and_no_key_is_refused_as_a_programming_error(roles):
    with pytest.raises(ValueError):
        rate_limit_enforce(user=None, source="slack", message="hi")


def test_the_slack_text_is_exact():
    result = RateLimitResult(allowed=False, used=20, limit=20, retry_after_seconds=47 * 60 - 30)
    assert rate_limit_message(result) == (
        "🚫 Rate limit exceeded. 20/20 requests used. Try again in 47 minutes."
    )


@pytest.mark.parametrize(("seconds", "minutes"), [(1, 1), (60, 1), (61, 2), (3600, 60)])
def test_the_slack_text_rounds_minutes_up(seconds, minutes):
    result = RateLimitResult(allowed=False, used=5, limit=5, retry_after_seconds=seconds)
    assert rate_limit_message(result).endswith(f"Try again in {minutes} minutes.")


@pytest.mark.urls("audit.tests.urls")
def test_a_refusal_is_a_429_with_retry_after_and_an_audit_row(backend, authed_client):
    client = authed_client(role="contractor")
    for _ in range(20):
        assert client.post("/ask", {"message": "hi"}, format="json").status_code == 200
    response = client.post("/ask", {"message": "one more"}, format="json")
    assert response.status_code == 429
    assert 3500 < int(response["Retry-After"]) <= 3600
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"].startswith("🚫 Rate limit exceeded. 20/20 requests used. Try again in ")
    log = AuditLog.objects.get()
    assert (log.status, log.message, log.user_id, error["audit_id"]) == (
        "rate_limited",
        "one more",
        client.user.pk,
        log.pk,
    )
    assert log.ip_address == "127.0.0.1"


@pytest.mark.urls("audit.tests.urls")
def test_an_admin_is_never_refused(backend, authed_client):
    client = authed_client(role="admin")
    assert all(client.post("/ask", {}, format="json").status_code == 200 for _ in range(40))


@pytest.fixture
def redis_down(settings):
    """The limiter's Redis (the cache) on a closed port; the database stays up."""
    settings.REDIS_URL or pytest.skip("without REDIS_URL the database is the limiter's only store")
    from testing.outages import redis_unreachable

    redis_unreachable(settings)


@pytest.fixture
def outage_clock(monkeypatch):
    """The outage log's clock, moved by hand: ``outage_clock.now += 61``."""
    from core.outages import outages

    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(outages, "clock", lambda: clock.now)
    monkeypatch.setattr(outages, "_last_logged", {})
    return clock


def test_with_redis_unreachable_the_database_counts_and_refuses_the_21st_call(
    redis_down, make_user
):
    user = make_user(role="contractor")
    results = [rate_limit_user(user=user) for _ in range(21)]
    assert [r.allowed for r in results] == [True] * 20 + [False]
    assert (results[-1].used, results[-1].limit) == (20, 20)
    assert RateLimitHit.objects.filter(key=f"user:{user.pk}").count() == 20


@pytest.mark.urls("audit.tests.urls")
def test_with_redis_unreachable_the_21st_request_is_a_429_audited_rate_limited(
    redis_down, authed_client
):
    client = authed_client(role="contractor")
    assert all(
        client.post("/ask", {"message": "hi"}, format="json").status_code == 200 for _ in range(20)
    )
    response = client.post("/ask", {"message": "one more"}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert AuditLog.objects.get().status == "rate_limited"


def test_redis_being_down_is_logged_once_a_minute_without_a_traceback(
    limiter_key, redis_down, outage_clock, caplog
):
    key = limiter_key()
    for _ in range(5):
        rate_limit_hit(key=key, limit=100)
    outage_clock.now += 59
    rate_limit_hit(key=key, limit=100)
    lines = [r for r in caplog.records if r.name == "core.outages"]
    assert len(lines) == 1
    assert lines[0].getMessage() == (
        "the rate limiter's Redis is unavailable (ConnectionError); "
        "rate limits are counted in the database"
    )
    assert lines[0].exc_info is None
    outage_clock.now += 2
    rate_limit_hit(key=key, limit=100)
    assert len([r for r in caplog.records if r.name == "core.outages"]) == 2


def test_hits_counted_in_the_database_during_an_outage_still_count_when_redis_is_back(
    backend, settings, make_user
):
    if backend != "redis":
        pytest.skip("an outage of Redis needs Redis")
    user = make_user(role="contractor")
    saved = settings.REDIS_URL, settings.CACHES
    from testing.outages import redis_unreachable

    redis_unreachable(settings)
    assert all(rate_limit_user(user=user).allowed for _ in range(15))
    settings.REDIS_URL, settings.CACHES = saved
    results = [rate_limit_user(user=user) for _ in range(6)]
    assert [r.allowed for r in results] == [True] * 5 + [False]
    assert results[-1].used == 20
    assert not RateLimitHit.objects.exists()  # handed to Redis, not counted twice


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's")
def test_the_database_limiter_leaves_a_callers_transaction_durable(database_limiter, limiter_key):
    assert rate_limit_hit(key=limiter_key(), limit=5).allowed  # inside this test's transaction
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
