"""Slack acknowledgement: signed events at 50/s for 20 s, beside a bare 200 view (target p99 ≤ 100 ms).

    REDIS_URL=redis://127.0.0.1:6379/10 CELERY_BROKER_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/slack_ack.py

Starts OMNI2 under uvicorn on 127.0.0.1 (one process), then sends, open loop at a fixed
rate, first GET /bench/bare and then signed app_mention events to POST /slack/events: each
is verified, claimed in Redis (SET NX) and queued on the Redis broker. Latency counts from
the scheduled send time, so a stalled server cannot hide queued-up requests. The queue and
the dedupe keys it wrote are removed at the end. BENCH_RATE / BENCH_SECONDS override the load.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench._serving import wait_until_up
from testing.fake_slack import sign_request
from testing.mcp_servers import free_port

RATE = int(os.environ.get("BENCH_RATE", 50))
SECONDS = int(os.environ.get("BENCH_SECONDS", 20))
WARMUP = 50
SECRET = "bench-signing-secret-0123456789"
RUN_ID = uuid.uuid4().hex[:8].upper()


def start_server(port: int, queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench._slack_ack_settings",
        "BENCH_QUEUE": queue,
        "SLACK_SIGNING_SECRET": SECRET,
        "OMNI2_DEBUG": "false",
        "OMNI2_SECRET_KEY": "bench-" + RUN_ID,
        "OMNI2_SSL_REDIRECT": "false",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "omni2.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )


def event_request(n: int) -> dict:
    payload = {
        "type": "event_callback",
        "event_id": f"EvBENCH{RUN_ID}{n:06d}",
        "team_id": "T0BENCH",
        "event": {
            "type": "app_mention",
            "user": "U0BENCH",
            "channel": "C0BENCH",
            "text": "<@UBOT> how is the database?",
            "ts": f"1700000000.{n:06d}",
        },
    }
    body = json.dumps(payload)
    return {
        "method": "POST",
        "url": "/slack/events",
        "content": body,
        "headers": {**sign_request(body, SECRET), "Content-Type": "application/json"},
    }


async def run_phase(client: httpx.AsyncClient, requests: list[dict]) -> tuple[list[float], int]:
    """Send ``requests`` at RATE per second; return latencies (ms) and the count of non-200s."""
    latencies, failures = [], 0
    start = time.perf_counter()

    async def one(i: int, request: dict) -> None:
        nonlocal failures
        scheduled = start + i / RATE
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            response = await client.request(**request)
            failures += response.status_code != 200
        except httpx.HTTPError:
            failures += 1
        latencies.append((time.perf_counter() - scheduled) * 1000)

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    return latencies, failures


def summary(name: str, latencies: list[float], failures: int) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (
        f"  {name:<34} n={len(latencies):5d}  errors={failures}  p50 {statistics.median(latencies):7.2f} ms"
        f"   p99 {q[98]:7.2f} ms   max {max(latencies):7.2f} ms"
    )


async def bench(base_url: str) -> list[tuple[str, list[float], int]]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as client:
        bare = [{"method": "GET", "url": "/bench/bare"}] * (RATE * SECONDS)
        events = [event_request(n) for n in range(RATE * SECONDS + WARMUP)]
        await run_phase(client, bare[:WARMUP])
        await run_phase(client, events[:WARMUP])
        return [
            ("bare 200 view (GET /bench/bare)", *await run_phase(client, bare)),
            ("signed event ack (POST /slack/events)", *await run_phase(client, events[WARMUP:])),
        ]


def cleanup(queue: str) -> int:
    """Count and drop the queued tasks and the dedupe keys this run wrote."""
    import redis

    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    queued = broker.llen(queue)
    broker.delete(queue)
    cache = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in cache.scan_iter(match=f"omni2:slack:delivery:event:EvBENCH{RUN_ID}*"):
        cache.delete(key)
    return queued


def main() -> None:
    if not (
        os.environ.get("REDIS_URL") and os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
    ):
        print(
            "slack_ack: skipped, needs REDIS_URL and a redis:// CELERY_BROKER_URL (a real Redis broker)"
        )
        return
    port, queue = free_port(), f"bench-slack-ack-{RUN_ID}"
    server = start_server(port, queue)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/bench/bare", server)
        print(
            f"Slack acknowledgement: {RATE} requests/s for {SECONDS} s each, uvicorn (1 process) on loopback"
        )
        for name, latencies, failures in asyncio.run(bench(f"http://127.0.0.1:{port}")):
            print(summary(name, latencies, failures))
        # Other work on the machine shows in every figure: say how busy it was.
        print(f"  load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        server.terminate()
        server.wait(timeout=15)
        print(f"  tasks queued on the Redis broker: {cleanup(queue)} (purged)")


if __name__ == "__main__":
    main()
