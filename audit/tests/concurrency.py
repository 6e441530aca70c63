"""Several processes hitting one limiter key at the same moment (spawned, each its own Django).

Used by test_rate_limit_concurrency.py; kept out of the test module so ``spawn`` children
import it without importing pytest's test machinery.
"""

import multiprocessing
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor


def _shoot(key: str, limit: int, count: int, start: threading.Barrier) -> list[int]:
    from django.db import connection

    from audit.ratelimit import rate_limit_hit

    start.wait()
    try:
        results = [rate_limit_hit(key=key, limit=limit) for _ in range(count)]
        return [result.used for result in results if result.allowed]
    finally:
        connection.close()  # this thread's own connection


def _fire(key: str, limit: int, requests: int, threads: int) -> list[int]:
    """``requests`` hits from ``threads`` threads released together; the admitted ``used`` values."""
    start = threading.Barrier(threads)
    shares = [requests // threads + (i < requests % threads) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        admitted = pool.map(_shoot, [key] * threads, [limit] * threads, shares, [start] * threads)
        return [used for batch in admitted for used in batch]


def _process(
    env: dict, keys: list[str], limit: int, requests: int, threads: int, barrier, results
) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")
    import django

    django.setup()
    for key in keys:
        barrier.wait(timeout=120)  # every process starts each round together
        results.put((key, os.getpid(), _fire(key, limit, requests, threads)))


def hit_concurrently(
    *,
    env: dict,
    limit: int,
    repetitions: int = 10,
    processes: int = 4,
    requests: int = 200,
    threads: int = 10,
) -> tuple[dict[str, list[int]], set[int]]:
    """For each repetition (a fresh key) the ``used`` values of every admitted request,
    and the ids of the processes that sent them."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    keys = [f"test:concurrent:{uuid.uuid4().hex}" for _ in range(repetitions)]
    args = (env, keys, limit, requests // processes, threads, barrier, results)
    workers = [context.Process(target=_process, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    admitted, pids = {key: [] for key in keys}, set()
    try:
        for _ in range(processes * repetitions):
            key, pid, used = results.get(timeout=300)
            admitted[key].extend(used)
            pids.add(pid)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    return admitted, pids
