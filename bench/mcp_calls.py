"""Benchmarks for MCP calls (issue 5). Run: ``.venv/bin/python bench/mcp_calls.py [--calls N]``.

Part 1, gateway overhead: ``POST /api/mcp/tools/call`` served by uvicorn (API key auth, rate
    limiter, policy re-check, schema validation, the pooled call, the audit row) beside the same
    echo calls on one reused SDK session, sequential and with 8 concurrent clients. It runs in a
    scratch database (a sibling PostgreSQL database when DATABASE_URL names one), dropped after.
Part 2, session lifecycle: the per-call time of one ``echo`` call over streamable HTTP
    (a) through OMNI2's pool (sync API, as a Django view or Celery task calls it),
    (b) on one reused SDK session driven directly (the baseline the pool must stay within 10 % of),
    (c) on a new SDK session per call,
    (d) on a new stdio server process per call.
(a) and (b) run interleaved in rounds against the same server, so drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from mcp import Client, StdioServerParameters

from bench._serving import wait_until_up
from orchestration.mcp import McpPool, PoolConfig
from testing.mcp_servers import free_port, run_mcp_server

ARGS = {"text": "hello"}


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


class DirectSession:
    """Baseline: one SDK client kept open on its own loop thread; timing is taken inside that loop."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stop = None
        self.client = self._run(self._open(url))

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def _open(self, url: str) -> Client:
        ready, self.stop = asyncio.get_running_loop().create_future(), asyncio.Event()

        async def hold():
            async with Client(url, cache=None) as client:
                ready.set_result(client)
                await self.stop.wait()

        self.holder = asyncio.create_task(hold())
        return await ready

    async def _round(self, calls: int, gap: float) -> list[float]:
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            await self.client.call_tool("echo", ARGS)
            samples.append(time.perf_counter() - started)
            if gap:
                await asyncio.sleep(gap)
        return samples

    def round(self, calls: int, gap: float = 0.0) -> list[float]:
        """``calls`` calls back to back, or with ``gap`` seconds of idle (not timed) after each."""
        return self._run(self._round(calls, gap))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self._run(asyncio.wait_for(asyncio.shield(self.holder), 10))
        self.loop.call_soon_threadsafe(self.loop.stop)


def pooled_round(pool: McpPool, spec, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        pool.call_tool(spec, "echo", ARGS)
        samples.append(time.perf_counter() - started)
    return samples


async def new_session_per_call(server, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        async with Client(server, cache=None) as client:
            await client.call_tool("echo", ARGS)
        samples.append(time.perf_counter() - started)
    return samples


def session_lifecycle(
    calls: int, fresh_calls: int, stdio_calls: int, rounds: int = 10
) -> dict[str, dict]:
    """Part 2 of the issue's benchmarks."""
    with run_mcp_server("http") as server:
        pool = McpPool(PoolConfig())
        spec = server.spec("bench")
        direct = DirectSession(server.url)
        pooled_round(pool, spec, 50)  # warm both paths (connections, first-call tool listing)
        direct.round(50)
        pooled, reused = [], []
        for _ in range(rounds):
            pooled += pooled_round(pool, spec, calls // rounds)
            reused += direct.round(calls // rounds)
        fresh = asyncio.run(new_session_per_call(server.url, fresh_calls))
        direct.close()
        pool.close()
    stdio = run_mcp_server("stdio").spec("bench")
    params = StdioServerParameters(
        command=stdio.command, args=list(stdio.args), env=dict(stdio.env)
    )
    spawned = asyncio.run(new_session_per_call(params, stdio_calls))
    return {
        "(a) OMNI2 pool, sync API": summary(pooled),
        "(b) direct SDK session, reused": summary(reused),
        "(c) new SDK session per call": summary(fresh),
        "(d) new stdio process per call": summary(spawned),
    }


@contextmanager
def scratch_database():
    """A throwaway database for the gateway run (audit rows are append-only, so none go to yours).

    PostgreSQL when DATABASE_URL names one (a sibling database, dropped afterwards), else SQLite.
    """
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"omni2_bench_{os.getpid()}"
        admin = base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield base.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory(prefix="omni2-bench-") as work:
            yield f"sqlite:///{work}/bench.sqlite3"


def _gateway_rows(server_url: str) -> str:
    """A user whose role has a (huge) hourly limit, so the limiter runs; its API key; the MCP row."""
    from orchestration.mcp.discovery import mcp_tools_refresh
    from permissions.models import McpServer, Role
    from permissions.services import api_key_create, user_create

    Role.objects.create(name="bench", requests_per_hour=10_000_000)
    user = user_create(email="bench@example.com", role="bench")
    McpServer.objects.create(name="bench_mcp", transport="http", url=server_url)
    assert mcp_tools_refresh(names=["bench_mcp"])[0]["ok"]
    return api_key_create(user=user)[1]


def _uvicorn(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "omni2.web",
        "omni2.asgi:application",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


# name -> (command, extra environment)
SERVERS = {
    # WSGI threads keep their database connections; every call is Django's.
    "gunicorn": (
        lambda port, workers: [
            sys.executable,
            "-m",
            "gunicorn",
            "omni2.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-k",
            "gthread",
            "--threads",
            "8",
            "-w",
            str(workers),
            "--log-level",
            "warning",
        ],
        {},
    ),
    # The ASGI app with the fast path off: Django serves the call (its sync code in a thread).
    "uvicorn-django": (_uvicorn, {"OMNI2_FAST_PATH": "false"}),
    # `make run` and the Dockerfile: a known caller's call on the server's event loop.
    "uvicorn": (_uvicorn, {}),
}


@contextmanager
def omni2_server(env: dict, port: int, workers: int, server: str):
    command, extra = SERVERS[server]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command(port, workers), cwd=BASE_DIR, env={**env, **extra}, stderr=log
        )
        try:
            wait_until_up(
                f"http://127.0.0.1:{port}/api/me", proc, status=401
            )  # up, and asking for a key
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.seek(0)
            output = log.read().decode(errors="replace")
            # Which path served the calls, as each worker reports at shutdown.
            for line in output.splitlines():
                if "Fast tool-call path served" in line or "Traceback" in line or "ERROR" in line:
                    print(f"    [{server}] {line.split(': ', 1)[-1]}")


def rest_round(client: httpx.Client, calls: int) -> list[float]:
    samples = []
    body = {"mcp": "bench_mcp", "tool": "echo", "arguments": ARGS}
    for _ in range(calls):
        started = time.perf_counter()
        response = client.post("/api/mcp/tools/call", json=body)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and response.json()["success"], response.text
    return samples


async def rest_concurrent(base: str, headers: dict, clients: int, calls_each: int) -> float:
    """Calls per second through the gateway from ``clients`` tasks on one async HTTP client (a
    keep-alive connection each), as the direct baseline's clients are tasks on one session."""
    body = {"mcp": "bench_mcp", "tool": "echo", "arguments": ARGS}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one_client():
            for _ in range(calls_each):
                response = await client.post("/api/mcp/tools/call", json=body)
                assert response.status_code == 200 and response.json()["success"], response.text

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return clients * calls_each / (time.perf_counter() - started)


def concurrent_throughput(make_round, clients: int, calls_each: int) -> float:
    """Calls per second with ``clients`` threads each making ``calls_each`` calls."""
    with ThreadPoolExecutor(max_workers=clients) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: make_round(calls_each), range(clients)))
        return clients * calls_each / (time.perf_counter() - started)


def alternating_throughput(gateway, direct, rounds: int = 3) -> dict:
    """Gateway and direct throughput measured in alternating rounds; medians, and the median of
    the rounds' ratios. One round each swings by ±30 % on a shared VM; alternating rounds let
    both sides see the same spells of noise."""
    pairs = [(gateway(), direct()) for _ in range(rounds)]
    return {
        "rest_tput": statistics.median(g for g, _ in pairs),
        "direct_tput": statistics.median(d for _, d in pairs),
        "ratio": statistics.median(g / d for g, d in pairs),
        "ratios": [round(g / d, 2) for g, d in pairs],
    }


def gateway_overhead(
    calls: int, clients: int, workers: list[int], server_kinds: list[str], rounds: int = 10
) -> list[dict]:
    """Part 1: ``calls`` sequential echo calls through ``POST /api/mcp/tools/call`` (real auth,
    limiter, policy and audit) beside the same calls on one reused SDK session, interleaved in
    rounds; then ``clients`` concurrent clients on each path. Once per web server kind.
    """
    results = []
    with scratch_database() as database_url, run_mcp_server("http") as server:
        # Production settings (DEBUG off); plain HTTP on loopback, so no HTTPS redirect.
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "omni2.settings",
            "OMNI2_DEBUG": "false",
            "OMNI2_SECRET_KEY": secrets.token_urlsafe(50),
            "OMNI2_SSL_REDIRECT": "false",
        }
        os.environ.update(env)
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", verbosity=0)
        key = _gateway_rows(server.url)
        connections.close_all()
        direct = DirectSession(server.url)
        for kind in server_kinds:
            for count in workers:
                results.append(_gateway_run(env, key, direct, kind, calls, clients, count, rounds))
        direct.close()
    return results


def _gateway_run(env, key, direct, kind, calls, clients, workers, rounds) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    with (
        omni2_server(env, port=free_port(), workers=workers, server=kind) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
    ):
        rest_round(client, 50)
        direct.round(50)
        rest, reused = [], []
        for _ in range(rounds):
            rest += rest_round(client, calls // rounds)
            reused += direct.round(calls // rounds)

        tput = alternating_throughput(
            lambda: asyncio.run(rest_concurrent(base, headers, clients, calls // clients)),
            lambda: concurrent_throughput(direct.round, clients, calls // clients),
        )
    # Context, not the target's baseline: the same direct calls, each followed by as much idle
    # time as the gateway spends around its MCP call, so the server and the CPUs cool down alike.
    gap = max(summary(rest)["p50_ms"] - summary(reused)["p50_ms"], 0) / 1000
    spaced = direct.round(calls // 2, gap=gap)
    return {
        "rest": summary(rest),
        "direct": summary(reused),
        "spaced": summary(spaced),
        "gap_ms": gap * 1000,
        **tput,
        "clients": clients,
        "workers": workers,
        "server": kind,
    }


def print_gateway(result: dict) -> None:
    rest, direct = result["rest"], result["direct"]
    print(
        f"Part 1 — gateway overhead: echo over streamable HTTP, sequential, served by {result['server']}"
    )
    for name, row in [("POST /api/mcp/tools/call", rest), ("direct SDK session, reused", direct)]:
        print(
            f"  {name:34} n={row['n']:5}  p50 {row['p50_ms']:8.2f} ms  p99 {row['p99_ms']:8.2f} ms"
        )
    added = rest["p50_ms"] - direct["p50_ms"]
    print(
        f"  OMNI2 adds {added:.2f} ms at p50 (target <= 3 ms), {rest['p99_ms'] - direct['p99_ms']:.2f} ms at p99"
    )
    spaced = result["spaced"]
    print(
        f"  context: direct calls each followed by {result['gap_ms']:.1f} ms idle: p50 {spaced['p50_ms']:.2f} ms "
        f"(+{spaced['p50_ms'] - direct['p50_ms']:.2f} ms from idle alone), p99 {spaced['p99_ms']:.2f} ms"
    )
    print(
        f"  {result['clients']} concurrent clients, median of {len(result['ratios'])} alternating rounds: "
        f"OMNI2 {result['rest_tput']:.0f} calls/s ({result['server']} workers={result['workers']}) vs direct "
        f"{result['direct_tput']:.0f} calls/s = {result['ratio']:.2f}x (target >= 0.5x; rounds "
        f"{', '.join(f'{r:.2f}' for r in result['ratios'])})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls for (a) and (b) each")
    parser.add_argument("--fresh-calls", type=int, default=200, help="calls for (c)")
    parser.add_argument("--stdio-calls", type=int, default=20, help="calls for (d)")
    parser.add_argument(
        "--gateway-calls", type=int, default=500, help="calls for part 1 (each path)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for part 1")
    parser.add_argument(
        "--workers", default="1,2", help="web worker processes for part 1 (one run each)"
    )
    parser.add_argument(
        "--servers",
        default="gunicorn,uvicorn-django,uvicorn",
        help=f"web servers for part 1, of {', '.join(SERVERS)}",
    )
    parser.add_argument("--skip-gateway", action="store_true")
    parser.add_argument("--skip-lifecycle", action="store_true")
    args = parser.parse_args()
    if not args.skip_gateway:
        for result in gateway_overhead(
            args.gateway_calls,
            args.clients,
            [int(n) for n in args.workers.split(",")],
            args.servers.split(","),
        ):
            print_gateway(result)
    if args.skip_lifecycle:
        return
    print("Part 2 — session lifecycle: echo tool, streamable HTTP unless noted")
    results = session_lifecycle(args.calls, args.fresh_calls, args.stdio_calls)
    for name, row in results.items():
        print(
            f"  {name:34} n={row['n']:5}  p50 {row['p50_ms']:8.2f} ms  p99 {row['p99_ms']:8.2f} ms  "
            f"mean {row['mean_ms']:8.2f} ms"
        )
    pooled, reused = results["(a) OMNI2 pool, sync API"], results["(b) direct SDK session, reused"]
    ratio = pooled["p50_ms"] / reused["p50_ms"]
    verdict = "within" if ratio <= 1.10 else "NOT within"
    print(
        f"  pool / direct at p50: {ratio:.3f} ({verdict} the 10 % target); "
        f"p99 ratio {pooled['p99_ms'] / reused['p99_ms']:.3f}"
    )


if __name__ == "__main__":
    main()
