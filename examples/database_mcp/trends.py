"""get_performance_trends from samples this server keeps.

A background thread samples every configured database every DATABASE_MCP_SAMPLE_SECONDS
(default 60, 0 turns it off) and every trends call takes one more sample first. Samples live
in a small SQLite file, ``$DATABASE_MCP_DATA_DIR/samples.sqlite3`` (default data dir
``var/database_mcp``), or in memory when the data dir is ``:memory:``; they are kept for
DATABASE_MCP_RETENTION_HOURS (default 168).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from .config import Config, DatabaseSpec
from .connections import DatabaseError, InvalidArgument, connection_open, redact

logger = logging.getLogger(__name__)

MYSQL_GAUGES = ("Threads_connected", "Threads_running")
MYSQL_COUNTERS = (
    "Questions",
    "Slow_queries",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_delete",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
    "Innodb_row_lock_waits",
    "Bytes_received",
    "Bytes_sent",
)
POSTGRES_GAUGES = ("connections", "active_connections", "size_bytes")
POSTGRES_COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "deadlocks",
    "temp_bytes",
)
CACHE_COUNTERS = {
    "mysql": ("Innodb_buffer_pool_read_requests", "Innodb_buffer_pool_reads"),
    "postgres": ("blks_hit", "blks_read"),
}
MAX_POINTS = 1000


class SampleStore:
    """Samples as (database, taken_at, metrics JSON) rows; one connection shared under a lock."""

    def __init__(self, *, data_dir: str):
        if data_dir == ":memory:":
            self.location = "memory"
            target = ":memory:"
        else:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            target = str(Path(data_dir) / "samples.sqlite3")
            self.location = str(Path(target).resolve())
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS samples (database TEXT, taken_at REAL, metrics TEXT)"
        )
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS samples_by_time ON samples (database, taken_at)"
        )

    def add(self, *, database: str, taken_at: float, metrics: dict) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO samples VALUES (?, ?, ?)", (database, taken_at, json.dumps(metrics))
            )

    def since(self, *, database: str, since: float) -> list[tuple[float, dict]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT taken_at, metrics FROM samples WHERE database = ? AND taken_at >= ? ORDER BY taken_at",
                (database, since),
            ).fetchall()
        return [(taken_at, json.loads(metrics)) for taken_at, metrics in rows]

    def prune(self, *, before: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM samples WHERE taken_at < ?", (before,))


def store_open() -> SampleStore:
    return SampleStore(data_dir=os.environ.get("DATABASE_MCP_DATA_DIR") or "var/database_mcp")


def sample_interval() -> int:
    return int(os.environ.get("DATABASE_MCP_SAMPLE_SECONDS", "60"))


def sample_take(*, spec: DatabaseSpec, store: SampleStore) -> dict:
    with connection_open(spec=spec) as conn:
        metrics = _mysql_metrics(conn) if spec.engine == "mysql" else _postgres_metrics(conn)
    store.add(database=spec.name, taken_at=time.time(), metrics=metrics)
    return metrics


def _mysql_metrics(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute(
            "SHOW GLOBAL STATUS WHERE Variable_name IN %s", (MYSQL_GAUGES + MYSQL_COUNTERS,)
        )
        return {row["Variable_name"]: int(row["Value"]) for row in cur.fetchall()}


def _postgres_metrics(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT " + ", ".join(f"d.{name}" for name in POSTGRES_COUNTERS) + ", "  # noqa: S608  (column names from a constant)
            "pg_database_size(current_database()) AS size_bytes, "
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections, "
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active') "
            "AS active_connections "
            "FROM pg_stat_database d WHERE d.datname = current_database()"
        )
        return {name: int(value or 0) for name, value in cur.fetchone().items()}


def trends_get(
    *, spec: DatabaseSpec, store: SampleStore, hours: float = 24, max_points: int = 100
) -> dict:
    if not 0 < hours <= 24 * 30:
        raise InvalidArgument(f"hours must be above 0 and at most 720 (got {hours})")
    if not 2 <= max_points <= MAX_POINTS:
        raise InvalidArgument(f"max_points must be between 2 and {MAX_POINTS} (got {max_points})")
    sample_take(spec=spec, store=store)  # on demand, so a first call already has a current point
    samples = _evenly(store.since(database=spec.name, since=time.time() - hours * 3600), max_points)
    points = _points(spec.engine, samples)
    return {
        "database": spec.name,
        "engine": spec.engine,
        "hours": hours,
        "storage": f"sqlite:{store.location}",
        "sample_interval_seconds": sample_interval(),
        "sample_count": len(points),
        "samples": points,
        "summary": _summary(points),
        "note": _note(len(points)),
    }


def _evenly(samples: list, max_points: int) -> list:
    """At most max_points samples, evenly spread, always keeping the newest."""
    if len(samples) <= max_points:
        return samples
    step = (len(samples) - 1) / (max_points - 1)
    return [samples[round(i * step)] for i in range(max_points)]


def _points(engine: str, samples: list[tuple[float, dict]]) -> list[dict]:
    gauges, counters = (
        (MYSQL_GAUGES, MYSQL_COUNTERS)
        if engine == "mysql"
        else (POSTGRES_GAUGES, POSTGRES_COUNTERS)
    )
    points, previous = [], None
    for taken_at, metrics in samples:
        point = {"taken_at": datetime.fromtimestamp(taken_at, UTC).isoformat(timespec="seconds")}
        point["gauges"] = {name: metrics.get(name) for name in gauges}
        point["counters"] = {name: metrics.get(name) for name in counters}
        if previous is not None:
            point.update(_deltas(engine, counters, previous, (taken_at, metrics)))
        points.append(point)
        previous = (taken_at, metrics)
    return points


def _deltas(engine: str, counters, previous, current) -> dict:
    elapsed = max(current[0] - previous[0], 1e-6)
    deltas = {}
    for name in counters:
        before, after = previous[1].get(name), current[1].get(name)
        # A negative delta means the server restarted and its counters began again.
        deltas[name] = (
            after - before if before is not None and after is not None and after >= before else None
        )
    hits_key, misses_key = CACHE_COUNTERS[engine]
    return {
        "seconds_since_previous": round(elapsed, 1),
        "deltas": deltas,
        "per_second": {name: round(d / elapsed, 3) for name, d in deltas.items() if d is not None},
        "cache_hit_ratio_percent": _interval_hit_ratio(
            engine, deltas.get(hits_key), deltas.get(misses_key)
        ),
    }


def _interval_hit_ratio(engine: str, lookups_or_hits, misses) -> float | None:
    if lookups_or_hits is None or misses is None:
        return None
    # MySQL counts all lookups (read_requests) and misses; PostgreSQL counts hits and misses.
    total = lookups_or_hits if engine == "mysql" else lookups_or_hits + misses
    return round(100.0 * (total - misses) / total, 2) if total else None


def _summary(points: list[dict]) -> dict:
    rates = [p["per_second"] for p in points if "per_second" in p]
    names = sorted({name for rate in rates for name in rate})
    return {
        "first": points[0]["taken_at"] if points else None,
        "last": points[-1]["taken_at"] if points else None,
        "average_per_second": {
            n: round(sum(r.get(n, 0) for r in rates) / len(rates), 3) for n in names
        },
        "peak_per_second": {n: max(r.get(n, 0) for r in rates) for n in names},
    }


def _note(count: int) -> str:
    if count >= 2:
        return "deltas and per-second rates are between consecutive samples shown"
    interval = sample_interval()
    when = (
        f"the background sampler takes one every {interval}s"
        if interval > 0
        else "the background sampler is off"
    )
    return f"only one sample so far; deltas appear from the second sample ({when}, and every call takes one)"


class Sampler(threading.Thread):
    """Samples every usable database every ``interval`` seconds until stopped."""

    def __init__(self, *, config: Config, store: SampleStore, interval: int):
        super().__init__(name="database_mcp-sampler", daemon=True)
        self.config, self.store, self.interval = config, store, interval
        self.stopping = threading.Event()
        self.retention = float(os.environ.get("DATABASE_MCP_RETENTION_HOURS", "168")) * 3600

    def run(self) -> None:
        while not self.stopping.is_set():
            for spec in self.config.databases.values():
                self._sample(spec)
            self.store.prune(before=time.time() - self.retention)
            self.stopping.wait(self.interval)

    def _sample(self, spec: DatabaseSpec) -> None:
        try:
            sample_take(spec=spec, store=self.store)
        except DatabaseError as exc:
            logger.warning("sampling %s failed: %s", spec.name, redact(str(exc), spec=spec))
