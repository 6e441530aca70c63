"""Who is calling: the identity OMNI2 puts in each tools/call request's ``_meta``.

OMNI2 sends ``{"omni2/user": {"email": ..., "role": ..., "is_admin": bool}}`` (see
``orchestration.toolcalls.caller_meta``). A tool reads it from its request context; a request
without it came from someone else than OMNI2's gateway (an operator running the server with
its own credentials), and each server decides what such a caller may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.mcpserver import Context

META_KEY = "omni2/user"


@dataclass(frozen=True)
class Caller:
    email: str
    role: str
    is_admin: bool


def caller_from_meta(meta) -> Caller | None:
    """The caller named in a request's ``_meta``; None when it names nobody (not sent by OMNI2)."""
    identity = meta.get(META_KEY) if isinstance(meta, dict) else None
    if not isinstance(identity, dict):
        return None
    email, role = identity.get("email"), identity.get("role")
    return Caller(
        email=email.strip().lower() if isinstance(email, str) else "",
        role=role if isinstance(role, str) else "",
        is_admin=identity.get("is_admin") is True,
    )


def caller_of(ctx: Context | None) -> Caller | None:
    """The caller of the request ``ctx`` belongs to (None outside a request or without identity)."""
    try:
        meta = ctx.request_context.meta if ctx is not None else None
    except ValueError:  # a Context outside a request
        return None
    return caller_from_meta(meta)
