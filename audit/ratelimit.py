"""Sliding-window rate limits, atomic across every process (SPEC §7).

A backend class per store (Zulip's rate limiter style): with ``REDIS_URL`` one Lua script
trims, counts and records a hit in a sorted set, so the whole check is a single atomic round
trip. Without Redis, or while Redis cannot be asked, the database holds the hits and a
transaction serialises the check per key. There is never a per-process counter: the web
process and the worker always share one count. If no store can be asked the request is
refused (503): the limiter fails closed.

During a Redis outage the database count is authoritative (Redis's count from before the
outage cannot be read, so a key may get up to one extra limit in that window). When Redis
answers again, the hits the database counted are carried into Redis and keep counting for
the rest of their window: an outage never resets a key's count once Redis is back.

A refused attempt is not recorded, so hammering a full window does not extend the lockout.
"""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import NoScriptError, RedisError

from core.errors import ApiError, ServiceUnavailable
from core.outages import outages
from permissions.models import Role
from permissions.selectors import user_policy_for

from .models import RateLimitHit, Status
from .services import audit_record


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    allowed: bool
    used: int
    limit: int | None  # None: unlimited
    retry_after_seconds: int  # 0 when allowed


UNLIMITED = RateLimitResult(allowed=True, used=0, limit=None, retry_after_seconds=0)

# KEYS[1] sorted set of hits (score = ms); ARGV: window ms, limit, unique member.
# Redis's own clock, so web hosts with drifting clocks still share one window.
_LUA = """
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local retry = window
  if oldest[2] then retry = tonumber(oldest[2]) + window - now end
  return {0, used, retry}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, used + 1, 0}
"""
_LUA_SHA = hashlib.sha1(_LUA.encode()).hexdigest()
# The same, counted only while the policy a process compiled is still the live one: KEYS[2] is
# the cache's policy version, ARGV[4] its stored bytes. One round trip does both checks.
_GUARDED_LUA = "if redis.call('GET', KEYS[2]) ~= ARGV[4] then return {-1, 0, 0} end\n" + _LUA
_GUARDED_LUA_SHA = hashlib.sha1(_GUARDED_LUA.encode()).hexdigest()
_ADVISORY_NAMESPACE = 0x0A0D17  # first half of the two-int advisory lock key: "ours"


def redis_key(key: str) -> str:
    return f"omni2:ratelimit:{key}"


def _redis_result(reply, limit: int) -> RateLimitResult:
    allowed, used, retry_ms = reply
    return _result(bool(allowed), int(used), limit, int(retry_ms) / 1000)


async def _redis_ahit_guarded(
    client, key: str, limit: int, window_seconds: int, guard: tuple[str, bytes]
) -> RateLimitResult | None:
    # KEYS: the hits, the policy version; ARGV: the plain script's three, then the expected version.
    args = (
        2,
        redis_key(key),
        guard[0],
        window_seconds * 1000,
        limit,
        secrets.token_hex(8),
        guard[1],
    )
    try:
        reply = await client.evalsha(_GUARDED_LUA_SHA, *args)
    except NoScriptError:
        await client.script_load(_GUARDED_LUA)
        reply = await client.evalsha(_GUARDED_LUA_SHA, *args)
    return None if reply[0] == -1 else _redis_result(reply, limit)


def _lock_key(key: str, *, own_transaction: bool) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE)
    # Hits are short-lived: losing the last few hundred ms of them in a database crash only
    # lets a request or two through, so our own commit need not wait for the WAL flush.
    # Never inside a caller's transaction, whose other writes may matter more.
    sql = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
    if own_transaction:
        sql += ", set_config('synchronous_commit', 'off', true)"
    with connection.cursor() as cursor:
        cursor.execute(sql, [_ADVISORY_NAMESPACE, key])


def _result(allowed: bool, used: int, limit: int, retry_seconds: float) -> RateLimitResult:
    retry = 0 if allowed else max(math.ceil(retry_seconds), 1)
    return RateLimitResult(allowed=allowed, used=used, limit=limit, retry_after_seconds=retry)


class RateLimiterBackend:
    """Where hits are counted. ``hit`` raises one of ``unavailable`` when the store cannot be asked;
    ``meanwhile`` says in the log what happens then."""

    name: str
    unavailable: tuple[type[Exception], ...]
    meanwhile: str

    def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitResult:
        raise NotImplementedError


class RedisBackend(RateLimiterBackend):
    """One Lua script: trim, count and record in a sorted set, in a single atomic round trip."""

    name = "the rate limiter's Redis"
    unavailable = (RedisError,)
    meanwhile = "rate limits are counted in the database"

    def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitResult:
        client = get_redis_connection("default")
        args = (1, redis_key(key), window_seconds * 1000, limit, secrets.token_hex(8))
        try:
            reply = client.evalsha(_LUA_SHA, *args)
        except NoScriptError:  # first use, or Redis restarted: load once, then EVALSHA again
            client.script_load(_LUA)
            reply = client.evalsha(_LUA_SHA, *args)
        return _redis_result(reply, limit)

    def hand_back(self, window_seconds: int) -> None:
        """Carry the hits the database counted during an outage into Redis, so they keep counting
        for the rest of their window. Members are named after the row, so two processes handing
        the same rows back add them once."""
        cutoff = timezone.now() - timedelta(seconds=window_seconds)
        rows = list(RateLimitHit.objects.filter(at__gt=cutoff).values_list("pk", "key", "at"))
        if rows:
            pipe = get_redis_connection("default").pipeline(transaction=False)
            for pk, key, at in rows:
                pipe.zadd(redis_key(key), {f"db:{pk}": int(at.timestamp() * 1000)})
                pipe.pexpire(redis_key(key), window_seconds * 1000)
            pipe.execute()
        RateLimitHit.objects.filter(pk__in=[row[0] for row in rows]).delete()
        RateLimitHit.objects.filter(at__lte=cutoff).delete()


class DatabaseBackend(RateLimiterBackend):
    """A transaction serialises the check per key: PostgreSQL takes an advisory lock on the key,
    SQLite's IMMEDIATE transactions (settings) take the write lock at BEGIN."""

    name = "the rate limiter's database"
    unavailable = (DatabaseError,)
    meanwhile = "requests that need a rate-limit check are refused (503)"

    def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitResult:
        own_transaction = not connection.in_atomic_block
        with transaction.atomic():
            _lock_key(key, own_transaction=own_transaction)
            now = timezone.now()
            RateLimitHit.objects.filter(
                key=key, at__lte=now - timedelta(seconds=window_seconds)
            ).delete()
            hits = RateLimitHit.objects.filter(key=key)
            used = hits.count()
            if used >= limit:
                oldest = hits.order_by("at").values_list("at", flat=True).first()
                retry = (
                    (oldest - now).total_seconds() + window_seconds if oldest else window_seconds
                )
                return _result(False, used, limit, retry)
            RateLimitHit.objects.create(key=key, at=now)
            return _result(True, used + 1, limit, 0)


REDIS, DATABASE = RedisBackend(), DatabaseBackend()
# Set when this process counted in the database because Redis could not be asked; the first
# Redis answer after that hands those hits back (RedisBackend.hand_back).
_hand_back_due = False


def _backends() -> tuple[RateLimiterBackend, ...]:
    """Redis first when there is one, the database when it cannot be asked (or alone)."""
    return (REDIS, DATABASE) if settings.REDIS_URL else (DATABASE,)


def rate_limit_hit(*, key: str, limit: int | None, window_seconds: int = 3600) -> RateLimitResult:
    """Count one attempt for ``key`` unless ``limit`` attempts already fall in the window.

    Raises ServiceUnavailable (503) when no backend can be asked: an uncounted request never runs.
    """
    if limit is None:
        return UNLIMITED
    for backend in _backends():
        try:
            result = backend.hit(key, limit, window_seconds)
        except backend.unavailable as exc:
            outages.down(backend.name, exc, meanwhile=backend.meanwhile)
            continue
        _note_success(backend, window_seconds)
        return result
    raise ServiceUnavailable(
        "OMNI2 cannot count requests against rate limits right now; please try again shortly."
    )


def _note_success(backend: RateLimiterBackend, window_seconds: int) -> None:
    global _hand_back_due
    outages.up(backend.name)
    if backend is DATABASE:
        _hand_back_due = _hand_back_due or bool(settings.REDIS_URL)
    elif _hand_back_due:
        try:
            REDIS.hand_back(max(window_seconds, settings.OMNI2_RATE_LIMIT_WINDOW_SECONDS))
            _hand_back_due = False
        except (*REDIS.unavailable, *DATABASE.unavailable):
            pass  # tried again after the next Redis answer


def _user_limit(user) -> tuple[str, int | None]:
    """The key and hourly limit of ``user``'s role; admins and super admins are unlimited."""
    role = user.role
    limit = None if role.is_admin or role.is_super_admin else role.requests_per_hour
    return f"user:{user.pk}", limit


def _stranger_limit(key: str) -> tuple[str, int | None]:
    """A caller with no account acts as the policy's default user, in a window of its own
    (``key``): the default role's hourly limit, unlimited when that role is privileged or gone."""
    policy = user_policy_for(None)
    role = Role.objects.filter(name=policy.role).first()
    return key, None if policy.is_privileged or role is None else role.requests_per_hour


def rate_limit_user(*, user) -> RateLimitResult:
    """The role's hourly limit for ``user``; admins and super admins are unlimited."""
    key, limit = _user_limit(user)
    return rate_limit_hit(
        key=key, limit=limit, window_seconds=settings.OMNI2_RATE_LIMIT_WINDOW_SECONDS
    )


async def rate_limit_auser(redis, *, user, guard: tuple[str, bytes]) -> RateLimitResult | None:
    """``rate_limit_user`` for code on an event loop, on ``redis`` (a ``redis.asyncio`` client of
    the same server): the same script, key and window, so both paths share one count.

    ``guard`` is (key, value): the hit is counted, in the same round trip, only while that key
    holds that value (the policy version the caller checked its user against); None when it
    does not, or when Redis cannot be asked, and then nothing was counted.
    """
    key, limit = _user_limit(user)
    try:
        if limit is None:
            return UNLIMITED if await redis.get(guard[0]) == guard[1] else None
        return await _redis_ahit_guarded(
            redis, key, limit, settings.OMNI2_RATE_LIMIT_WINDOW_SECONDS, guard
        )
    except RedisError as exc:
        outages.down(
            REDIS.name,
            exc,
            meanwhile="calls on the event loop are handed to Django, which counts in the database",
        )
        return None


def rate_limit_message(result: RateLimitResult) -> str:
    minutes = max(math.ceil(result.retry_after_seconds / 60), 1)
    return (
        f"🚫 Rate limit exceeded. {result.used}/{result.limit} requests used. "
        f"Try again in {minutes} minutes."
    )


class RateLimited(ApiError):
    """429 with ``Retry-After``; ``result`` and ``audit_id`` let Slack answer in its own words."""

    status_code = 429
    default_code = "rate_limited"

    def __init__(self, result: RateLimitResult, *, audit_id: int | None = None):
        super().__init__(
            rate_limit_message(result),
            headers={"Retry-After": str(result.retry_after_seconds)},
            extra={
                "limit": result.limit,
                "used": result.used,
                "retry_after_seconds": result.retry_after_seconds,
                "audit_id": audit_id,
            },
        )
        self.result, self.audit_id = result, audit_id


def rate_limit_enforce(
    *,
    user,
    source: str,
    message: str,
    slack: dict | None = None,
    ip_address: str | None = None,
    request_id: str = "",
    request_record=None,
    stranger_key: str | None = None,
) -> RateLimitResult:
    """Count this request against ``user``'s limit; on refusal audit it (as the outcome of
    ``request_record`` when the request was recorded first) and raise RateLimited.

    ``user`` None is a caller with no account (an unknown Slack user), counted as the default
    user under ``stranger_key`` (e.g. ``slack:U123``), so each stranger has a window of its own.
    """
    if user is None and not stranger_key:
        raise ValueError("a caller with no account is counted under a stranger_key")
    key, limit = _user_limit(user) if user is not None else _stranger_limit(stranger_key)
    result = rate_limit_hit(
        key=key, limit=limit, window_seconds=settings.OMNI2_RATE_LIMIT_WINDOW_SECONDS
    )
    if result.allowed:
        return result
    log = audit_record(
        user=user,
        source=source,
        message=message,
        slack=slack,
        ip_address=ip_address,
        request_id=request_id,
        request_record=request_record,
        **rate_limited_audit(result),
    )
    raise RateLimited(result, audit_id=log.pk)


def rate_limited_audit(result: RateLimitResult) -> dict:
    """The audit fields of a request refused by the limiter (either path)."""
    return {"status": Status.RATE_LIMITED, "error": rate_limit_message(result)}
