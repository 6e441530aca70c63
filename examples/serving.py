"""Command line and transports shared by the example MCP servers.

Each server runs as ``python -m examples.<name> [--transport stdio|http] [--host H] [--port N]``.
Logs go to stderr only: on stdio, stdout *is* the MCP transport.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from mcp.server.mcpserver import MCPServer


def serving_parse_args(
    *, prog: str, default_port: int, argv: list[str] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=f"Run the {prog} MCP server.")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--log-level", default=os.environ.get("MCP_LOG_LEVEL", "INFO").upper())
    return parser.parse_args(argv)


def serving_configure_logging(*, level: str) -> None:
    # Configured before the SDK's own basicConfig call, which then becomes a no-op.
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serving_run(*, server: MCPServer, args: argparse.Namespace, token_env: str) -> None:
    """Serve over stdio, or over streamable HTTP at ``/mcp`` (bearer token when ``token_env`` is set)."""
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = server.streamable_http_app(host=args.host)
    token = os.environ.get(token_env, "")
    if token:
        app = BearerTokenMiddleware(app, token=token)
    logging.getLogger(__name__).info(
        "serving %s on http://%s:%s/mcp", server.name, args.host, args.port
    )
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level.lower(), log_config=None
    )


class BearerTokenMiddleware:
    """Refuse HTTP requests without ``Authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, app, *, token: str, open_paths: frozenset[str] = frozenset()):
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.open_paths = open_paths  # paths served without a token (e.g. a test server's /stats)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        body = (
            b'{"error": {"code": "unauthenticated", "message": "a valid bearer token is required"}}'
        )
        headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
