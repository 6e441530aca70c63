"""Accept exactly one plain SELECT (or WITH … SELECT) for EXPLAIN; refuse everything else.

Databases evaluate parts of a statement while planning it (MariaDB runs EXTRACTVALUE on a
constant subquery, PostgreSQL folds casts of current_setting(…)), so what may appear is decided
by allow-lists, never by a list of known-bad names:

- the text is read by :mod:`sql_tokens`, which follows the servers' lexical rules, and a comment
  anywhere is refused, so the guard and the server cannot disagree about what is code;
- every ``name(`` must be a function, type or keyword of :mod:`sql_allowlist`;
- every table reference (after FROM, JOIN, a comma in a FROM list, or TABLE) must be unqualified
  or qualified with one of the schemas the database entry allows, in subqueries too; on
  PostgreSQL an unqualified ``pg_*`` name (the system catalogs) is refused.

This is one layer of several: the EXPLAIN also runs in a READ ONLY transaction that is rolled
back, under a statement timeout, and the database's error text never reaches the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .sql_allowlist import KEYWORDS_BEFORE_PAREN, allowed_functions
from .sql_tokens import Kind, SqlSyntaxRefused, Token, sql_tokenize

MAX_QUERY_CHARS = 100_000

# Words that make a SELECT write, lock or leave the database (a data-modifying CTE, INTO …),
# refused unless used as a function name (REPLACE(…), TRUNCATE(…)).
WRITE_WORDS = frozenset(
    """
    INSERT UPDATE DELETE MERGE UPSERT REPLACE TRUNCATE DROP ALTER CREATE GRANT REVOKE INTO COPY CALL
    HANDLER LOAD PROCEDURE OUTFILE DUMPFILE
    """.split()
)
LOCK_FOLLOWERS = {
    "UPDATE",
    "SHARE",
    "NO",
    "KEY",
}  # FOR UPDATE / FOR SHARE / FOR NO KEY UPDATE / FOR KEY SHARE
# Keywords that end a FROM list at their nesting level: only words reserved in both servers, so
# an alias can never pass for one (`FROM items offset, hr.salaries`). GROUP/ORDER after FOR are an
# index hint (USE INDEX FOR ORDER BY (i)) and end nothing. Ending a list too late only refuses a
# qualified name after a comma; ending it too early would let a table through unchecked.
CLAUSE_WORDS = frozenset("WHERE GROUP HAVING ORDER LIMIT".split())
TABLE_MODIFIERS = frozenset({"LATERAL", "ONLY"})
# PostgreSQL's object-identifier types turn a string into a catalog lookup while planning.
POSTGRES_REG_TYPES = frozenset(
    "regclass regcollation regconfig regdictionary regnamespace regoper regoperator regproc regprocedure "
    "regrole regtype".split()
)


class QueryRejected(ValueError):
    """The text is not a single read-only SELECT on the allowed schemas; the message says why."""


@dataclass(frozen=True)
class SafeSelect:
    text: str  # the one statement, without a trailing semicolon


def select_validate(*, sql: str, dialect: str, schemas: frozenset[str] = frozenset()) -> SafeSelect:
    """``schemas``: the schemas (MySQL: databases) a table reference may be qualified with."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRejected("the query is empty")
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRejected(f"the query is longer than {MAX_QUERY_CHARS} characters")
    try:
        tokens = sql_tokenize(sql, dialect=dialect)
    except SqlSyntaxRefused as exc:
        raise QueryRejected(str(exc)) from None
    if any(t.kind is Kind.COMMENT for t in tokens):
        raise QueryRejected(
            "comments are not accepted (--, #, /* */, /*! */): remove them and ask again"
        )
    code = _single_statement(tokens)
    _check_starts_with_select(code)
    _Walker(code, dialect, schemas).walk()
    return SafeSelect(text=sql[: code[-1].start + len(code[-1].text)].strip())


def _single_statement(tokens: list[Token]) -> list[Token]:
    """The tokens of the one statement; a trailing ';' is dropped, any other ';' refused."""
    end = max((i for i, t in enumerate(tokens) if not t.is_punct(";")), default=-1)
    code = tokens[: end + 1]
    if not code:
        raise QueryRejected("the query holds no statement")
    if any(t.is_punct(";") for t in code):
        found = 1 + sum(
            1
            for a, b in zip(code, code[1:], strict=False)
            if a.is_punct(";") and not b.is_punct(";")
        )
        raise QueryRejected(f"only one statement can be analysed; found {found} (separated by ';')")
    return code


def _check_starts_with_select(code: list[Token]) -> None:
    first = next((t for t in code if not t.is_punct("(")), None)
    word = first.upper if first is not None else ""
    if word not in ("SELECT", "WITH"):
        shown = word or (first.text[:20] if first is not None else "nothing")
        raise QueryRejected(
            f"only a single SELECT (or WITH … SELECT) statement can be analysed; got {shown}"
        )


@dataclass
class _Level:
    """What the walker knows about one parenthesis level."""

    select_seen: bool = False
    from_list: bool = (
        False  # between FROM and the clause that ends it: a comma starts a table reference
    )
    expect_table: bool = False  # the next name is a table reference
    with_list: bool = False  # between a leading WITH and its SELECT: names before '(' are CTE names
    first: bool = True  # no token seen yet at this level


@dataclass
class _Walker:
    code: list[Token]
    dialect: str
    schemas: frozenset[str]
    levels: list[_Level] = field(default_factory=lambda: [_Level()])

    def walk(self) -> None:
        self.functions = allowed_functions(self.dialect)
        for index, token in enumerate(self.code):
            level = self.levels[-1]
            if token.is_punct("("):
                self._open(level)
            elif token.is_punct(")"):
                self._close()
            else:
                self._token(index, token, level)
            level.first = False
        if len(self.levels) > 1:
            raise QueryRejected("the parentheses do not balance")

    def _open(self, level: _Level) -> None:
        inner = _Level()
        if level.expect_table:  # FROM ( a JOIN b ) or FROM ( SELECT … ): a table list inside
            inner.from_list = inner.expect_table = True
            level.expect_table = False
        self.levels.append(inner)

    def _close(self) -> None:
        if len(self.levels) == 1:
            raise QueryRejected("the parentheses do not balance")
        self.levels.pop()

    def _token(self, index: int, token: Token, level: _Level) -> None:
        before = self.code[index - 1] if index else None
        after = self.code[index + 1] if index + 1 < len(self.code) else None
        if token.kind is Kind.OPERATOR and token.text == "@" and self.dialect == "mysql":
            raise QueryRejected("user and system variables (@x, @@x) are not accepted")
        if token.is_punct(",") and level.from_list:
            level.expect_table = True
        if token.kind in (Kind.WORD, Kind.QUOTED) and level.expect_table:
            level.expect_table = token.upper in TABLE_MODIFIERS
            if not level.expect_table:
                self._table_reference(index)
        if after is not None and after.is_punct("(") and token.kind is not Kind.OPERATOR:
            self._call(index, token, before, level)
        if (
            token.kind is Kind.QUOTED
            and self.dialect == "postgres"
            and token.name in POSTGRES_REG_TYPES
        ):
            raise QueryRejected(
                f"{token.name} is not accepted: it looks names up in the system catalogs"
            )
        if token.kind is Kind.WORD:
            self._word(index, token, after, level)

    def _word(self, index: int, token: Token, after: Token | None, level: _Level) -> None:
        before = self.code[index - 1].upper if index else ""
        before_that = self.code[index - 2].upper if index > 1 else ""
        word, following = token.upper, after.upper if after is not None else ""
        if word in WRITE_WORDS and not (after is not None and after.is_punct("(")):
            raise QueryRejected(
                f"{word} is not accepted: only read-only SELECT statements can be analysed"
            )
        if word == "FOR" and following in LOCK_FOLLOWERS:
            raise QueryRejected(
                f"locking clauses (FOR {following} …) are not accepted: they take row locks"
            )
        if word == "VALUE" and following == "FOR":
            raise QueryRejected("NEXT/PREVIOUS VALUE FOR is not accepted: it moves a sequence")
        if word == "LOCK" and following == "IN":
            raise QueryRejected("LOCK IN SHARE MODE is not accepted: it takes row locks")
        if self.dialect == "postgres" and token.text.lower() in POSTGRES_REG_TYPES:
            raise QueryRejected(
                f"{token.text} is not accepted: it looks names up in the system catalogs"
            )
        if word == "WITH" and level.first:
            level.with_list = True
        elif word == "SELECT":
            level.select_seen, level.from_list, level.expect_table, level.with_list = (
                True,
                False,
                False,
                False,
            )
        elif (
            word == "FROM"
            and level.select_seen
            and not (before == "DISTINCT" and before_that in ("IS", "NOT"))
        ):
            level.from_list = level.expect_table = True  # (not a IS [NOT] DISTINCT FROM b)
        elif word in ("JOIN", "STRAIGHT_JOIN"):
            level.from_list = level.expect_table = True
        elif word == "TABLE":  # TABLE name, a SELECT * FROM name of its own (PostgreSQL, MySQL 8)
            level.expect_table = True
        elif word in CLAUSE_WORDS and before != "FOR":
            level.from_list = level.expect_table = level.with_list = False

    def _call(self, index: int, token: Token, before: Token | None, level: _Level) -> None:
        """``token`` is followed by '(': a function call unless the syntax says otherwise."""
        if token.kind is Kind.WORD and token.upper in KEYWORDS_BEFORE_PAREN:
            return
        cast = before is not None and before.kind is Kind.OPERATOR and before.text == "::"
        after_as = before is not None and (before.upper == "AS" or cast)
        cte = (
            level.with_list
            and before is not None
            and (before.upper in ("WITH", "RECURSIVE") or before.is_punct(","))
        )
        if (after_as or cte) and self._plain_list(index + 1):
            # A type's modifiers, an alias's or a CTE's column list: CAST(x AS DECIMAL(10,2)),
            # x::numeric(5), AS t(a, b), WITH n (i) AS (…). Names and numbers only, so nothing runs.
            return
        if token.kind is not Kind.WORD:
            raise QueryRejected(
                f"{token.text[:40]}(…) is not accepted: a function name must be a plain word"
            )
        if before is not None and before.is_punct("."):
            raise QueryRejected(
                f"…{token.text}() is not accepted: schema-qualified function calls are refused"
            )
        if token.text.lower() not in self.functions:
            raise QueryRejected(
                f"{token.text}() is not accepted: it is not on the list of functions a query may use here "
                "(aggregates, window, string, number, date and cast functions; see docs/MCP_SERVERS.md)"
            )

    def _plain_list(self, start: int) -> bool:
        """The parenthesis at ``start`` holds only names, numbers and commas."""
        for token in self.code[start + 1 :]:
            if token.is_punct(")"):
                return True
            if not (token.kind in (Kind.WORD, Kind.QUOTED) or token.is_punct(",")):
                return False
        return False

    def _table_reference(self, index: int) -> None:
        parts = self._name_chain(index)
        if not parts:
            return
        after = (
            self.code[index + 2 * len(parts) - 1]
            if index + 2 * len(parts) - 1 < len(self.code)
            else None
        )
        if after is not None and after.is_punct("("):
            return  # a function in FROM (generate_series(…)): checked as a call
        names = [self._normalised(t) for t in parts]
        if len(names) > 2:
            raise QueryRejected(f"{'.'.join(names)}: three-part names are not accepted")
        if len(names) == 2 and names[0] not in self.schemas:
            allowed = ", ".join(sorted(self.schemas)) or "none"
            raise QueryRejected(
                f"{'.'.join(names)} is not accepted: a query may only read the schemas of this database ({allowed})"
            )
        if len(names) == 1 and self.dialect == "postgres" and names[0].startswith("pg_"):
            raise QueryRejected(f"{names[0]} is not accepted: the system catalogs are not analysed")

    def _name_chain(self, index: int) -> list[Token]:
        parts = [self.code[index]]
        while index + 2 < len(self.code) and self.code[index + 1].is_punct("."):
            following = self.code[index + 2]
            if following.kind not in (Kind.WORD, Kind.QUOTED):
                break
            parts.append(following)
            index += 2
        return parts

    def _normalised(self, token: Token) -> str:
        # PostgreSQL folds unquoted names to lower case; MySQL compares database names as written.
        if token.kind is Kind.WORD and self.dialect == "postgres":
            return token.text.lower()
        return token.name
