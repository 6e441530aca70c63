"""Property tests of the query guard: whatever the text, the guard and the server read it alike.

sqlparse serves as an independent second reading: nothing the guard accepts holds a comment or a
call of a function off the allow-list in sqlparse's reading either.
"""

import pytest
import sqlparse
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlparse import tokens as T

from examples.database_mcp.sql_allowlist import KEYWORDS_BEFORE_PAREN, allowed_functions
from examples.database_mcp.sql_guard import QueryRejected, select_validate

pytestmark = pytest.mark.timeout(300)

SCHEMAS = {"mysql": frozenset({"app"}), "postgres": frozenset({"public"})}
ACCEPTED = [
    "SELECT i.category, COUNT(*) FROM items i JOIN items j ON j.id = i.id WHERE i.name LIKE 'a--b#c/*' "
    "GROUP BY i.category HAVING COUNT(*) > 1",
    "SELECT * FROM items WHERE id IN (SELECT id FROM items WHERE category = 3) ORDER BY id DESC",
    "SELECT COALESCE(MAX(id), 0) - 1, LOWER(name) FROM items WHERE name <> 'x' GROUP BY name",
]
COMMENTS = [
    "--",
    "--1",
    "-- x\n",
    "#",
    "# x\n",
    "/* x */",
    "/*!50000 1 */",
    "/*M! 1 */",
    "/*+ x */",
    "*/",
]
FRAGMENTS = [
    "SELECT",
    "FROM",
    "WHERE",
    "items",
    "i",
    "(",
    ")",
    ",",
    ".",
    ";",
    "1",
    "-",
    "*",
    "=",
    "'a--b'",
    "'#'",
    "'/*'",
    '"x"',
    "`y`",
    "--",
    "#",
    "/*",
    "*/",
    "count",
    "sleep",
    "pg_sleep",
    "extractvalue",
    "load_file",
    "hr.salaries",
    "JOIN",
    "ON",
    "IN",
    "AS",
    "WITH",
    "n",
    "\n",
    " ",
    "''",
    "'",
    "@",
    "$",
    "::",
    "int",
]
REFUSED_CALLS = {"sleep", "pg_sleep", "extractvalue", "load_file"}


@pytest.mark.parametrize("dialect", ["mysql", "postgres"])
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_is_either_accepted_or_refused_with_a_reason(dialect, text):
    try:
        select_validate(sql=text, dialect=dialect, schemas=SCHEMAS[dialect])
    except QueryRejected as refused:
        assert str(refused)


@settings(max_examples=300, deadline=None)
@given(query=st.sampled_from(ACCEPTED), comment=st.sampled_from(COMMENTS), data=st.data())
def test_a_comment_between_any_two_tokens_is_refused_on_mysql(query, comment, data):
    # Word boundaries only (never inside the string literal), spaced or glued to the neighbours.
    cuts = [
        i for i in range(1, len(query)) if query[i - 1] == " " and query.count("'", 0, i) % 2 == 0
    ]
    cut = data.draw(st.sampled_from(cuts))
    glue = data.draw(st.sampled_from(["", " "]))
    assert select_validate(sql=query, dialect="mysql", schemas=SCHEMAS["mysql"])

    commented = query[:cut] + glue + comment + glue + query[cut:]

    with pytest.raises(QueryRejected, match="comments are not accepted"):
        select_validate(sql=commented, dialect="mysql", schemas=SCHEMAS["mysql"])


@pytest.mark.parametrize("dialect", ["mysql", "postgres"])
@settings(max_examples=300, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True),
    spaces=st.sampled_from(["", " ", "\n"]),
)
def test_a_call_of_any_function_off_the_list_is_refused(dialect, name, spaces):
    allowed = allowed_functions(dialect) | {k.lower() for k in KEYWORDS_BEFORE_PAREN}
    query = f"SELECT id FROM items WHERE id = {name}{spaces}(1)"

    if name.lower() in allowed:
        return
    with pytest.raises(QueryRejected):
        select_validate(sql=query, dialect=dialect, schemas=SCHEMAS[dialect])


@pytest.mark.parametrize("dialect", ["mysql", "postgres"])
@settings(max_examples=300, deadline=None)
@given(
    schema=st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
    where=st.sampled_from(
        [
            "SELECT * FROM {t}",
            "SELECT * FROM items, {t}",
            "SELECT * FROM items i LEFT JOIN {t} s ON s.id = i.id",
            "SELECT * FROM items WHERE id IN (SELECT id FROM {t} WHERE id > 1)",
            "SELECT (SELECT MAX(id) FROM {t}) FROM items",
            "WITH s AS (SELECT id FROM {t}) SELECT * FROM s",
        ]
    ),
    dot=st.sampled_from([".", " . ", "\n.\n"]),
)
def test_a_table_of_any_other_schema_is_refused_wherever_it_stands(dialect, schema, where, dot):
    if schema in SCHEMAS[dialect]:
        return
    with pytest.raises(QueryRejected, match="not accepted"):
        select_validate(
            sql=where.format(t=f"{schema}{dot}salaries"), dialect=dialect, schemas=SCHEMAS[dialect]
        )


@pytest.mark.parametrize("dialect", ["mysql", "postgres"])
@settings(max_examples=500, deadline=None)
@given(parts=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14), spaced=st.booleans())
def test_what_the_guard_accepts_holds_no_comment_and_no_refused_call_in_a_second_reading(
    dialect, parts, spaced
):
    text = (" " if spaced else "").join(["SELECT", *parts])
    try:
        accepted = select_validate(sql=text, dialect=dialect, schemas=SCHEMAS[dialect]).text
    except QueryRejected:
        return
    tokens = [t for t in sqlparse.parse(accepted)[0].flatten() if not t.is_whitespace]

    # sqlparse reads '#' as a comment everywhere; on PostgreSQL it is an operator (jsonb #>>).
    comments = [
        t
        for t in tokens
        if t.ttype in T.Comment and not (dialect == "postgres" and t.value[0] == "#")
    ]
    assert not comments, accepted
    for token, following in zip(tokens, tokens[1:], strict=False):
        if following.value == "(":
            assert token.value.lower() not in REFUSED_CALLS, accepted
