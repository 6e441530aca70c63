"""An ASGI application under a real uvicorn, in a thread of the test process."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from .mcp_servers import free_port


@contextmanager
def uvicorn_in_thread(app, *, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` (lifespan included) on a free loopback port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn-in-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
