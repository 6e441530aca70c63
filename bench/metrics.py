"""What Prometheus metrics add to a tool call (issue 18). Run: ``.venv/bin/python bench/metrics.py``.

Part 1, the update alone: the per-call cost of what every tool call now runs on its way out
    (``core.metrics.tool_call_observed``: one counter and one histogram observation, in
    multiprocess mode, i.e. written to this process's mmap file), beside the same update on
    in-memory metrics, the tracing decorator with tracing off, and a plain function call.
Part 2, in a real call: ``echo`` over streamable HTTP through OMNI2's pool (as a Django view or
    Celery task calls it), with and without the update, interleaved in rounds against one server.
Part 3, the scrape: ``GET /metrics``'s exposition over the files of 1, 8 and 32 processes.

It runs in a scratch PROMETHEUS_MULTIPROC_DIR of its own, deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SCRATCH = tempfile.TemporaryDirectory(prefix="omni2-bench-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = SCRATCH.name  # before core.metrics is imported
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

from prometheus_client import CollectorRegistry, Counter, Histogram, values

from core import metrics, tracing
from orchestration.mcp import McpPool, PoolConfig
from testing.mcp_servers import run_mcp_server

TOOLS = [f"tool_{i:02d}" for i in range(20)]  # a realistic spread of label sets
OUTCOMES = ["success", "error", "denied"]


def _in_memory_update():
    """``tool_call_observed`` on metrics held in process memory (no multiprocess files)."""
    saved, values.ValueClass = values.ValueClass, values.MutexValue
    try:
        registry = CollectorRegistry()
        calls = Counter("bench_calls", "", ["mcp", "tool", "outcome"], registry=registry)
        seconds = Histogram("bench_seconds", "", ["mcp"], buckets=metrics.TOOL_CALL_BUCKETS)
    finally:
        values.ValueClass = saved

    def update(*, mcp, tool, outcome, error_code, seconds_taken):
        calls.labels(mcp, tool, outcome).inc()
        if error_code is None:
            seconds.labels(mcp).observe(seconds_taken)

    return update


def _plain(**call):
    return call


@tracing.tool_call_span
def _decorated(**call):
    return call


def _per_call_ns(function, n: int) -> float:
    labels = [(TOOLS[i % len(TOOLS)], OUTCOMES[i % len(OUTCOMES)]) for i in range(n)]
    started = time.perf_counter_ns()
    for tool, outcome in labels:
        function(tool, outcome)
    return (time.perf_counter_ns() - started) / n


def update_costs(n: int, rounds: int) -> dict[str, float]:
    """Part 1: ns per call, the median of ``rounds`` interleaved rounds of ``n`` calls."""
    in_memory = _in_memory_update()
    variants = {
        "plain function call (baseline)": lambda t, o: _plain(mcp="m", tool=t),
        "tracing decorator, tracing off": lambda t, o: _decorated(mcp="m", tool=t),
        "counter + histogram, in memory": lambda t, o: in_memory(
            mcp="m", tool=t, outcome=o, error_code=None, seconds_taken=0.004
        ),
        "counter + histogram, multiprocess (OMNI2)": lambda t, o: metrics.tool_call_observed(
            mcp="m", tool=t, outcome=o, error_code=None, seconds=0.004
        ),
    }
    samples = {name: [] for name in variants}
    for _ in range(rounds):
        for name, function in variants.items():
            samples[name].append(_per_call_ns(function, n))
    return {name: statistics.median(values_) for name, values_ in samples.items()}


def _round(pool, spec, calls: int, observe: bool) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        pool.call_tool(spec, "echo", {"text": "hello"})
        if observe:
            metrics.tool_call_observed(
                mcp="bench",
                tool="echo",
                outcome="success",
                error_code=None,
                seconds=time.perf_counter() - started,
            )
        samples.append(time.perf_counter() - started)
    return samples


def call_costs(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """Part 2: an echo call through the pool, with and without the metrics update."""
    with run_mcp_server("http") as server:
        pool = McpPool(PoolConfig())
        spec = server.spec("bench")
        _round(pool, spec, 100, observe=True)  # warm: session, tool listing, label sets
        plain, observed = [], []
        for _ in range(rounds):
            plain += _round(pool, spec, calls // rounds, observe=False)
            observed += _round(pool, spec, calls // rounds, observe=True)
        pool.close()
    return {"without metrics": _summary(plain), "with metrics": _summary(observed)}


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[round(0.99 * (len(ordered) - 1))] * 1e6,
        "mean_us": statistics.fmean(ordered) * 1e6,
    }


def _write_as_process(updates: int) -> None:
    pid = os.fork()
    if pid == 0:  # the child writes its own file (core.metrics names it after its pid)
        for i in range(updates):
            metrics.tool_call_observed(
                mcp="bench",
                tool=TOOLS[i % len(TOOLS)],
                outcome=OUTCOMES[i % len(OUTCOMES)],
                error_code=None,
                seconds=0.004,
            )
        os._exit(0)
    os.waitpid(pid, 0)


def scrape_costs(process_counts=(1, 8, 32), repeats: int = 20) -> dict[int, float]:
    """Part 3: ms per exposition over the files of N processes (each with 60 label sets)."""
    results, written = {}, 0
    for count in process_counts:
        while written < count:
            _write_as_process(len(TOOLS) * len(OUTCOMES))
            written += 1
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            metrics.exposition()
            timings.append(time.perf_counter() - started)
        results[count] = statistics.median(timings) * 1000
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000, help="per round, part 1")
    parser.add_argument("--calls", type=int, default=4000, help="per variant, part 2")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {SCRATCH.name}")
    print("\nPart 1: one metrics update, ns per call (median of rounds)")
    for name, ns in update_costs(args.updates, args.rounds).items():
        print(f"  {name:45s} {ns:8.0f} ns")
    print("\nPart 2: echo over streamable HTTP through the pool, µs per call")
    for name, row in call_costs(args.calls, args.rounds).items():
        print(
            f"  {name:18s} n={row['n']}  p50 {row['p50_us']:7.1f}  "
            f"p99 {row['p99_us']:7.1f}  mean {row['mean_us']:7.1f}"
        )
    print("\nPart 3: GET /metrics exposition, ms (median of 20)")
    for count, ms in scrape_costs().items():
        print(f"  files of {count:2d} processes (+ this one)  {ms:6.2f} ms")
    SCRATCH.cleanup()


if __name__ == "__main__":
    main()
