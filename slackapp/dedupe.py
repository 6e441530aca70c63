"""Claim a Slack delivery once, across processes: a retry never causes a second answer.

A delivery is *claimed* on receipt (atomic set-if-absent), *released* when it could
not be queued or its task failed before answering (so Slack's retry answers it), and
*marked done* once answered. With ``REDIS_URL`` the claim is ``SET NX EX`` through
django-redis; without it, a row under a unique constraint.

A claimed delivery is then *run* by one task delivery at a time: the run holds a lease its
worker renews (``orchestration.leases``). A task redelivered after its worker died takes the
run over once the lease lapses, and finds the placeholder message the dead run posted, so
it edits that message instead of posting a second one. Run state lives in the Django cache
(Redis, or the file cache the embedded install's processes share).
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from core.outages import outages
from orchestration.leases import lease_seconds

from .models import SlackDelivery

# A pending claim outlives the longest task (hard time limit) and Slack's last retry (~5 min),
# so a slow first answer is never duplicated; a claim whose worker died expires.
PENDING_TTL = max(settings.CELERY_TASK_TIME_LIMIT + 60, 900)
DONE_TTL = 24 * 3600

# Delete only a pending claim: a late failure handler must never reopen an answered event.
_RELEASE_PENDING = (
    "if redis.call('GET', KEYS[1]) == 'pending' then return redis.call('DEL', KEYS[1]) end return 0"
)


def _redis():
    return get_redis_connection("default")


def _redis_key(key: str) -> str:
    return f"omni2:slack:delivery:{key}"


def _short(key: str) -> str:
    # Keys come from Slack (event_id, trigger_id) and are short; anything longer is hashed.
    return key if len(key) <= 100 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _use_redis() -> bool:
    return bool(settings.REDIS_URL)


class DeliveryStoreUnavailable(Exception):
    """Redis cannot be asked whether a delivery was claimed: Slack gets a 503 and retries."""


def delivery_claim(*, key: str) -> bool:
    """True if this caller now owns ``key``; False if another delivery holds or answered it.

    Raises DeliveryStoreUnavailable when Redis cannot be asked. There is no database fallback
    here: a claim made in the database while another sits in Redis would answer twice.
    """
    key = _short(key)
    if _use_redis():
        try:
            claimed = _redis().set(_redis_key(key), "pending", nx=True, ex=PENDING_TTL)
        except RedisError as exc:
            outages.down(
                "the Slack delivery store (Redis)", exc, meanwhile="Slack requests are answered 503"
            )
            raise DeliveryStoreUnavailable from exc
        outages.up("the Slack delivery store (Redis)")
        return bool(claimed)
    now = timezone.now()
    try:
        with transaction.atomic():
            SlackDelivery.objects.create(key=key, claimed_at=now)
        return True
    except IntegrityError:
        # Take over only a pending claim that expired; exactly one UPDATE can match.
        stale = now - timedelta(seconds=PENDING_TTL)
        return (
            SlackDelivery.objects.filter(
                key=key, state=SlackDelivery.State.PENDING, claimed_at__lt=stale
            ).update(claimed_at=now)
            == 1
        )


def delivery_release(*, key: str) -> None:
    key = _short(key)
    if _use_redis():
        _redis().eval(_RELEASE_PENDING, 1, _redis_key(key))
    else:
        SlackDelivery.objects.filter(key=key, state=SlackDelivery.State.PENDING).delete()


def delivery_mark_done(*, key: str) -> None:
    key = _short(key)
    if _use_redis():
        _redis().set(_redis_key(key), "done", ex=DONE_TTL)
        return
    SlackDelivery.objects.filter(key=key).update(state=SlackDelivery.State.DONE)
    # Done rows only matter while Slack may still retry; drop the old ones as we go.
    cutoff = timezone.now() - timedelta(seconds=DONE_TTL)
    SlackDelivery.objects.filter(claimed_at__lt=cutoff).delete()


def delivery_state(*, key: str) -> str | None:
    """``pending``, ``done`` or None (never claimed, released or expired)."""
    key = _short(key)
    if _use_redis():
        state = _redis().get(_redis_key(key))
        return state.decode() if state else None
    return SlackDelivery.objects.filter(key=key).values_list("state", flat=True).first()


# --- the run of a claimed delivery ----------------------------------------------------------


def _run_keys(key: str) -> tuple[str, str, str]:
    key = _short(key)
    return f"slack:run:{key}", f"slack:runs-unfinished:{key}", f"slack:placeholder:{key}"


def delivery_run_take(*, key: str, owner: str) -> int:
    """Start answering ``key`` as ``owner``: the attempt number (1 + runs that died unfinished),
    or 0 when another run holds a live lease on it."""
    lease, unfinished, _ = _run_keys(key)
    if not cache.add(lease, owner, timeout=lease_seconds()):
        return 0
    cache.add(unfinished, 0, timeout=PENDING_TTL)
    return cache.incr(unfinished)


def delivery_run_renew(*, key: str, owner: str) -> bool:
    lease, _, _ = _run_keys(key)
    return cache.get(lease) == owner and cache.touch(lease, lease_seconds())


def delivery_run_end(*, key: str, owner: str) -> None:
    """The run ended without dying (answered, or failed and told): it no longer counts."""
    lease, unfinished, _ = _run_keys(key)
    cache.delete(unfinished)
    if cache.get(lease) == owner:
        cache.delete(lease)


def delivery_placeholder(*, key: str) -> str | None:
    """The ``ts`` of the placeholder message an earlier run of ``key`` posted, if any."""
    return cache.get(_run_keys(key)[2])


def delivery_placeholder_remember(*, key: str, ts: str) -> None:
    cache.set(_run_keys(key)[2], ts, timeout=PENDING_TTL)
