"""The floor of any Python HTTP gateway in front of an MCP server on this box (context for issue 5).

Run: ``.venv/bin/python bench/gateway_floor.py [--calls N] [--clients 8]``

A minimal ASGI app under uvicorn (one process, httptools) that does nothing but what every
gateway must: parse a JSON body, call ``echo`` on one SDK session opened on the server's own
event loop, answer JSON. No auth, limiter, policy, validation or audit; no Django. It runs
beside the same calls made directly on one reused SDK session, interleaved in rounds, like
part 1 of ``bench/mcp_calls.py``. What this floor adds is what no Python gateway here can
avoid: one more HTTP hop and one more process on the same two cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench._serving import wait_until_up
from bench.mcp_calls import (
    ARGS,
    DirectSession,
    alternating_throughput,
    concurrent_throughput,
    summary,
)
from testing.mcp_servers import free_port, run_mcp_server


def floor_app(mcp_url: str):
    """The ASGI app: POST any path with ``{"arguments": {...}}`` → ``{"result": ...}``."""
    from mcp import Client

    state = {}

    @asynccontextmanager
    async def session():
        async with Client(mcp_url, cache=None) as client:
            state["client"] = client
            yield

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            holder = session()
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await holder.__aenter__()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await holder.__aexit__(None, None, None)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["method"] == "GET":  # readiness
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        result = await state["client"].call_tool("echo", json.loads(body)["arguments"])
        payload = json.dumps({"result": result.content[0].text}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def serve(mcp_url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(floor_app(mcp_url), port=port, log_level="warning", access_log=False, lifespan="on")


def floor_round(client: httpx.Client, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.post("/call", json={"arguments": ARGS})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with run_mcp_server("http") as server:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", server.url, str(port)], cwd=BASE_DIR
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/ready", proc)
            direct = DirectSession(server.url)
            with httpx.Client(base_url=base, timeout=30) as client:
                floor_round(client, 50)
                direct.round(50)
                gateway, reused = [], []
                for _ in range(10):
                    gateway += floor_round(client, args.calls // 10)
                    reused += direct.round(args.calls // 10)

            def each_client(n):
                with httpx.Client(base_url=base, timeout=60) as own:
                    return floor_round(own, n)

            tput = alternating_throughput(
                lambda: concurrent_throughput(
                    each_client, args.clients, args.calls // args.clients
                ),
                lambda: concurrent_throughput(
                    direct.round, args.clients, args.calls // args.clients
                ),
            )
            direct.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    floor, base_row = summary(gateway), summary(reused)
    print("Gateway floor: a bare ASGI app (uvicorn, one process) relaying echo to one SDK session")
    print(
        f"  bare gateway                       p50 {floor['p50_ms']:6.2f} ms  p99 {floor['p99_ms']:6.2f} ms"
    )
    print(
        f"  direct SDK session, reused         p50 {base_row['p50_ms']:6.2f} ms  p99 {base_row['p99_ms']:6.2f} ms"
    )
    print(
        f"  the floor adds {floor['p50_ms'] - base_row['p50_ms']:.2f} ms at p50 (issue 5's target for all of OMNI2: <= 3 ms)"
    )
    print(
        f"  {args.clients} concurrent clients, median of {len(tput['ratios'])} alternating rounds: floor "
        f"{tput['rest_tput']:.0f} calls/s vs direct {tput['direct_tput']:.0f} calls/s = {tput['ratio']:.2f}x "
        f"(target for all of OMNI2: >= 0.5x; rounds {', '.join(f'{r:.2f}' for r in tput['ratios'])})"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
