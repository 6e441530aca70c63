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
    ("SELECT 1 /* harmless */; DELETE FROM items", "comments are not accepted"),
    ("SELECT 1 -- comment\n; DELETE FROM items", "comments are not accepted"),
    ("SELECT * INTO copy FROM items", "INTO is not accepted"),
    ("SELECT * FROM items INTO OUTFILE '/tmp/x'", "INTO is not accepted"),
    ("SELECT * FROM items FOR UPDATE", "FOR UPDATE"),
    ("SELECT * FROM items FOR NO KEY UPDATE", "FOR NO"),
    ("SELECT * FROM items FOR SHARE", "FOR SHARE"),
    ("SELECT * FROM items LOCK IN SHARE MODE", "LOCK IN SHARE MODE"),
    ("WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone", "DELETE is not accepted"),
    ("/*!50000 DROP TABLE items */ SELECT 1", "comments are not accepted"),
    ("SELECT 1 /* a /* b */ ; DELETE FROM items; */", "comments are not accepted"),
    ("SELECT 'a\\'; DELETE FROM items; -- '", "backslashes"),
    ("SELECT 'a", "quote is not closed"),
    ("SELECT 1\x00", "control characters"),
    ("SELECT '\ud800'", "lone surrogates"),
    ("SELECT NEXT VALUE FOR items_seq", "moves a sequence"),
    ("SELECT $$x$$", "'$' is not accepted"),
    ("SELECT `id` FROM items", "backquotes"),
    ("EXPLAIN ANALYZE SELECT 1", "got EXPLAIN"),
    ("VALUES (1)", "got VALUES"),
    ("SELECT nextval('items_id_seq')", "nextval() is not accepted"),
    ("SELECT pg_catalog.set_config('a.b', 'c', false)", "schema-qualified"),
    ("SELECT pg_terminate_backend(1)", "pg_terminate_backend() is not accepted"),
    ("SELECT lo_import('/etc/passwd')", "lo_import() is not accepted"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file() is not accepted"),
    ("SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)", "dblink() is not accepted"),
    (
        "SELECT * FROM items WHERE id = current_setting('data_directory')::int",
        "current_setting() is not accepted",
    ),
    ("SELECT 'items'::regclass", "regclass is not accepted"),
    ("SELECT * FROM pg_authid", "system catalogs"),
    ("SELECT * FROM pg_catalog.pg_authid", "pg_catalog.pg_authid is not accepted"),
    ("SELECT * FROM information_schema.tables", "information_schema.tables is not accepted"),
    ('SELECT "count"(*) FROM items', "a function name must be a plain word"),
    ("SELECT 1)", "do not balance"),
    ("SELECT (1", "do not balance"),
    ("  ;  ", "no statement"),
]
PG_SLEEPS = [
    "pg_sleep(30)",
    "pg_sleep_for('30 seconds')",
    "pg_sleep_until(now() + interval '30 seconds')",
]


@pytest.mark.parametrize("sql, reason", REFUSED)
def test_the_guard_refuses_anything_but_one_plain_select(sql, reason):
    with pytest.raises(QueryRejected) as refused:
        select_validate(sql=sql, dialect="postgres", schemas=frozenset({"public"}))
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT SLEEP(10)",
        "SELECT BENCHMARK(1000000000, MD5('x'))",
        "SELECT GET_LOCK('x', 10)",
        "SELECT LOAD_FILE('/etc/passwd')",
        "SELECT EXTRACTVALUE(1, '/a')",
        "SELECT UPDATEXML(1, '/a', 'b')",
        "SELECT * FROM items WHERE id = NAME_CONST('a', 1)",
    ],
)
def test_the_guard_refuses_mysql_functions_that_are_not_on_the_allow_list(sql):
    with pytest.raises(QueryRejected, match="not on the list of functions"):
        select_validate(sql=sql, dialect="mysql", schemas=frozenset({"app"}))


@pytest.mark.parametrize("call", PG_SLEEPS)
def test_the_guard_refuses_every_postgres_sleep_like_sleep(call):
    with pytest.raises(QueryRejected, match="not on the list of functions"):
        select_validate(
            sql=f"SELECT * FROM items WHERE id = 1 OR {call} IS NULL", dialect="postgres"
        )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 --1\n, LOAD_FILE('/etc/passwd')",  # MariaDB reads '--1' as minus minus one, then runs the rest
        "SELECT 1--1",
        "SELECT 1 -- x",
        "SELECT 1 # x",
        "SELECT 1 #",
        "SELECT /*!50000 LOAD_FILE('/etc/passwd') */",
        "SELECT /*M!100000 1 */ 1",
        "SELECT /*+ MAX_EXECUTION_TIME(1) */ 1",
        "SELECT 1 */",
        "SELECT 1 /**/ FROM items",
    ],
)
def test_the_guard_refuses_any_comment_so_it_never_disagrees_with_mysql(sql):
    with pytest.raises(QueryRejected, match="comments are not accepted"):
        select_validate(sql=sql, dialect="mysql", schemas=frozenset({"app"}))


def test_a_hash_is_an_operator_on_postgres_and_a_comment_on_mysql():
    jsonb_path = "SELECT doc #>> '{a,b}' FROM items"

    assert select_validate(sql=jsonb_path, dialect="postgres").text == jsonb_path
    with pytest.raises(QueryRejected, match="comments"):
        select_validate(sql=jsonb_path, dialect="mysql", schemas=frozenset({"app"}))


@pytest.mark.parametrize(
    "dialect, sql",
    [
        ("mysql", "SELECT * FROM items WHERE id IN (SELECT id FROM hr.salaries)"),
        ("mysql", "SELECT (SELECT secret FROM `hr`.`salaries` LIMIT 1) FROM items"),
        ("mysql", "SELECT * FROM items i JOIN hr.salaries s ON s.id = i.id"),
        ("mysql", "SELECT * FROM items, hr.salaries"),
        ("mysql", "SELECT * FROM (items, hr.salaries)"),
        ("mysql", "SELECT * FROM items WHERE EXISTS (SELECT 1 FROM mysql.user)"),
        ("mysql", "SELECT * FROM items WHERE id IN (TABLE hr.salaries)"),
        ("mysql", "SELECT * FROM items WHERE id IN (SELECT id FROM hr . salaries)"),
        ("mysql", "SELECT * FROM items offset, hr.salaries"),  # a non-reserved word as an alias
        ("mysql", "SELECT * FROM items minus, hr.salaries"),
        ("mysql", "SELECT * FROM items USE INDEX FOR ORDER BY (PRIMARY), hr.salaries"),
        ("mysql", "SELECT * FROM items IGNORE INDEX FOR GROUP BY (idx) JOIN hr.salaries"),
        ("postgres", "SELECT * FROM items lock, hr.salaries"),
        ("postgres", "SELECT * FROM items window, hr.salaries"),
        ("postgres", "SELECT ALL FROM hr.salaries"),
        ("postgres", "SELECT 'pg_authid'::\"regclass\""),
        ("postgres", "SELECT * FROM items WHERE id IN (SELECT id FROM hr.salaries)"),
        (
            "postgres",
            'SELECT * FROM items LEFT JOIN LATERAL (SELECT 1 FROM "hr"."salaries") s ON true',
        ),
        ("postgres", "WITH s AS (SELECT * FROM hr.salaries) SELECT * FROM s"),
        ("postgres", "SELECT * FROM items WHERE id = ANY (ARRAY(TABLE hr.ids))"),
        ("postgres", "SELECT * FROM otherdb.public.items"),
    ],
)
def test_the_guard_refuses_a_table_of_another_schema_anywhere(dialect, sql):
    allowed = frozenset({"app"}) if dialect == "mysql" else frozenset({"public"})

    with pytest.raises(QueryRejected, match="not accepted"):
        select_validate(sql=sql, dialect=dialect, schemas=allowed)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM items WHERE name LIKE 'item1%'",
        "select id, replace(name, 'item', '') from items;",
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT * FROM n",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SELECT substring(name FROM 1 FOR 3), EXTRACT(YEAR FROM now()) FROM items;",
        "SELECT i.category, count(*), avg(i.id)::numeric(10,2) FROM public.items i "
        "JOIN (SELECT category FROM items WHERE id > 3) AS c (category) ON c.category = i.category "
        "WHERE i.name IS DISTINCT FROM 'x' GROUP BY i.category HAVING count(*) > 1 ORDER BY 2 DESC",
        "SELECT date_trunc('day', now()), row_number() OVER (PARTITION BY category ORDER BY id) FROM items "
        "WHERE id = ANY (ARRAY[1, 2]) AND EXISTS (SELECT 1 FROM items x WHERE x.id = items.id)",
        "SELECT * FROM generate_series(1, 3) AS g(n)",
        "SELECT a.id FROM items a, items b WHERE a.id = b.id GROUP BY a.id, b.name ORDER BY a.id, b.name",
        "SELECT * FROM items WHERE name IS NOT DISTINCT FROM 'x' AND id IS DISTINCT FROM 3",
        "SELECT 1 - -1",
    ],
)
def test_the_guard_accepts_analytic_selects_and_drops_the_trailing_semicolon(sql):
    accepted = select_validate(sql=sql, dialect="postgres", schemas=frozenset({"public"})).text

    assert not accepted.endswith(";")
    assert accepted == sql.rstrip(";")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT i.category, COUNT(*), CAST(AVG(i.id) AS DECIMAL(10,2)), IFNULL(MAX(i.name), '') "
        "FROM app.items i JOIN items j USING (id) WHERE DATE_FORMAT(NOW(), '%Y') > '2000' "
        "GROUP BY i.category WITH ROLLUP",
        "SELECT * FROM items i STRAIGHT_JOIN items j FORCE INDEX (idx_category) ON j.category = i.category",
        "SELECT * FROM items WHERE id IN (SELECT id FROM app.items WHERE category = 3) ORDER BY id DESC LIMIT 10",
        "SELECT GROUP_CONCAT(name ORDER BY id SEPARATOR ',') FROM items GROUP BY category",
    ],
)
def test_the_guard_accepts_mysql_analytic_selects_on_the_allowed_database(sql):
    assert select_validate(sql=sql, dialect="mysql", schemas=frozenset({"app"})).text == sql


@pytest.mark.parametrize(
    "tool, database", [("analyze_postgres_query", "pg"), ("analyze_mysql_query", "maria")]
)
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
    assert "query_rejected:" in result.text
    assert "not accepted" in result.text or "only" in result.text
    assert _item_count(database, mysql_admin, postgres_admin) == 500


def test_a_compare_with_one_refused_query_is_refused(database_mcp):
    result = database_mcp.call(
        "compare_postgres_query_plans",
        {"database": "pg", "query_1": "SELECT 1", "query_2": "DELETE FROM items"},
    )

    assert result.is_error
    assert "got DELETE" in result.text


def _item_count(database, mysql_admin, postgres_admin) -> int:
    if database == "pg":
        return postgres_admin.execute("SELECT count(*) FROM items").fetchone()[0]
    with mysql_admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM items")
        return cur.fetchone()[0]
