"""Waiting for the servers a benchmark starts: one helper for every script under bench/."""

import subprocess
import time

import httpx


def wait_until_up(
    url: str, process: subprocess.Popen, *, status: int = 200, timeout: float = 30.0
) -> None:
    """Poll ``url`` until it answers ``status``; stop the run if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(
        f"bench: {url} did not come up (server {'exited' if process.poll() is not None else 'hung'})"
    )
