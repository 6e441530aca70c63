"""One rate-limit check: loopback Redis (target ≤ 0.3 ms median) beside an in-process no-op.

    DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/ratelimit.py

Also times the database fallback on the configured database, for reference. Every key it
writes is removed at the end.
"""

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.test.utils import override_settings

from audit.models import RateLimitHit
from audit.ratelimit import RateLimitResult, rate_limit_hit, redis_key

RUNS = int(os.environ.get("BENCH_RUNS", 5000))
RUN_ID = uuid.uuid4().hex[:8]


def timed(check, runs: int) -> tuple[float, float]:
    """(median, p99) in milliseconds of ``check()`` over ``runs`` calls, after a warm-up."""
    for _ in range(min(runs // 10, 200)):
        check()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        check()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples), statistics.quantiles(samples, n=100)[98]


def noop_check() -> RateLimitResult:
    return RateLimitResult(allowed=True, used=1, limit=100, retry_after_seconds=0)


def report(name: str, figures: tuple[float, float]) -> None:
    print(f"  {name:<46} median {figures[0]:8.4f} ms   p99 {figures[1]:8.4f} ms")


def bench_redis() -> None:
    from django_redis import get_redis_connection

    admitted, refused = f"bench:{RUN_ID}:admitted", f"bench:{RUN_ID}:refused"
    rate_limit_hit(key=refused, limit=1)
    try:
        # A huge limit keeps every check on the admitting path (trim, count, add).
        report(
            "Redis check, admitted (Lua: trim+count+add)",
            timed(lambda: rate_limit_hit(key=admitted, limit=10**9), RUNS),
        )
        report(
            "Redis check, refused (Lua: trim+count+oldest)",
            timed(lambda: rate_limit_hit(key=refused, limit=1), RUNS),
        )
    finally:
        get_redis_connection("default").delete(redis_key(admitted), redis_key(refused))


def bench_database() -> None:
    call_command("migrate", verbosity=0)
    key = f"bench:{RUN_ID}:database"
    try:
        with override_settings(REDIS_URL=""):
            runs = max(RUNS // 5, 200)
            report(
                f"database fallback check ({settings.DATABASES['default']['ENGINE'].split('.')[-1]})",
                timed(lambda: rate_limit_hit(key=key, limit=10**9), runs),
            )
    finally:
        RateLimitHit.objects.filter(key=key).delete()


def main() -> None:
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"Rate limiter, {RUNS} checks each (median and p99 of one check), load average {load}:")
    report("in-process no-op check (baseline)", timed(noop_check, RUNS))
    if settings.REDIS_URL:
        bench_redis()
    else:
        print("  Redis check: skipped, REDIS_URL is not set")
    bench_database()


if __name__ == "__main__":
    main()
