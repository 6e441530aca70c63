"""The database_mcp MCP server: eight read-only monitoring tools over the configured databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from .config import Config, DatabaseSpec
from .connections import DatabaseError, InvalidArgument
from .explain import plan_explain, plans_compare
from .health import health_get
from .sql_guard import QueryRejected
from .top_queries import top_queries_get
from .trends import SampleStore, trends_get

INSTRUCTIONS = (
    "Read-only monitoring of MySQL/MariaDB and PostgreSQL databases. Call list_available_databases "
    "first; every other tool takes one of those names as `database`. Query analysis runs EXPLAIN "
    "only and accepts a single SELECT."
)
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
OrderBy = Literal["total_time", "executions", "cpu", "avg_time", "rows"]
Result = dict[str, Any]


def server_build(*, config: Config, store: SampleStore) -> MCPServer:
    server = MCPServer("database_mcp", instructions=INSTRUCTIONS, version="1.0")
    tools = DatabaseTools(config=config, store=store)
    for tool in (
        tools.list_available_databases,
        tools.get_database_health,
        tools.get_top_queries,
        tools.get_performance_trends,
        tools.analyze_mysql_query,
        tools.analyze_postgres_query,
        tools.compare_mysql_query_plans,
        tools.compare_postgres_query_plans,
    ):
        server.add_tool(tool, annotations=READ_ONLY)
    return server


class DatabaseTools:
    """The tool functions; their docstrings are the descriptions the model reads."""

    def __init__(self, *, config: Config, store: SampleStore):
        self.config, self.store = config, store

    def list_available_databases(self) -> Result:
        """List the databases this server monitors: name, engine (mysql or postgres) and description."""
        listed = [
            {"name": s.name, "engine": s.engine, "description": s.description}
            for s in self.config.databases.values()
        ]
        result: Result = {"configured": self.config.configured, "databases": listed}
        if self.config.unavailable:
            result["unavailable"] = [
                {"name": n, "reason": r} for n, r in self.config.unavailable.items()
            ]
        if not self.config.configured:
            result["message"] = _not_configured(self.config)["message"]
        return result

    def get_database_health(self, database: str) -> Result:
        """Health of one database: connections/sessions, uptime, cache hit ratio, size, warnings."""
        return self._call(database, None, lambda spec: health_get(spec=spec))

    def get_top_queries(
        self, database: str, order_by: OrderBy = "total_time", limit: int = 10
    ) -> Result:
        """Top statements by total time, executions, cpu, average time or rows (from performance_schema
        on MySQL/MariaDB, pg_stat_statements on PostgreSQL). When statistics are off, says how to enable them."""
        return self._call(
            database, None, lambda spec: top_queries_get(spec=spec, order_by=order_by, limit=limit)
        )

    def get_performance_trends(
        self, database: str, hours: float = 24, max_points: int = 100
    ) -> Result:
        """Performance over time from samples this server keeps (taken in the background and on each
        call): connections, throughput, cache hit ratio, with deltas and per-second rates between samples."""
        return self._call(
            database,
            None,
            lambda spec: trends_get(
                spec=spec, store=self.store, hours=hours, max_points=max_points
            ),
        )

    def analyze_mysql_query(self, database: str, query: str) -> Result:
        """EXPLAIN FORMAT=JSON of one SELECT on a MySQL/MariaDB database (never executes it):
        estimated cost/rows, access type per table, full scans, indexes used."""
        return self._call(database, "mysql", lambda spec: plan_explain(spec=spec, query=query))

    def analyze_postgres_query(self, database: str, query: str) -> Result:
        """EXPLAIN (FORMAT JSON) of one SELECT on a PostgreSQL database (never EXPLAIN ANALYZE, never
        executes it): estimated cost and rows, node types, sequential scans, indexes used."""
        return self._call(database, "postgres", lambda spec: plan_explain(spec=spec, query=query))

    def compare_mysql_query_plans(self, database: str, query_1: str, query_2: str) -> Result:
        """EXPLAIN two SELECTs on a MySQL/MariaDB database and say which plan looks cheaper and why."""
        return self._call(
            database,
            "mysql",
            lambda spec: plans_compare(spec=spec, query_1=query_1, query_2=query_2),
        )

    def compare_postgres_query_plans(self, database: str, query_1: str, query_2: str) -> Result:
        """EXPLAIN two SELECTs on a PostgreSQL database and say which plan looks cheaper and why."""
        return self._call(
            database,
            "postgres",
            lambda spec: plans_compare(spec=spec, query_1=query_1, query_2=query_2),
        )

    def _call(
        self, database: str, engine: str | None, action: Callable[[DatabaseSpec], Result]
    ) -> Result:
        if not self.config.configured:
            return _not_configured(self.config)
        spec = self._spec(database, engine)
        try:
            return action(spec)
        except DatabaseError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from None
        except QueryRejected as exc:
            raise ToolError(f"query_rejected: {exc}") from None
        except InvalidArgument as exc:
            raise ToolError(str(exc)) from None

    def _spec(self, database: str, engine: str | None) -> DatabaseSpec:
        spec = self.config.databases.get(database)
        if spec is None and database in self.config.unavailable:
            raise ToolError(
                f"database {database!r} cannot be used: {self.config.unavailable[database]}"
            )
        if spec is None:
            known = ", ".join(sorted(self.config.databases)) or "none"
            raise ToolError(f"unknown database {database!r}; configured databases: {known}")
        if engine and spec.engine != engine:
            other = "mysql" if engine == "postgres" else "postgres"
            raise ToolError(
                f"database {database!r} is {spec.engine}, not {engine}: use the {other} variant of this tool"
            )
        return spec


def _not_configured(config: Config) -> Result:
    return {
        "configured": False,
        "message": f"database_mcp is not configured: {config.problem}",
        "databases": [],
    }
