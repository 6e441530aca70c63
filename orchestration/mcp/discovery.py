"""Tool discovery and per-server health."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.db.models import Count

from core.memo import FreshMemo
from permissions.models import McpServer
from permissions.services import discovered_tools_sync

from .catalog import server_spec
from .pool import get_pool
from .types import McpError, ServerHealth, ToolInfo

logger = logging.getLogger(__name__)
HEALTH_PROBE_SECONDS = 5.0


def _servers(names: list[str] | None) -> list[McpServer]:
    servers = McpServer.objects.filter(enabled=True).order_by("name")
    return list(servers.filter(name__in=names) if names else servers)


def _parallel(function, items):
    if not items:
        return []
    # One slow server must not hold up the others: probe them side by side.
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(function, items))


def _tools_store(server: McpServer, tools: list[ToolInfo]) -> None:
    discovered_tools_sync(
        server=server,
        tools=[
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in tools
        ],
    )


def _fetch_tools(spec) -> list[ToolInfo] | McpError:
    try:
        return get_pool().list_tools(spec)
    except McpError as exc:
        return exc


def mcp_tools_refresh(*, names: list[str] | None = None) -> list[dict]:
    """Ask each enabled server (or the named ones) for its tools and store them.

    Servers are asked side by side; the rows are written here, in the caller's thread and
    transaction. A server that cannot be reached keeps the tools of its last refresh.
    """
    servers = _servers(names)
    answers = _parallel(_fetch_tools, [server_spec(server) for server in servers])
    results = []
    for server, answer in zip(servers, answers, strict=True):
        if isinstance(answer, McpError):
            logger.warning("discovery: %s unreachable: %s", server.name, answer.message)
            results.append(
                {"name": server.name, "ok": False, "tools": None, "error": answer.message}
            )
        else:
            _tools_store(server, answer)
            results.append({"name": server.name, "ok": True, "tools": len(answer), "error": ""})
    return results


def _status(server: McpServer, health: ServerHealth | None) -> str:
    if not server.enabled:
        return "disabled"
    if health is None or health.reachable is None:
        return "unknown"
    if health.circuit_open:
        return "circuit_open"
    return "healthy" if health.reachable else "unreachable"


def _probe(spec) -> ServerHealth | None:
    if spec is None:
        return None
    return get_pool().probe(spec, timeout=min(spec.timeout_seconds, HEALTH_PROBE_SECONDS))


# Recent probe results by connection fingerprint (core.memo: about the server, not the policy).
_probed: FreshMemo[str, ServerHealth] = FreshMemo("mcp health probes", bound=1_000)


def mcp_health_list(
    *, probe: bool = True, names: set[str] | None = None, max_age: float = 0.0
) -> list[dict]:
    """Health of every configured server (or the named ones).

    With ``probe``, a server is probed live unless this process probed the same connection
    less than ``max_age`` seconds ago: a load balancer polling /health does not turn into a
    stream of probes, and one hung server costs its timeout at most once per ``max_age``.
    Without, the pool's last known state is reported.
    """
    servers = McpServer.objects.order_by("name")
    servers = list(servers.filter(name__in=names) if names else servers)
    if probe:
        healths = _probed_healths(servers, max_age)
    else:
        known = get_pool().health()
        healths = [known.get(s.name) if s.enabled else None for s in servers]
    counts = _tool_counts()
    return [
        _health_row(server, health, counts.get(server.name, 0))
        for server, health in zip(servers, healths, strict=True)
    ]


def _probed_healths(servers: list[McpServer], max_age: float) -> list[ServerHealth | None]:
    """Each enabled server's health from a probe of its connection younger than ``max_age``,
    probing the others now, side by side; None for a disabled server."""
    specs = {s.name: server_spec(s) for s in servers if s.enabled}
    known = {name: _probed.get(spec.fingerprint, max_age=max_age) for name, spec in specs.items()}
    stale = [spec for spec in specs.values() if known[spec.name] is None]
    for spec, health in zip(stale, _parallel(_probe, stale), strict=True):
        known[spec.name] = _probed.put(spec.fingerprint, health)
    return [known.get(s.name) for s in servers]


def _tool_counts() -> dict[str, int]:
    rows = McpServer.objects.annotate(n=Count("tools")).values_list("name", "n")
    return dict(rows)


def _health_row(server: McpServer, health: ServerHealth | None, stored_tools: int) -> dict:
    return {
        "name": server.name,
        "enabled": server.enabled,
        "status": _status(server, health),
        "tools": health.tool_count if health and health.tool_count is not None else stored_tools,
        "latency_ms": round(health.latency_ms, 1)
        if health and health.latency_ms is not None
        else None,
        "last_error": (health.last_error if health else "") or "",
        "last_error_code": (health.last_error_code if health else "") or "",
    }
