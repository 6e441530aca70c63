"""A Celery task for tests: open a stdio MCP session in a worker process through the process pool.

Loaded only by test workers (``celery worker --include testing.mcp_servers.worker_tasks``),
so a test can SIGTERM the worker and check that the stdio server went with it.
"""

from celery import shared_task


@shared_task(name="testing.mcp_stdio_server_pid")
def mcp_stdio_server_pid(spec: dict) -> int:
    from orchestration.mcp import ServerSpec, get_pool

    spec = ServerSpec(
        **{**spec, "args": tuple(spec["args"]), "env": tuple(map(tuple, spec["env"]))}
    )
    return get_pool().call_tool(spec, "server_stats").structured["pid"]
