"""The omni2_analytics_mcp MCP server: eleven read-only tools over the audit trail (SPEC §11).

The tools are thin: each resolves its period, runs one report of this package in the
SDK's worker thread (the ORM is synchronous) and returns plain JSON.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from django.db import DatabaseError, close_old_connections, connection
from django.db.backends.signals import connection_created
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from examples.identity import caller_of

from .common import MAX_LIMIT, GroupBy
from .health import analytics_error_summary, analytics_mcp_health_summary
from .periods import MAX_DAYS, PeriodError, period_resolve
from .requests import (
    FailedStatus,
    analytics_failed_queries,
    analytics_high_iteration_queries,
    analytics_slow_queries,
    analytics_top_expensive_queries,
)
from .spend import analytics_cache_hit_rate, analytics_cost_summary, analytics_token_usage
from .usage import UserGroup, analytics_active_users, analytics_tool_popularity

logger = logging.getLogger(__name__)

SERVER_NAME = "omni2_analytics_mcp"
INSTRUCTIONS = (
    "Usage analytics and cost tracking over OMNI2's audit trail (every user's requests, tool calls, "
    "tokens and cost). Every tool takes `period`: a number of days (the last N x 24 hours), 'today' "
    "(since 00:00 UTC), 'week' (the last 7 days) or 'month' (the last 30 days). Money is in USD."
)
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

PeriodArg = Annotated[
    Annotated[int, Field(ge=1, le=MAX_DAYS)] | Literal["today", "week", "month"],
    Field(
        description="Days (1-3650, the last N x 24 h), 'today' (since 00:00 UTC), 'week' (7 days) "
        "or 'month' (30 days)."
    ),
]
Limit = Annotated[
    int, Field(ge=1, le=MAX_LIMIT, description=f"At most this many rows (1-{MAX_LIMIT}).")
]
UserArg = Annotated[
    str | None, Field(description="Only this user's requests (e-mail).", max_length=254)
]
Result = dict[str, Any]


def _run(report: Callable[[], Result]) -> Result:
    """Run one report like a request: fresh-enough connection before, stale ones closed after."""
    fresh = not connection.in_atomic_block  # a caller's open transaction is not ours to close
    if fresh:
        close_old_connections()
    try:
        return report()
    except PeriodError as exc:
        raise ToolError(str(exc)) from None
    except DatabaseError:
        logger.exception("analytics: the audit database could not be read")
        raise ToolError("The audit database could not be read; try again shortly.") from None
    finally:
        if fresh:
            close_old_connections()


def _period(period: int | str, ctx: Context | None):
    """The period, limited to the caller's own rows unless OMNI2 says the caller is an admin.

    A request without OMNI2's identity ``_meta`` comes from whoever runs this server with its
    database credentials (an operator), who could read the audit tables anyway: every row.
    """
    resolved = period_resolve(period=period)
    caller = caller_of(ctx)
    if caller is None or caller.is_admin:
        return resolved
    return dataclasses.replace(resolved, only_user=caller.email)


class AnalyticsTools:
    """The tool functions; their docstrings are the descriptions the model reads."""

    def get_cost_summary(
        self,
        period: PeriodArg = "week",
        group_by: GroupBy = "user",
        limit: Limit = 20,
        ctx: Context | None = None,
    ) -> Result:
        """Total requests, errors, cost (USD) and tokens of the period, with the cost per user, MCP
        or model (group_by). Per MCP, a request that used several MCPs counts toward each."""
        return _run(
            lambda: analytics_cost_summary(
                period=_period(period, ctx), group_by=group_by, limit=limit
            )
        )

    def get_top_expensive_queries(
        self,
        period: PeriodArg = "week",
        limit: Limit = 10,
        user: UserArg = None,
        ctx: Context | None = None,
    ) -> Result:
        """The costliest requests of the period: who asked what, model, tokens, tools, cost and its
        share of the period's cost."""
        return _run(
            lambda: analytics_top_expensive_queries(
                period=_period(period, ctx), limit=limit, user=user
            )
        )

    def get_slow_queries(
        self,
        period: PeriodArg = "week",
        limit: Limit = 10,
        min_duration_ms: Annotated[int, Field(ge=0)] = 0,
        user: UserArg = None,
        ctx: Context | None = None,
    ) -> Result:
        """The longest-running requests of the period, with the period's average, median, p95 and
        maximum duration for comparison."""
        return _run(
            lambda: analytics_slow_queries(
                period=_period(period, ctx), limit=limit, min_duration_ms=min_duration_ms, user=user
            )
        )

    def get_high_iteration_queries(
        self,
        period: PeriodArg = "week",
        limit: Limit = 10,
        min_iterations: Annotated[int, Field(ge=1, le=1000)] = 3,
        user: UserArg = None,
        ctx: Context | None = None,
    ) -> Result:
        """Requests that needed at least min_iterations model turns, most first; at_cap marks those
        cut off at OMNI2's iteration limit."""
        return _run(
            lambda: analytics_high_iteration_queries(
                period=_period(period, ctx), limit=limit, min_iterations=min_iterations, user=user
            )
        )

    def get_error_summary(
        self,
        period: PeriodArg = "week",
        group_by: GroupBy | None = None,
        limit: Limit = 10,
        ctx: Context | None = None,
    ) -> Result:
        """Requests by status, the error rate, the tools that fail or are refused most and the most
        common error messages; optionally errors per user, MCP or model (group_by)."""
        return _run(
            lambda: analytics_error_summary(
                period=_period(period, ctx), group_by=group_by, limit=limit
            )
        )

    def get_failed_queries(
        self,
        period: PeriodArg = "week",
        limit: Limit = 20,
        status: FailedStatus = "any",
        user: UserArg = None,
        ctx: Context | None = None,
    ) -> Result:
        """Requests that did not succeed (error, warning, denied, rate_limited; 'any' = all four),
        newest first, each with its failed or refused tool calls."""
        return _run(
            lambda: analytics_failed_queries(
                period=_period(period, ctx), limit=limit, status=status, user=user
            )
        )

    def get_active_users(
        self,
        period: PeriodArg = "week",
        group_by: UserGroup = "user",
        limit: Limit = 20,
        ctx: Context | None = None,
    ) -> Result:
        """Who used OMNI2 in the period, most requests first: requests by outcome and source, cost,
        first and last seen; or the same per role (group_by='role')."""
        return _run(
            lambda: analytics_active_users(
                period=_period(period, ctx), group_by=group_by, limit=limit
            )
        )

    def get_tool_popularity(
        self,
        period: PeriodArg = "week",
        limit: Limit = 20,
        mcp: Annotated[str | None, Field(max_length=100)] = None,
        ctx: Context | None = None,
    ) -> Result:
        """The most called MCP tools (optionally of one MCP): calls, share, failures, refusals,
        success rate, average duration and distinct users."""
        return _run(
            lambda: analytics_tool_popularity(period=_period(period, ctx), limit=limit, mcp=mcp)
        )

    def get_mcp_health_summary(
        self, period: PeriodArg = "week", ctx: Context | None = None
    ) -> Result:
        """Per MCP server, how its tool calls went in the period: calls by outcome, error rate,
        p95 duration, last call, last error and a status (healthy, degraded, failing, idle)."""
        return _run(lambda: analytics_mcp_health_summary(period=_period(period, ctx)))

    def get_token_usage(
        self,
        period: PeriodArg = "week",
        group_by: GroupBy = "model",
        limit: Limit = 20,
        ctx: Context | None = None,
    ) -> Result:
        """Input, output, cache-read and cache-write tokens of the period, averages per request,
        and per user, MCP or model (group_by)."""
        return _run(
            lambda: analytics_token_usage(
                period=_period(period, ctx), group_by=group_by, limit=limit
            )
        )

    def get_cache_hit_rate(
        self,
        period: PeriodArg = "week",
        group_by: Literal["model", "user"] = "model",
        limit: Limit = 20,
        ctx: Context | None = None,
    ) -> Result:
        """Prompt-cache hit rate (cache-read tokens / all prompt tokens), the share of requests that
        read the cache, and the estimated savings in USD, overall and per model or user."""
        return _run(
            lambda: analytics_cache_hit_rate(
                period=_period(period, ctx), group_by=group_by, limit=limit
            )
        )


TOOL_NAMES = tuple(name for name in vars(AnalyticsTools) if name.startswith("get_"))


def analytics_server_build() -> MCPServer:
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version="1.0", log_level="WARNING")
    tools = AnalyticsTools()
    for name in TOOL_NAMES:
        server.add_tool(getattr(tools, name), annotations=READ_ONLY)
    return server


def analytics_database_read_only() -> None:
    """Make every database connection this process opens refuse writes (the server only reads)."""
    connection_created.connect(_refuse_writes, dispatch_uid="omni2_analytics_read_only")
    connection.close()  # a connection opened before now would not have been set up


def _refuse_writes(sender, connection, **kwargs) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
