"""stdio servers never outlive their owner: close(), normal exit, SIGKILL of the parent, fork."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import asdict
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def process_alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_until_gone(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def run_owner(body: str, *, linger_seconds: float = 0) -> subprocess.Popen:
    """A separate Python process that owns a pool with one stdio session and prints the server's pid.

    A lingering server ignores the end of its stdin, so only a kill can end it.
    """
    script = textwrap.dedent(f"""
        import os, sys, time
        from orchestration.mcp import McpPool, PoolConfig, get_pool
        from testing.mcp_servers import run_mcp_server
        spec = run_mcp_server("stdio").spec("local", linger_seconds={linger_seconds})
        pool = McpPool(PoolConfig())
        print(pool.call_tool(spec, "server_stats").structured["pid"], flush=True)
    """) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(BASE_DIR)},
    )


def test_close_ends_every_stdio_child_even_one_that_ignores_its_stdin_closing(mcp_pool, mcp_server):
    pids = [
        mcp_pool.call_tool(
            mcp_server("stdio").spec(name, linger_seconds=linger), "server_stats"
        ).structured["pid"]
        for name, linger in (("polite", 0), ("stubborn", 600))
    ]
    assert all(process_alive(pid) for pid in pids)

    mcp_pool.close()

    assert all(wait_until_gone(pid) for pid in pids)


def test_the_child_ends_when_its_owner_exits_without_closing():
    owner = run_owner("sys.exit(0)", linger_seconds=600)
    child = int(owner.stdout.readline())
    owner.wait(timeout=30)

    assert wait_until_gone(child)


def test_the_child_dies_with_its_owner_even_on_sigkill():
    owner = run_owner("time.sleep(600)", linger_seconds=600)
    child = int(owner.stdout.readline())
    assert process_alive(child)

    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=30)

    assert wait_until_gone(child)


def test_a_forked_child_gets_its_own_working_pool():
    owner = run_owner("""
        pool.close()
        shared = get_pool()
        shared.call_tool(spec, "echo", {"text": "parent"})
        pid = os.fork()
        if pid == 0:
            fresh = get_pool()
            answer = fresh.call_tool(spec, "echo", {"text": "child"}).text
            print("child", answer, fresh is not shared, flush=True)
            fresh.close()
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent", shared.call_tool(spec, "echo", {"text": "parent"}).text, flush=True)
    """)
    owner.stdout.readline()  # the first server's pid

    lines = [owner.stdout.readline().strip(), owner.stdout.readline().strip()]
    owner.wait(timeout=60)

    assert lines == ["child child True", "parent parent"]


def test_a_celery_worker_stopped_with_sigterm_leaves_no_stdio_child(mcp_server, tmp_path):
    from omni2.celery import app

    spec = mcp_server("stdio").spec("local", linger_seconds=600)
    queue, log_path = f"test-mcp-{uuid.uuid4().hex[:8]}", tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "omni2",
                "worker",
                "-Q",
                queue,
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--include",
                "testing.mcp_servers.worker_tasks",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        child = app.send_task("testing.mcp_stdio_server_pid", args=[asdict(spec)], queue=queue).get(
            timeout=120
        )
        assert process_alive(child)

        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

        assert wait_until_gone(child)
        assert "MCP pool closed (1 sessions)" in log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
