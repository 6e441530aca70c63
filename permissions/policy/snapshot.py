"""Policy reads: the shared, cached snapshot and who a caller is.

The snapshot's data sits in the Django cache (Redis, or the file cache every local
process shares) under a *version token*. A change to a policy row stores a new random token
(``PolicyVersion``) in the change's own transaction, and once that commits the token is copied to
the cache (``permissions.signals``), so every process sees the change on its next read. The cached
copy lives ``OMNI2_POLICY_VERSION_CACHE_SECONDS``: if it could not be written at commit (a cache
blip, a crash), the stored token takes over within that time. Each process keeps the compiled
snapshot of the live token in memory (``core.memo``: the token is the key of every per-process
memo of policy-derived values), so a warm read costs one cache GET.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from core.memo import VersionMemo
from core.outages import outages
from permissions.models import PolicyVersion

from .engine import PolicySnapshot, snapshot_build
from .rows import policy_data_load

VERSION_KEY = "policy:version"
DATA_KEY = "policy:data:{}"
# Only reclaims space held by dead versions; a live version is replaced, never waited out.
DATA_TTL = 24 * 3600

_snapshots: VersionMemo[PolicySnapshot] = VersionMemo("policy snapshot")
# None: not pinned; "": pinned, nothing read yet; else the token this block uses.
_pinned: ContextVar[str | None] = ContextVar("omni2_policy_pinned", default=None)


def policy_version() -> str:
    """The live version token: the cache's copy, refilled from ``PolicyVersion`` when missing.

    Inside ``policy_pinned()`` the first token read is kept for the rest of the block.
    """
    pinned = _pinned.get()
    if pinned:
        return pinned
    token = cache.get(VERSION_KEY)
    if token is None:
        # add, not set: a token published since the row was read must not be overwritten.
        cache.add(
            VERSION_KEY, _stored_version(), timeout=settings.OMNI2_POLICY_VERSION_CACHE_SECONDS
        )
        token = cache.get(VERSION_KEY)
    if pinned is not None and token:
        _pinned.set(token)
    return token


@contextmanager
def policy_pinned() -> Iterator[None]:
    """One policy version for a whole unit of work (an HTTP request): its API key check, its
    re-check and its tool listing all read the token once, not once each. A change committed
    inside the block unpins it (``_publish_version``), so the block sees its own writes.
    """
    reset = _pinned.set("")
    try:
        yield
    finally:
        _pinned.reset(reset)


def policy_memo_token() -> str | None:
    """A token under which a process may memoise anything derived from policy rows (API keys
    included; see ``core.memo``), or None when it must not: this transaction changed such rows
    and has not committed, or the cache cannot be read."""
    if getattr(connection, "omni2_policy_dirty", False) and connection.in_atomic_block:
        return None
    try:
        return policy_version()
    except Exception as exc:
        outages.down("the policy cache", exc, meanwhile="policies are read from the database")
        return None


def policy_snapshot() -> PolicySnapshot:
    if getattr(connection, "omni2_policy_dirty", False):
        if connection.in_atomic_block:
            # This transaction changed policy rows: read them fresh and share nothing,
            # since the other processes must not see what may still roll back.
            return snapshot_build(policy_data_load(), version="uncommitted")
        connection.omni2_policy_dirty = False
    try:
        token = policy_version()
    except Exception as exc:  # a cache outage costs speed, never correctness
        outages.down("the policy cache", exc, meanwhile="policies are read from the database")
        return snapshot_build(policy_data_load(), version="uncached")
    return _snapshots.get_or_build(
        token, lambda: snapshot_build(_policy_data(token), version=token)
    )


def policy_snapshot_memoised(token: str) -> PolicySnapshot | None:
    """This process's compiled snapshot if it is the one of ``token``; no I/O."""
    return _snapshots.get(token)


def _policy_data(token: str) -> dict:
    data = cache.get(DATA_KEY.format(token))
    if data is None:
        data = policy_data_load()
        cache.set(DATA_KEY.format(token), data, timeout=DATA_TTL)
    return data


def _stored_version() -> str:
    token = PolicyVersion.objects.filter(pk=1).values_list("token", flat=True).first()
    if token is None:  # a new database, or one a test flushed
        token = PolicyVersion.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})[
            0
        ].token
    return token


def _store_new_version() -> str:
    """A NEW random token, never an increment, so a slow reader that loaded old rows can only
    ever file them under a dead token."""
    token = uuid.uuid4().hex
    if not PolicyVersion.objects.filter(pk=1).update(token=token):
        PolicyVersion.objects.update_or_create(pk=1, defaults={"token": token})
    return token


def _publish_version(token: str) -> None:
    """Copy the stored token to the cache, where every request reads it."""
    connection.omni2_policy_dirty = False
    if _pinned.get() is not None:
        _pinned.set("")  # a request that changed the policy reads the new one
    cache.set(VERSION_KEY, token, timeout=settings.OMNI2_POLICY_VERSION_CACHE_SECONDS)


def _publish_committed_version() -> None:
    # Read back rather than remembered: a savepoint may have rolled back the last write.
    _publish_version(_stored_version())


def policy_changed() -> None:
    """Record that a policy row changed in the current transaction (called by the signals).

    The new version is stored by the same transaction, so the change and its version commit or
    roll back together: no crash or lost connection after the commit can leave a committed
    change under the old version. Only the cache's copy waits for the commit. Concurrent policy
    transactions queue on the one version row from their first change until they commit (policy
    edits are rare; two that cross on the same rows may deadlock, and PostgreSQL then refuses one).
    """
    connection.omni2_policy_dirty = True
    _store_new_version()
    if not any(func is _publish_committed_version for _, func, _ in connection.run_on_commit):
        transaction.on_commit(_publish_committed_version, robust=True)


def policy_invalidate() -> None:
    """Make every process rebuild its snapshot now (migrations, flushes, maintenance)."""
    _publish_version(_store_new_version())
