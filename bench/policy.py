"""Policy engine benchmark (issue 3): 1,000 users, 50 MCPs × 40 tools, 200 patterns.

    .venv/bin/python bench/policy.py                      # temporary SQLite
    DATABASE_URL=postgres://... REDIS_URL=... .venv/bin/python bench/policy.py

Reports, each as a median:
- one decision from a warm snapshot (target ≤ 20 µs) beside a bare ``fnmatchcase`` of one
  pattern measured in the same run (the floor any pattern check pays);
- the full permitted-tools list of one user (target ≤ 5 ms), on a fresh snapshot (nothing
  memoised yet) and warm;
- ``policy_snapshot()`` when warm (one cache GET of the version token);
- building the snapshot from the database (five queries + compiling the patterns), with
  compiled pattern sets reused from the previous build (the rebuild after an edit) and
  without (a process's first build).
The data lives in a throwaway database (a temporary SQLite file, or a PostgreSQL database
created and dropped here) and a private cache key prefix; nothing is left behind.
"""

import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from fnmatch import fnmatchcase
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")
_tmp = tempfile.TemporaryDirectory(prefix="omni2-bench-policy-")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp.name}/policy.sqlite3"

import django
from django.conf import settings

django.setup()
# A private cache namespace, so a running OMNI2 never sees the benchmark's policy version
# (set before the first cache access, which is when Django builds the cache).
settings.CACHES["default"]["KEY_PREFIX"] = f"omni2-bench-{uuid.uuid4().hex[:8]}"
if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    settings.CACHES["default"]["LOCATION"] = f"{_tmp.name}/cache"

from django.core.cache import cache
from django.db import connection

from permissions.models import (
    DiscoveredTool,
    GlobalPolicy,
    McpServer,
    Role,
    RoleRestriction,
    User,
    UserOverride,
)
from permissions.policy.engine import _pattern_set, decide, permitted_tools, snapshot_build
from permissions.policy.rows import policy_data_load
from permissions.policy.snapshot import policy_invalidate, policy_snapshot

USERS, MCPS, TOOLS, OVERRIDES = 1000, 50, 40, 20
VERBS = ["get", "list", "analyze", "compare", "drop", "modify", "search", "export"]
NOUNS = ["health", "queries", "plans", "history", "users", "costs", "tables", "files"]


def tool_names(index: int) -> list[str]:
    names = [f"{verb}_{noun}" for verb in VERBS for noun in NOUNS][:TOOLS]
    return [name if i % 3 else f"{name}_{index}" for i, name in enumerate(names)]


def build_policy() -> int:
    """Write the policy rows; returns how many patterns they hold."""
    rng = random.Random(42)
    GlobalPolicy.objects.create(
        blocked_patterns=[
            "drop_*",
            "truncate_*",
            "shutdown_*",
            "execute_raw_sql",
            "delete_*",
            "kill_*",
            "purge_*",
            "wipe_*",
            "format_*",
            "reset_*",
        ],
        admin_only_patterns=[
            "compare_*_plans",
            "modify_*",
            "*_history",
            "export_*",
            "*_users_*",
            "get_costs_*",
            "analyze_*_9",
            "list_tables_1?",
            "search_files_4*",
            "get_health_[0-4]",
        ],
    )
    patterns = 20
    servers = McpServer.objects.bulk_create(
        McpServer(
            name=f"bench_mcp_{i}",
            url=f"http://mcp{i}/mcp",
            tool_policy_mode="allow_all_except" if i < 10 else "allow_all",
            tool_patterns=["secret_*", "*_internal"] if i < 10 else [],
        )
        for i in range(MCPS)
    )
    patterns += 20
    DiscoveredTool.objects.bulk_create(
        DiscoveredTool(mcp=server, name=name)
        for i, server in enumerate(servers)
        for name in tool_names(i)
    )
    roles = {role.name: role for role in Role.objects.all()}
    plain_roles = [r for r in roles.values() if not r.is_privileged]
    RoleRestriction.objects.bulk_create(
        RoleRestriction(
            mcp=server,
            role=plain_roles[i % len(plain_roles)],
            mode=("allow_only", "deny")[i % 2],
            patterns=[f"{rng.choice(VERBS)}_*", f"*_{rng.choice(NOUNS)}"],
        )
        for i, server in enumerate(servers)
    )
    patterns += 2 * MCPS
    users = User.objects.bulk_create(
        User(
            email=f"bench{i}@example.com",
            role=rng.choice(list(roles.values())),
            password="!",
            allowed_databases=["dev_*", "test_db"],
        )
        for i in range(USERS)
    )
    UserOverride.objects.bulk_create(
        UserOverride(
            user=users[i],
            mcp=servers[i % MCPS],
            mode="custom",
            tools=["get_*", f"compare_*_{rng.choice(NOUNS)}"],
            deny=[f"get_{rng.choice(NOUNS)}"][:1],
        )
        for i in range(OVERRIDES)
    )
    patterns += OVERRIDES * 3
    policy_invalidate()
    return patterns


def per_call(fn, *, batch: int = 1000, rounds: int = 30) -> float:
    """Median seconds per call over ``rounds`` batches (after a warm-up batch)."""
    for _ in range(batch):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def median_of(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure() -> dict[str, float]:
    data = policy_data_load()
    snapshot = policy_snapshot()
    plain = snapshot.user(email="bench500@example.com")
    custom = snapshot.users_by_email["bench0@example.com"]
    fresh = lambda: snapshot_build(data, version="x")  # noqa: E731
    return {
        "baseline: fnmatchcase, one pattern": per_call(
            lambda: fnmatchcase("analyze_queries", "analyze_*_query")
        ),
        "decide, role restriction path": per_call(
            lambda: decide(snapshot, plain, "bench_mcp_7", "get_queries")
        ),
        "decide, custom override + database check": per_call(
            lambda: decide(snapshot, custom, "bench_mcp_0", "get_queries", {"database": "dev_7"})
        ),
        "decide, tool not discovered (rules applied live)": per_call(
            lambda: decide(snapshot, plain, "bench_mcp_7", "get_brand_new_tool")
        ),
        "policy_snapshot(), warm (version check)": per_call(policy_snapshot, batch=200, rounds=10),
        "permitted_tools, one user, warm": median_of(lambda: permitted_tools(snapshot, plain), 200),
        "permitted_tools, one user, fresh snapshot": _fresh_permitted(fresh, plain.email),
        "snapshot build: load rows": median_of(policy_data_load, 5),
        "snapshot build: compile": median_of(fresh, 5),
        "snapshot build: load + compile": median_of(lambda: snapshot_build(policy_data_load()), 5),
        "snapshot build: load + compile, no pattern reuse": median_of(_cold_build, 5),
    }


def _cold_build():
    _pattern_set.cache_clear()  # as in a process that has compiled no pattern yet
    return snapshot_build(policy_data_load())


def _fresh_permitted(fresh, email: str) -> float:
    samples = []
    for _ in range(10):
        snapshot = fresh()
        user = snapshot.user(email=email)
        start = time.perf_counter()
        permitted_tools(snapshot, user)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(results: dict[str, float], patterns: int) -> None:
    engine = connection.vendor
    print(
        f"policy: {USERS} users, {MCPS} MCPs x {TOOLS} tools, {patterns} patterns; database {engine}, "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}"
    )
    for name, seconds in results.items():
        value = f"{seconds * 1e6:10.2f} µs" if seconds < 1e-3 else f"{seconds * 1e3:10.2f} ms"
        print(f"  {name:<52}{value}")


def main() -> None:
    from django.core.management import call_command

    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = f"omni2_bench_policy_{uuid.uuid4().hex[:8]}"
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        call_command("migrate", verbosity=0)
    try:
        patterns = build_policy()
        report(measure(), patterns)
    finally:
        if hasattr(
            cache, "delete_pattern"
        ):  # Redis: the file cache goes with the temporary directory
            cache.delete_pattern("policy:*")
        if connection.vendor == "postgresql":
            connection.creation.destroy_test_db(old_name, verbosity=0)
        _tmp.cleanup()


if __name__ == "__main__":
    main()
