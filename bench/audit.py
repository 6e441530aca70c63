"""Audit recording per tool call (target ≤ 1 ms median added) beside a run without audit.

    DATABASE_URL=... .venv/bin/python bench/audit.py

A "tool call" here is the in-process part of a direct tool call (arguments in, a result out,
no MCP server), so the difference between the two runs is what auditing adds. The figures:
- a direct tool call: one audit row + one tool-call row, committed on its own;
- a chat's tool calls: the extra cost of each tool call inside one chat request's audit
  (one row per call, written with the request's row in one transaction).
Rows written here are removed at the end (on PostgreSQL through the maintenance switch
that the append-only trigger honours).
"""

import json
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
from django.db import connection, transaction

from audit.services import ToolCallRecord, audit_record
from permissions.models import User
from permissions.services import user_create

RUNS = int(os.environ.get("BENCH_RUNS", 1000))
CHAT_CALLS = 10
RUN_ID = f"bench-{uuid.uuid4().hex[:8]}"
ARGUMENTS = {
    "database": "prod_db",
    "query": "SELECT * FROM orders WHERE id = 42",
    "options": {"explain": True, "password": "hunter2"},
}


def timed(fn, runs: int) -> list[float]:
    for _ in range(min(runs // 10, 50)):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def tool_call() -> ToolCallRecord:
    """The in-process work of a tool call without the MCP round trip."""
    result = json.dumps({"status": "healthy", "rows": list(range(20))})
    return ToolCallRecord(
        mcp="database_mcp",
        tool="get_database_health",
        arguments=ARGUMENTS,
        duration_ms=12,
        result_size=len(result),
    )


def direct_call_with_audit(user) -> None:
    call = tool_call()
    audit_record(
        user=user,
        source="api",
        message="database_mcp.get_database_health",
        status="success",
        duration_ms=12,
        tool_calls=[call],
        request_id=RUN_ID,
    )


def chat_audit(user, calls: int) -> None:
    records = [tool_call() for _ in range(calls)]
    audit_record(
        user=user,
        source="slack",
        message="How is prod?",
        status="success",
        answer="Healthy.",
        model="claude-haiku-4-5",
        iterations=2,
        usage={"input_tokens": 900, "output_tokens": 120, "cache_read_tokens": 4000},
        tool_calls=records,
        request_id=RUN_ID,
    )


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def cleanup(user) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL omni2.audit_maintenance = 'on'")
        ids = "SELECT id FROM audit_auditlog WHERE request_id = %s"
        cursor.execute(f"DELETE FROM audit_toolcalllog WHERE audit_id IN ({ids})", [RUN_ID])
        cursor.execute("DELETE FROM audit_auditlog WHERE request_id = %s", [RUN_ID])
    user.delete()


def main() -> None:
    call_command("migrate", verbosity=0)
    user = user_create(email=f"{RUN_ID}@bench.invalid", role="dba")
    try:
        run(User.objects.select_related("role").get(pk=user.pk))
    finally:
        cleanup(user)


def run(user) -> None:
    engine = settings.DATABASES["default"]["ENGINE"].split(".")[-1]
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"Audit recording on {engine}, {RUNS} runs each (median), load average {load}:")
    without = median(timed(tool_call, RUNS))
    print(f"  tool call without audit (baseline)              {without:8.4f} ms")
    run_mode(user, "durable commit", without)


def run_mode(user, name: str, without: float) -> None:
    direct = timed(lambda: direct_call_with_audit(user), RUNS)
    chat_zero = median(timed(lambda: chat_audit(user, 0), RUNS))
    chat_many = median(timed(lambda: chat_audit(user, CHAT_CALLS), RUNS))
    per_call = (chat_many - chat_zero) / CHAT_CALLS - without
    # p10 shows the cost without CPU contention when other work shares the machine.
    p10 = statistics.quantiles(direct, n=10)[0]
    print(f"  [{name}]")
    print(
        f"  direct tool call with audit (2 rows)            {median(direct):8.4f} ms"
        f"   added {median(direct) - without:8.4f} ms per tool call (p10 {p10 - without:.4f} ms)"
    )
    print(
        f"  chat request audit, 0 / {CHAT_CALLS} tool calls          "
        f"{chat_zero:8.4f} / {chat_many:8.4f} ms   added {per_call:8.4f} ms per tool call"
    )


if __name__ == "__main__":
    main()
