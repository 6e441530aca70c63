"""Only one plain SELECT is ever analysed: everything else is refused before reaching the database."""

import pytest

from examples.database_mcp.sql_guard import QueryRejected, select_validate

pytestmark = pytest.mark.timeout(120)

REFUSED = [
    ("INSERT INTO items (name) VALUES ('x')", "got INSERT"),
    ("UPDATE items SET name = 'x'", "got UPDATE"),
    ("DELETE FROM items", "got DELETE"),
    ("DROP TABLE items", "got DROP"),
    ("TRUNCATE items", "got TRUNCATE"),
    ("SELECT 1; SELECT 2", "only one statement"),
    ("SELECT 1; DROP TABLE items", "only one statement"),
    ("SELECT 1 /* harmless */; DELETE FROM items", "only one statement"),
    ("SELECT 1 -- comment\n; DELETE FROM items", "only one statement"),
    ("SELECT * INTO copy FROM items", "INTO is not accepted"),
    ("SELECT * FROM items INTO OUTFILE '/tmp/x'", "INTO is not accepted"),
    ("SELECT * FROM items FOR UPDATE", "FOR UPDATE"),
    ("SELECT * FROM items FOR NO KEY UPDATE", "FOR NO"),
    ("SELECT * FROM items FOR SHARE", "FOR SHARE"),
    ("SELECT * FROM items LOCK IN SHARE MODE", "LOCK IN SHARE MODE"),
    ("WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone", "DELETE is not accepted"),
    ("/*!50000 DROP TABLE items */ SELECT 1", "executable comments"),
    ("SELECT 1 # ; DELETE FROM items", "'#' comments"),
    ("SELECT 1 /* a /* b */ ; DELETE FROM items; */", "one statement"),
    ("SELECT 'a\\'; DELETE FROM items; -- '", "backslashes"),
    ("EXPLAIN ANALYZE SELECT 1", "got EXPLAIN"),
    ("VALUES (1)", "got VALUES"),
    ("SELECT nextval('items_id_seq')", "nextval()"),
    ("SELECT pg_catalog.set_config('a.b', 'c', false)", "set_config()"),
    ("SELECT pg_terminate_backend(1)", "pg_terminate_backend()"),
    ("SELECT lo_import('/etc/passwd')", "lo_import()"),
    ("  ;  -- nothing\n", "only comments"),
]


@pytest.mark.parametrize("sql, reason", REFUSED)
def test_the_guard_refuses_anything_but_one_plain_select(sql, reason):
    with pytest.raises(QueryRejected, match=None) as refused:
        select_validate(sql=sql, dialect="postgres")
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "sql",
    ["SELECT SLEEP(10)", "SELECT GET_LOCK('x', 10)", "SELECT LOAD_FILE('/etc/passwd')", "SELECT `benchmark`(1, 1)"],
)
def test_the_guard_refuses_mysql_functions_with_side_effects(sql):
    with pytest.raises(QueryRejected, match="side effects"):
        select_validate(sql=sql, dialect="mysql")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM items WHERE name LIKE 'item1%'",
        "select id, replace(name, 'item', '') from items;",
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT * FROM n",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "-- leading comment\nSELECT substring(name FOR 3) FROM items /* trailing */;",
    ],
)
def test_the_guard_accepts_plain_selects_and_drops_the_trailing_semicolon(sql):
    accepted = select_validate(sql=sql, dialect="postgres").text

    assert not accepted.endswith(";")
    assert "SELECT" in accepted.upper()


@pytest.mark.parametrize("tool, database", [("analyze_postgres_query", "pg"), ("analyze_mysql_query", "maria")])
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO items (name) VALUES ('x')",
        "UPDATE items SET name = 'x'",
        "DELETE FROM items",
        "DROP TABLE items",
        "SELECT 1; DELETE FROM items",
        "SELECT * INTO copy FROM items",
        "SELECT * FROM items FOR UPDATE",
        "SELECT 1 /* x */; DROP TABLE items",
    ],
)
def test_the_server_refuses_writes_and_leaves_the_table_alone(
    database_mcp, tool, database, sql, mysql_admin, postgres_admin
):
    result = database_mcp.call(tool, {"database": database, "query": sql})

    assert result.is_error, result
    assert "not accepted" in result.text or "only" in result.text
    assert _item_count(database, mysql_admin, postgres_admin) == 500


def test_a_compare_with_one_refused_query_is_refused(database_mcp):
    result = database_mcp.call(
        "compare_postgres_query_plans", {"database": "pg", "query_1": "SELECT 1", "query_2": "DELETE FROM items"}
    )

    assert result.is_error
    assert "got DELETE" in result.text


def _item_count(database, mysql_admin, postgres_admin) -> int:
    if database == "pg":
        return postgres_admin.execute("SELECT count(*) FROM items").fetchone()[0]
    with mysql_admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM items")
        return cur.fetchone()[0]
