"""What the model is offered: the user's permitted tools under model-safe names, and the
system prompt that tells it who it is talking to."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from orchestration.mcp.catalog import Catalog
from permissions.policy.engine import PolicySnapshot, UserPolicy, permitted_tools

from .llm import ToolSpec

MAX_NAME = 64  # the Anthropic and OpenAI limit for a tool name
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
SEPARATOR = "__"


@dataclass(frozen=True)
class Toolbox:
    specs: list[ToolSpec]
    routes: dict[str, tuple[str, str]]  # offered name -> (mcp, tool)
    mcps: list[str]  # MCPs with at least one permitted tool

    def route(self, name: str) -> tuple[str, str] | None:
        """Where an offered name leads; a name never offered is parsed so it can be refused by name."""
        if name in self.routes:
            return self.routes[name]
        mcp, sep, tool = name.partition(SEPARATOR)
        return (mcp, tool) if sep and mcp and tool else None


def tool_name(mcp: str, tool: str, taken: set[str]) -> str:
    """``mcp__tool`` made safe, at most 64 characters, unique among ``taken``."""
    name = _UNSAFE.sub("_", f"{mcp}{SEPARATOR}{tool}")
    if len(name) > MAX_NAME or name in taken:
        digest = hashlib.sha1(f"{mcp}/{tool}".encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - 9]}_{digest}"
    return name


def toolbox_for(snapshot: PolicySnapshot, catalog: Catalog, user: UserPolicy) -> Toolbox:
    specs, routes, mcps = [], {}, []
    for mcp, tool in permitted_tools(snapshot, user):
        info = catalog.tools.get((mcp, tool))
        if info is None or mcp not in catalog.servers:
            continue
        name = tool_name(mcp, tool, set(routes))
        routes[name] = (mcp, tool)
        schema = info.input_schema or {"type": "object", "properties": {}}
        specs.append(
            ToolSpec(
                name=name, description=f"[{mcp}] {info.description}"[:1024], input_schema=schema
            )
        )
        if mcp not in mcps:
            mcps.append(mcp)
    return Toolbox(specs=specs, routes=routes, mcps=mcps)


def system_prompt(*, user: UserPolicy, name: str, toolbox: Toolbox, catalog: Catalog) -> str:
    databases = ", ".join(user.allowed_databases.patterns) or "none"
    servers = (
        "\n".join(
            f"- {mcp}: {catalog.descriptions.get(mcp) or 'no description'}" for mcp in toolbox.mcps
        )
        or "- none: answer from general knowledge only"
    )
    return (
        "You are OMNI2, the assistant between this team and its MCP servers. "
        "Use the tools to answer with real data; never invent results. "
        "A tool result marked as an error (for example a permission denial) is final: "
        "explain it to the user instead of trying to get around it.\n\n"
        f"User: {name or user.email or 'unknown user'} ({user.email or 'not registered'})\n"
        f"Role: {user.role}\n"
        f"Databases this user may query: {databases}\n"
        f"MCP servers this user may use:\n{servers}\n\n"
        "Answer in concise Markdown."
    )
