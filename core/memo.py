"""Per-process memos: what a process may keep in memory between requests, and until when.

The rule, for anything derived from policy rows
------------------------------------------------
- **What.** Values compiled from the policy tables that every request needs: the policy
  snapshot (``permissions.policy.snapshot``), the MCP catalog with its decrypted connection
  specs (``orchestration.mcp.catalog``) and API key → user (``permissions.services``).
  Each is declared here as a ``VersionMemo`` or a ``VersionKeyedMemo``; ``memos()`` lists them.
- **Key.** The policy version token (``permissions.policy.snapshot.policy_memo_token``), a
  random string that every committed change to a policy row replaces. Only a token naming
  committed, cached rows may key a memo: under ``"uncommitted"`` (this transaction changed rows
  that may still roll back), ``"uncached"`` (the cache could not be read), ``""`` or ``None``
  the value is built for its caller and kept by no one (``shareable``).
- **Death.** A new token replaces the value: a lookup under the live token misses whatever was
  kept under an older one, and the next build overwrites it. Nothing is invalidated by hand.
- **Bound.** A ``VersionMemo`` holds one value (the last built). A ``VersionKeyedMemo`` holds at
  most ``bound`` keys and drops its oldest entry to make room, whatever the callers send.
- **Threads.** Reads take no lock (one reference or dict read, atomic in CPython), so the event
  loop's fast path reads a memo without blocking or I/O. A miss builds under a lock and checks
  again first, so concurrent misses of one token (one key) build once. Builds do I/O: never on
  the event loop. A forked child keeps the values (valid under their token) with new locks.

Other per-process state, keyed otherwise
----------------------------------------
- MCP health probes (``orchestration.mcp.discovery``) are about a remote server, not about
  policy rows: keyed on the connection fingerprint, which changes with anything that shapes the
  connection, and aged by time (``FreshMemo``). A policy change leaves a probe true.
- The MCP pool's sessions and circuit breakers (``orchestration.mcp.pool``) are live resources,
  not values: kept per server, replaced when its fingerprint changes, closed by the pool and
  dropped after a fork. They are the pool's, not a memo.
- Pure caches (``functools.lru_cache`` on immutable input: compiled pattern sets in the policy
  engine, Fernet keys, clients per setting) are true forever; no rule is needed.
- What hangs on a memoised value (the catalog's compiled JSON-schema validators) dies with it.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# Tokens that name no committed, cached policy: nothing is memoised under them.
UNSHAREABLE_TOKENS = frozenset({"uncommitted", "uncached", ""})

_registry: weakref.WeakSet = weakref.WeakSet()


def shareable(token: str | None) -> bool:
    """Whether a value built under ``token`` may be kept for other requests."""
    return token is not None and token not in UNSHAREABLE_TOKENS


def memos() -> list:
    """Every memo of this process, by name."""
    return sorted(_registry, key=lambda memo: memo.name)


class VersionMemo(Generic[T]):
    """One value per process, kept under the policy token it was built for. Values are never None
    (None means a miss)."""

    def __init__(self, name: str):
        self.name = name
        self._entry: tuple[str, T] | None = None
        self._lock = threading.Lock()
        _registry.add(self)

    def __len__(self) -> int:
        return 0 if self._entry is None else 1

    def get(self, token: str | None) -> T | None:
        """The value built for ``token``, or None; no lock, no I/O."""
        entry = self._entry
        return entry[1] if entry is not None and entry[0] == token else None

    def get_or_build(self, token: str | None, build: Callable[[], T]) -> T:
        """The value for ``token``, built by ``build()`` on a miss and kept if ``token`` is
        shareable."""
        if not shareable(token):
            return build()
        value = self.get(token)
        if value is not None:
            return value
        with self._lock:
            value = self.get(token)
            if value is None:
                value = build()
                self._entry = (token, value)
            return value

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


class VersionKeyedMemo(Generic[K, T]):
    """Many keys, each with the policy token its value was built for; at most ``bound`` keys."""

    def __init__(self, name: str, *, bound: int, build_locks: int = 16):
        self.name, self.bound = name, bound
        self._entries: dict[K, tuple[str, T]] = {}  # in insertion order: the oldest goes first
        self._store_lock = threading.Lock()
        # A build is a query: builds of different keys run side by side, one key builds once.
        self._build_locks = tuple(threading.Lock() for _ in range(build_locks))
        _registry.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str | None, key: K) -> T | None:
        """The value of ``key`` if it was built under ``token``, or None; no lock, no I/O."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == token else None

    def peek(self, key: K) -> tuple[str, T] | None:
        """(token, value) of ``key`` whatever its token, for a caller that checks the token
        itself later (the fast path checks it with the rate limit, in one Redis round trip)."""
        return self._entries.get(key)

    def get_or_build(self, token: str | None, key: K, build: Callable[[], T | None]) -> T | None:
        """The value of ``key`` under ``token``, built by ``build()`` on a miss. A None from
        ``build`` (say, no such key) is returned and not kept: misses cannot fill the memo."""
        if not shareable(token):
            return build()
        value = self.get(token, key)
        if value is not None:
            return value
        with self._build_locks[hash(key) % len(self._build_locks)]:
            value = self.get(token, key)
            if value is None:
                value = build()
                if value is not None:
                    self._put(token, key, value)
            return value

    def _put(self, token: str, key: K, value: T) -> None:
        with self._store_lock:
            _insert_bounded(self._entries, key, (token, value), self.bound)

    def _after_fork(self) -> None:
        self._store_lock = threading.Lock()
        self._build_locks = tuple(threading.Lock() for _ in self._build_locks)


class FreshMemo(Generic[K, T]):
    """Observations of the world outside (not policy), kept for as long as a caller finds them
    fresh: keyed on what identifies the thing observed, at most ``bound`` keys. No build here:
    the caller observes (discovery probes several servers side by side) and ``put``s."""

    def __init__(self, name: str, *, bound: int, clock: Callable[[], float] = time.monotonic):
        self.name, self.bound = name, bound
        self.clock = clock  # tests replace it to move time on without sleeping
        self._entries: dict[K, tuple[float, T]] = {}
        self._lock = threading.Lock()
        _registry.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, *, max_age: float) -> T | None:
        """The value seen for ``key`` less than ``max_age`` seconds ago, or None; no lock."""
        entry = self._entries.get(key)
        if entry is None or self.clock() - entry[0] >= max_age:
            return None
        return entry[1]

    def put(self, key: K, value: T) -> T:
        with self._lock:
            _insert_bounded(self._entries, key, (self.clock(), value), self.bound)
        return value

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


def _insert_bounded(entries: dict, key: Hashable, entry: tuple, bound: int) -> None:
    """Insert last, dropping the oldest entries to stay within ``bound`` (callers hold a lock)."""
    entries.pop(key, None)  # re-inserted last: the order stays the age of each entry
    while len(entries) >= bound:
        del entries[next(iter(entries))]
    entries[key] = entry


def _new_locks_after_fork() -> None:
    # A lock some other thread held at the fork would stay held in the child forever.
    for memo in list(_registry):
        memo._after_fork()


os.register_at_fork(after_in_child=_new_locks_after_fork)
