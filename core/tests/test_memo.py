"""The per-process memo rule (core.memo), without Django: pure values, threads and a fork."""

import gc
import os
import signal
import threading

import pytest

from core.memo import FreshMemo, VersionKeyedMemo, VersionMemo, memos, shareable

UNSHAREABLE = ["uncommitted", "uncached", "", None]
THREADS = 8
WAIT = 30  # a safety net against a hang, never a measure: every wait below is met at once


class WatchedLock:
    """A lock that counts the threads that asked for it, so a test knows they all missed."""

    def __init__(self):
        self._lock = threading.Lock()
        self.asked = threading.Semaphore(0)

    def __enter__(self):
        self.asked.release()
        self._lock.acquire()

    def __exit__(self, *exc):
        self._lock.release()


class Builds:
    """A build that records each run and, when told to, waits until the test lets it finish."""

    def __init__(self, *, hold: bool = False):
        self.runs: list[object] = []
        self.started, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()

    def __call__(self):
        value = object()
        self.runs.append(value)
        self.started.set()
        assert self.release.wait(WAIT)
        return value


def test_a_new_token_replaces_the_value():
    memo = VersionMemo("test")
    first = memo.get_or_build("t1", Builds())
    assert memo.get("t1") is first and memo.get_or_build("t1", Builds()) is first

    second = memo.get_or_build("t2", Builds())
    assert second is not first and memo.get("t2") is second
    assert memo.get("t1") is None and len(memo) == 1


@pytest.mark.parametrize("token", UNSHAREABLE)
def test_nothing_is_kept_under_a_token_of_uncommitted_or_uncached_rows(token):
    memo, keyed, builds = VersionMemo("test"), VersionKeyedMemo("test", bound=10), Builds()
    assert not shareable(token)
    assert memo.get_or_build(token, builds) is not memo.get_or_build(token, builds)
    assert keyed.get_or_build(token, "key", builds) is not keyed.get_or_build(token, "key", builds)
    assert len(builds.runs) == 4 and memo.get(token) is None and len(memo) == len(keyed) == 0


def test_a_keyed_value_is_a_miss_under_another_token_and_rebuilt_in_place():
    memo = VersionKeyedMemo("test", bound=10)
    old = memo.get_or_build("t1", "key", Builds())
    assert memo.get("t1", "key") is old and memo.peek("key") == ("t1", old)

    new = memo.get_or_build("t2", "key", Builds())
    assert new is not old and memo.get("t1", "key") is None and memo.peek("key") == ("t2", new)
    assert len(memo) == 1


def test_a_build_that_finds_nothing_is_not_kept():
    memo = VersionKeyedMemo("test", bound=10)
    assert memo.get_or_build("t1", "unknown", lambda: None) is None
    assert memo.peek("unknown") is None and len(memo) == 0


def test_the_keyed_memo_keeps_its_bound_by_dropping_the_oldest_entry():
    memo = VersionKeyedMemo("test", bound=3)
    values = {key: memo.get_or_build("t1", key, Builds()) for key in "abcd"}
    assert len(memo) == 3 and memo.peek("a") is None
    assert [memo.get("t1", key) for key in "bcd"] == [values[key] for key in "bcd"]

    memo.get_or_build("t2", "b", Builds())  # rebuilt: now the youngest, "c" is the oldest
    memo.get_or_build("t2", "e", Builds())
    assert memo.peek("c") is None and {"b", "d", "e"} == {k for k in "bcde" if memo.peek(k)}


def _miss_together(get_or_build, lock: WatchedLock, builds: Builds) -> list:
    """Run ``get_or_build`` in THREADS threads that miss together: the first build is held
    until every thread has asked for the build lock, so a memo that let a second thread build
    would be seen doing it."""
    barrier, results = threading.Barrier(THREADS), []

    def worker():
        barrier.wait(WAIT)
        results.append(get_or_build())

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for _ in range(THREADS):
        assert lock.asked.acquire(timeout=WAIT), "a thread built without asking for the lock"
    builds.release.set()
    for thread in threads:
        thread.join(WAIT)
    return results


def test_concurrent_misses_of_one_token_build_once():
    memo, lock, builds = VersionMemo("test"), WatchedLock(), Builds(hold=True)
    memo._lock = lock
    results = _miss_together(lambda: memo.get_or_build("t1", builds), lock, builds)
    assert len(builds.runs) == 1 and results == builds.runs * THREADS


def test_concurrent_misses_of_one_key_build_once():
    memo, lock, builds = VersionKeyedMemo("test", bound=10), WatchedLock(), Builds(hold=True)
    memo._build_locks = (lock,)
    results = _miss_together(lambda: memo.get_or_build("t1", "key", builds), lock, builds)
    assert len(builds.runs) == 1 and results == builds.runs * THREADS


def test_a_fresh_memo_answers_while_its_value_is_younger_than_the_callers_max_age():
    now = [100.0]
    memo = FreshMemo("test", bound=10, clock=lambda: now[0])
    health = memo.put("fingerprint", "healthy")
    assert memo.get("fingerprint", max_age=5) == health
    assert memo.get("fingerprint", max_age=0) is None  # max_age 0: always probe again

    now[0] += 5
    assert memo.get("fingerprint", max_age=5) is None and memo.get("fingerprint", max_age=6)
    assert memo.get("another", max_age=5) is None


def test_the_fresh_memo_keeps_its_bound():
    memo = FreshMemo("test", bound=2)
    for key in "abc":
        memo.put(key, key)
    assert len(memo) == 2 and memo.get("a", max_age=60) is None and memo.get("c", max_age=60)


def test_every_memo_of_the_process_is_listed_while_it_lives():
    memo = VersionMemo("a memo of this test")
    assert memo in memos()
    del memo
    gc.collect()
    assert "a memo of this test" not in [m.name for m in memos()]


def test_a_forked_child_keeps_the_values_and_builds_though_a_thread_held_the_lock():
    memo, builds = VersionMemo("test"), Builds(hold=True)
    kept = memo.get_or_build("t1", Builds())
    holder = threading.Thread(target=memo.get_or_build, args=("t2", builds))
    holder.start()
    assert builds.started.wait(WAIT)  # the holder is inside its build, holding the lock
    pid = os.fork()
    if pid == 0:  # the child: no holder thread here, so a lock it held would never be released
        signal.alarm(WAIT)  # a hang ends the child with SIGALRM, which the parent reports
        ok = memo.get("t1") is kept and memo.get_or_build("t3", lambda: "built") == "built"
        os._exit(0 if ok else 1)
    builds.release.set()
    holder.join(WAIT)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
