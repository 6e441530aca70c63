"""What OMNI2 knows of its MCP servers: how to reach them and which tools they have.

Built from the policy tables and memoised per process under the policy version (``core.memo``),
so a change in admin (a new token, a refreshed tool list) is picked up at the next call.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from core.dburl import current_database_url
from core.memo import VersionMemo
from permissions.models import DiscoveredTool, McpServer
from permissions.policy.engine import PolicySnapshot
from permissions.policy.snapshot import policy_snapshot

from .types import ServerSpec, ToolInfo

_PYTHON_NAMES = {"python", "python3", "python3.11"}


@dataclass(frozen=True)
class Catalog:
    version: str
    servers: Mapping[str, ServerSpec]  # enabled servers only
    descriptions: Mapping[str, str]
    tools: Mapping[tuple[str, str], ToolInfo]  # discovered tools of enabled servers
    # Compiled JSON-schema validators, filled on first use (see toolcalls.arguments_problem).
    validators: dict = field(default_factory=dict, repr=False, compare=False)


def server_spec(server: McpServer) -> ServerSpec:
    """The connection spec of one row, secrets decrypted for the connectivity layer only."""
    token, env = server.connection_secrets()
    command, args = server.command, list(server.args or [])
    if server.transport == McpServer.Transport.STDIO and command in _PYTHON_NAMES:
        # "python" means OMNI2's own interpreter with OMNI2's code importable
        # (e.g. `python manage.py run_analytics_mcp`, `python -m examples.qa_mcp`).
        command = sys.executable
        base = Path(settings.BASE_DIR)
        own = bool(args) and args[0] == "manage.py"
        args = [str(base / arg) if (base / arg).is_file() else arg for arg in args]
        env = {"PYTHONPATH": str(base), **_inherited_env(omni2_own=own), **env}
    return ServerSpec(
        name=server.name,
        transport=server.transport,
        url=server.url,
        command=command,
        args=tuple(args),
        env=env,
        bearer_token=token,
        timeout_seconds=server.timeout_seconds,
    )


def _inherited_env(*, omni2_own: bool) -> dict[str, str]:
    """What a ``python`` stdio server gets beyond the SDK's minimal environment.

    Every one gets OMNI2's var directory (where shared files and reports live). Only OMNI2's
    own servers, declared by being launched as ``python manage.py ...``, get the database URL,
    Redis and the secret key: a ``python -m some_server`` is code OMNI2 merely starts.
    """
    env = {"OMNI2_VAR_DIR": str(settings.VAR_DIR)}
    if omni2_own:
        keys = ("REDIS_URL", "OMNI2_SECRET_KEY", "DJANGO_SETTINGS_MODULE")
        env |= {
            "DATABASE_URL": current_database_url(),
            **{key: os.environ[key] for key in keys if key in os.environ},
        }
    return env


_catalogs: VersionMemo[Catalog] = VersionMemo("mcp catalog")


def catalog(snapshot: PolicySnapshot | None = None) -> Catalog:
    """The catalog matching ``snapshot`` (the live policy when omitted).

    Keyed on the snapshot's version, so a caller that already holds the snapshot pays no
    second cache read; a snapshot of uncommitted or uncached rows gets a fresh, unshared build.
    """
    version = (snapshot or policy_snapshot()).version
    return _catalogs.get_or_build(version, lambda: _catalog_build(version))


def catalog_memoised(version: str) -> Catalog | None:
    """This process's catalog if it was built for policy ``version``; no I/O."""
    return _catalogs.get(version)


def _catalog_build(version: str) -> Catalog:
    servers = list(McpServer.objects.filter(enabled=True))
    tools = DiscoveredTool.objects.filter(mcp__enabled=True).select_related("mcp")
    return Catalog(
        version=version,
        servers={server.name: server_spec(server) for server in servers},
        descriptions={server.name: server.description for server in servers},
        tools={
            (tool.mcp.name, tool.name): ToolInfo(
                name=tool.name, description=tool.description, input_schema=tool.input_schema or {}
            )
            for tool in tools
        },
    )
