"""get_top_queries reads real statement statistics when the database collects them.

Runs against private PostgreSQL (pg_stat_statements preloaded) and MariaDB (performance_schema
ON) instances, because neither can be switched on at runtime on the shared servers.
"""

import psycopg
import pymysql
import pytest

from .private_servers import mariadb_binaries, postgres_binaries, private_mariadb, private_postgres
from .support import stdio_session

pytestmark = pytest.mark.timeout(240)
REPEAT = 25


@pytest.fixture(scope="module")
def postgres_with_statistics():
    if postgres_binaries() is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    with private_postgres() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute(
                "CREATE TABLE items AS SELECT g AS id, g % 7 AS category FROM generate_series(1, 1000) g"
            )
            for category in range(REPEAT):
                conn.execute("SELECT count(*) FROM items WHERE category = %s", (category % 7,))
        yield dsn


@pytest.fixture(scope="module")
def mariadb_with_statistics():
    if mariadb_binaries() is None:
        pytest.skip("no MariaDB server binaries (mariadbd, mariadb-install-db) on this machine")
    with private_mariadb() as dsn:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=int(dsn.rsplit(":", 1)[1].split("/")[0]),
            user="root",
            autocommit=True,
        )
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE shop")
            cur.execute("CREATE TABLE shop.items (id INT PRIMARY KEY, category INT)")
            cur.execute(
                "INSERT INTO shop.items WITH RECURSIVE s (n) AS "
                "(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000) SELECT n, n % 7 FROM s"
            )
            for category in range(REPEAT):
                cur.execute("SELECT COUNT(*) FROM shop.items WHERE category = %s", (category % 7,))
        conn.close()
        yield dsn


@pytest.fixture(scope="module")
def statistics_mcp(postgres_with_statistics, mariadb_with_statistics, tmp_path_factory):
    base = tmp_path_factory.mktemp("statistics_mcp")
    (base / "databases.yaml").write_text(
        "databases:\n  - {name: pg_stats, engine: postgres, dsn: '${PG_STATS}'}\n"
        "  - {name: maria_stats, engine: mysql, dsn: '${MARIA_STATS}'}\n"
    )
    env = {
        "DATABASE_MCP_CONFIG": str(base / "databases.yaml"),
        "DATABASE_MCP_DATA_DIR": ":memory:",
        "DATABASE_MCP_SAMPLE_SECONDS": "0",
        "PG_STATS": postgres_with_statistics,
        "MARIA_STATS": mariadb_with_statistics,
    }
    session = stdio_session("examples.database_mcp", env=env, errlog_path=base / "stderr.log")
    yield session
    session.close()


@pytest.mark.parametrize("order_by", ["total_time", "executions", "cpu", "avg_time", "rows"])
def test_it_reads_pg_stat_statements(statistics_mcp, order_by):
    result = statistics_mcp.call(
        "get_top_queries", {"database": "pg_stats", "order_by": order_by, "limit": 50}
    )

    assert not result.is_error, result
    assert result.data["available"] is True and result.data["source"] == "pg_stat_statements"
    ours = [
        q
        for q in result.data["queries"]
        if q["query"] == "SELECT count(*) FROM items WHERE category = $1"
    ]
    assert ours and ours[0]["calls"] == REPEAT and ours[0]["rows"] == REPEAT
    assert ours[0]["total_time_ms"] >= ours[0]["cpu_time_ms"] >= 0


def test_pg_executions_order_puts_the_most_called_first(statistics_mcp):
    queries = statistics_mcp.call(
        "get_top_queries", {"database": "pg_stats", "order_by": "executions", "limit": 10}
    ).data["queries"]

    calls = [q["calls"] for q in queries]
    assert calls == sorted(calls, reverse=True) and [q["rank"] for q in queries] == list(
        range(1, len(queries) + 1)
    )


@pytest.mark.parametrize("order_by", ["total_time", "executions", "cpu"])
def test_it_reads_mariadb_performance_schema(statistics_mcp, order_by):
    result = statistics_mcp.call(
        "get_top_queries", {"database": "maria_stats", "order_by": order_by, "limit": 50}
    )

    assert not result.is_error, result
    assert result.data["available"] is True
    ours = [
        q
        for q in result.data["queries"]
        if q["schema"] is None and "`shop` . `items`" in q["query"] and "COUNT" in q["query"]
    ]
    assert ours and ours[0]["calls"] == REPEAT
    assert (
        ours[0]["rows_examined"] == REPEAT * 1000 and ours[0]["executions_without_index"] == REPEAT
    )
    assert any(
        "approximated" in note for note in result.data["notes"]
    )  # MariaDB has no SUM_CPU_TIME
