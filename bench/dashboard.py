"""The admin dashboard's JSON on 1 million audit rows (PostgreSQL), rollups vs the audit rows.

    .venv/bin/python bench/dashboard.py        # BENCH_DASH_ROWS=1000000, BENCH_RUNS=5

Builds a database of its own (``BENCH_DASH_DATABASE_URL``, default ``omni2_bench_dash`` on
127.0.0.1), migrates it and seeds it with ``INSERT … SELECT generate_series`` in chunks:
audit rows spread over the last 100 days (200 users, 4 models, every status), 1–2 tool calls
per request over 6 MCPs and 30 tools. Then, for 7, 30 and 90 days, the median time of the
JSON (``dashboard_data`` + ``json.dumps``) three ways, side by side:

- rollups: what the dashboard does (the daily rollup tables kept by triggers);
- baseline: the same figures straight from AuditLog and ToolCallLog (``TrailSource``), without
  the two indexes the dashboard added for its slowest/costliest tables;
- index-only: ``TrailSource`` with covering indexes on (created_at) INCLUDE (…) added (and the
  dashboard's two indexes): the other design, reading the audit rows from indexes alone.

Last, what the rollup triggers and the two indexes add to writing one audit row with one tool
call (each on and off in alternating blocks), and the seed's own time. The database is dropped at the end unless BENCH_KEEP=1.
"""

import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
URL = os.environ.get(
    "BENCH_DASH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/omni2_bench_dash"
)
os.environ["DATABASE_URL"] = URL
os.environ.setdefault("OMNI2_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.dashboard.figures import dashboard_data, top_requests
from audit.dashboard.period import dashboard_period_parse
from audit.dashboard.sources import RollupSource, TrailSource
from audit.services import ToolCallRecord, audit_record

ROWS = int(os.environ.get("BENCH_DASH_ROWS", 1_000_000))
RUNS = int(os.environ.get("BENCH_RUNS", 5))
CHUNK = 100_000
USERS = 200
PERIODS = ("7", "30", "90")
TOP_INDEXES = {"audit_duration": "(duration_ms, id)", "audit_cost": "(cost_usd, id)"}
COVERING = {
    "bench_audit_covering": "audit_auditlog (created_at) INCLUDE (model, status, user_id, "
    "cost_usd, tokens_input, tokens_output, tokens_cache_read, tokens_cache_write)",
    "bench_calls_covering": "audit_toolcalllog (created_at) INCLUDE (mcp, tool, status, duration_ms)",
}

# One chunk of audit rows, ids from %(first)s; random but repeatable (setseed before).
SEED_LOGS = """
INSERT INTO audit_auditlog (created_at, user_id, user_email, user_role, source, message,
    answer_preview, status, error, duration_ms, iterations, model, tokens_input, tokens_output,
    tokens_cache_read, tokens_cache_write, cost_usd, tools_called, mcps_accessed, slack_user_id,
    slack_channel, slack_message_ts, slack_thread_ts, request_id)
SELECT at, u, 'user' || u || '@bench.invalid', 'dba', (ARRAY['slack','api','mcp'])[1 + g %% 3],
    'question ' || g, 'an answer of some length, as previews are', st, '', dur, 1 + g %% 5,
    CASE WHEN st IN ('denied', 'rate_limited') THEN '' ELSE m END,
    ti, tout, tcr, tcw,
    CASE WHEN st IN ('denied', 'rate_limited') THEN 0
         ELSE round((ti * 0.8 + tout * 4 + tcr * 0.08 + tcw) / 1000000.0, 6) END,
    '[]', '[]', '', '', '', '', ''
FROM (
    SELECT g, now() - random() * interval '100 days' AS at, 1 + (g::bigint * 7919) %% %(users)s AS u,
        CASE WHEN r < 0.85 THEN 'success' WHEN r < 0.92 THEN 'error' WHEN r < 0.94 THEN 'warning'
             WHEN r < 0.98 THEN 'denied' ELSE 'rate_limited' END AS st,
        (ARRAY['claude-haiku-4-5','claude-sonnet-4-5','claude-3-5-haiku-20241022','claude-opus-4-1'])[1 + g %% 4] AS m,
        floor(exp(random() * 10))::int AS dur,
        (500 + random() * 3000)::int AS ti, (50 + random() * 800)::int AS tout,
        (random() * 20000)::int AS tcr, (random() * 2000)::int AS tcw
    FROM (SELECT g, random() AS r FROM generate_series(%(first)s, %(last)s) AS g) AS s
) AS rows
"""
SEED_CALLS = """
INSERT INTO audit_toolcalllog (audit_id, created_at, mcp, tool, arguments, status, duration_ms,
    result_size, denial_reason, error)
SELECT a.id, a.created_at, 'mcp_' || (a.id + n) %% 6, 'tool_' || (a.id * 3 + n) %% 30, '{}',
    CASE WHEN a.status = 'denied' THEN 'denied' WHEN random() < 0.05 THEN 'error'
         WHEN random() < 0.01 THEN 'timeout' ELSE 'success' END,
    CASE WHEN a.status = 'denied' THEN 0 ELSE floor(exp(random() * 9))::int END, 100, '', ''
FROM audit_auditlog a CROSS JOIN generate_series(1, 1 + a.id %% 2) AS n
WHERE a.id > %(after)s AND a.status <> 'rate_limited'
"""


def create_database() -> None:
    name = URL.rsplit("/", 1)[1]
    with psycopg.connect(URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database() -> None:
    connection.close()
    name = URL.rsplit("/", 1)[1]
    with psycopg.connect(URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed() -> float:
    from permissions.models import Role, User
    from permissions.roles import roles_ensure

    roles_ensure(Role)
    dba = Role.objects.get(name="dba")
    User.objects.bulk_create(
        User(email=f"user{n}@bench.invalid", role=dba, password="!") for n in range(1, USERS + 1)
    )
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        for first in range(1, ROWS + 1, CHUNK):
            after = _max_id(cursor)
            last = min(first + CHUNK - 1, ROWS)
            cursor.execute(SEED_LOGS, {"first": first, "last": last, "users": USERS})
            cursor.execute(SEED_CALLS, {"after": after})
            print(f"  seeded {last:>9,} audit rows", end="\r", flush=True)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return elapsed


def _max_id(cursor) -> int:
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM audit_auditlog")
    return cursor.fetchone()[0]


def median_seconds(fn, runs: int) -> float:
    fn()  # warm the caches once: a dashboard is opened more than once
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def json_of(name: str, source_class) -> str:
    period = dashboard_period_parse(params={"period": name}, today=timezone.now().date())
    return json.dumps(dashboard_data(period=period, source=source_class(period)))


def time_periods(source_class, runs: int) -> dict[str, float]:
    return {name: median_seconds(lambda n=name: json_of(n, source_class), runs) for name in PERIODS}


def with_covering_indexes(runs: int) -> dict[str, float]:
    with connection.cursor() as cursor:
        for name, target in COVERING.items():
            cursor.execute(f"CREATE INDEX {name} ON {target}")
        cursor.execute("VACUUM ANALYZE audit_auditlog")
        cursor.execute("VACUUM ANALYZE audit_toolcalllog")
    try:
        return time_periods(TrailSource, runs)
    finally:
        with connection.cursor() as cursor:
            for name in COVERING:
                cursor.execute(f"DROP INDEX {name}")


def without_top_indexes(fn):
    """``fn()`` without the dashboard's two indexes on the audit log (migration 0007)."""
    _top_indexes(enabled=False)
    try:
        return fn()
    finally:
        _top_indexes(enabled=True)


def _top_indexes(*, enabled: bool) -> None:
    with connection.cursor() as cursor:
        for name, columns in TOP_INDEXES.items():
            if enabled:
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON audit_auditlog {columns}")
            else:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


def write_cost(user, toggle, blocks: int, per_block: int) -> dict[bool, list[float]]:
    """Ms to write one audit row with one tool call, with ``toggle(enabled=)`` on and off in
    turns: other work on the machine then weighs on both sides alike."""

    def write():
        audit_record(
            user=user,
            source="api",
            message="mcp_1.tool_1",
            status="success",
            duration_ms=12,
            tool_calls=[ToolCallRecord(mcp="mcp_1", tool="tool_1", duration_ms=12)],
        )

    samples = {True: [], False: []}
    try:
        for block in range(blocks * 2):
            on = block % 2 == 0
            toggle(enabled=on)
            for _ in range(10):
                write()  # the first writes after a change of schema plan afresh
            for _ in range(per_block):
                start = time.perf_counter()
                write()
                samples[on].append((time.perf_counter() - start) * 1000)
    finally:
        toggle(enabled=True)
    return samples


def _rollup_inserts(*, enabled: bool) -> None:
    with connection.cursor() as cursor:
        for table in ("audit_auditlog", "audit_toolcalllog"):
            state = "ENABLE" if enabled else "DISABLE"
            cursor.execute(f"ALTER TABLE {table} {state} TRIGGER {table}_rollup_insert")


def table_sizes() -> dict[str, int]:
    tables = ["audit_auditlog", "audit_toolcalllog", "audit_auditdailyrollup",
              "audit_audituserdailyrollup", "audit_toolcalldailyrollup",
              "audit_toolcalldurationrollup"]  # fmt: skip
    with connection.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        return counts


def report(seconds: float, results: dict, writes: dict[str, dict]) -> None:
    sizes = table_sizes()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"(load average {load})")
    print(
        f"Dashboard JSON on PostgreSQL, {sizes.get('audit_auditlog', 0):,} audit rows, "
        f"{sizes.get('audit_toolcalllog', 0):,} tool-call rows (seeded in {seconds:.1f} s, "
        f"triggers on); median of {RUNS} runs after one warm-up:"
    )
    print(f"  {'period':>8} | {'rollups':>9} | {'baseline':>9} | {'index-only':>10} | speed-up")
    for name in PERIODS:
        rollup, base, covering = (results[k][name] * 1000 for k in ("rollup", "trail", "covering"))
        print(
            f"  {name + ' days':>8} | {rollup:7.1f}ms | {base:7.0f}ms | {covering:8.0f}ms | "
            f"{base / rollup:6.0f}×"
        )
    rollup_rows = sum(v for k, v in sizes.items() if "rollup" in k)
    print(f"  rollup rows in all: {rollup_rows:,}")
    print("  writing one audit row + one tool call (ms; median / p25):")
    for what, write in writes.items():
        on, off = (statistics.median(write[k]) for k in (True, False))
        on25, off25 = (sorted(write[k])[len(write[k]) // 4] for k in (True, False))
        print(f"    {what:<24} with {on:.3f} / {on25:.3f}, without {off:.3f} / {off25:.3f}: "
              f"+{on - off:.3f} / +{on25 - off25:.3f}")  # fmt: skip


def breakdown(runs: int) -> None:
    """Where the 90-day JSON of the rollups spends its time, part by part."""
    period = dashboard_period_parse(params={"period": "90"}, today=timezone.now().date())
    source = RollupSource(period)
    parts = {
        "daily (model, status)": source.daily,
        "top users": lambda: source.top_users(10),
        "tools": source.tools,
        "denied calls": source.denied_calls,
        "durations": source.durations,
        "slowest": lambda: top_requests(period, "-duration_ms"),
        "costliest": lambda: top_requests(period, "-cost_usd"),
    }
    timings = [f"{name} {median_seconds(fn, runs) * 1000:.1f}" for name, fn in parts.items()]
    print("  90 days with rollups, ms per part: " + ", ".join(timings))


def main() -> None:
    reuse = bool(os.environ.get("BENCH_REUSE"))  # the database a BENCH_KEEP=1 run left
    if not reuse:
        create_database()
    call_command("migrate", verbosity=0)
    try:
        seconds = 0.0 if reuse else seed()
        print()
        breakdown(RUNS)
        results = {
            "rollup": time_periods(RollupSource, RUNS),
            # The baseline has neither the rollups nor the indexes the dashboard added.
            "trail": without_top_indexes(lambda: time_periods(TrailSource, max(1, RUNS // 2))),
            "covering": with_covering_indexes(max(1, RUNS // 2)),
        }
        from permissions.models import User

        user = User.objects.select_related("role").first()
        writes = {
            "rollup triggers": write_cost(user, _rollup_inserts, blocks=30, per_block=100),
            "slowest/costliest indexes": write_cost(user, _top_indexes, blocks=3, per_block=500),
        }
        report(seconds, results, writes)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            drop_database()


if __name__ == "__main__":
    main()
