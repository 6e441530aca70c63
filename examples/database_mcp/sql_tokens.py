"""A small SQL tokenizer that follows the lexical rules of MySQL/MariaDB and PostgreSQL.

It exists so that the guard and the server agree on where strings, quoted names and comments
begin and end. Where the two servers (or a server's modes) would read the same text
differently, it refuses instead of choosing: backslashes anywhere (escape rules depend on
``sql_mode`` / ``standard_conforming_strings``), ``$`` outside quotes on PostgreSQL (dollar
quoting), backquotes on PostgreSQL, and control characters. Comments are tokens of their own
so the guard can refuse them; every reading of a comment start counts (``--`` followed by
anything, ``#`` on MySQL, ``/*`` and a stray ``*/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class SqlSyntaxRefused(ValueError):
    """The text cannot be read the same way by the guard and the server; the message says why."""


class Kind(Enum):
    WORD = "word"  # keyword, unquoted name or number
    QUOTED = "quoted"  # `name` or "name" (a string in MySQL's default mode: read as a name, the stricter case)
    STRING = "string"  # 'text'
    PUNCT = "punct"  # ( ) , . ; [ ]
    OPERATOR = "operator"  # one operator character, or ::
    COMMENT = "comment"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind is Kind.WORD else ""

    def is_punct(self, char: str) -> bool:
        return self.kind is Kind.PUNCT and self.text == char

    @property
    def name(self) -> str:
        """The identifier this token names, unquoted ("" when it is not a name)."""
        if self.kind is Kind.WORD:
            return self.text
        if self.kind is Kind.QUOTED:
            quote = self.text[0]
            return self.text[1:-1].replace(quote * 2, quote)
        return ""


PUNCTUATION = set("(),.;[]")
ALLOWED_CONTROL = set("\t\n\r")


def sql_tokenize(sql: str, *, dialect: str) -> list[Token]:
    _check_characters(sql, dialect)
    tokens, index = [], 0
    while index < len(sql):
        char = sql[index]
        if char.isspace() and char.isascii():
            index += 1
            continue
        kind, end = _scan(sql, index, dialect)
        tokens.append(Token(kind, sql[index:end], index))
        index = end
    return tokens


def _check_characters(sql: str, dialect: str) -> None:
    if any(
        (ord(c) < 32 and c not in ALLOWED_CONTROL) or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF
        for c in sql
    ):
        raise SqlSyntaxRefused("control characters and lone surrogates are not accepted in a query")
    if "\\" in sql:
        raise SqlSyntaxRefused(
            "backslashes are not accepted: the servers' escape rules depend on their settings"
        )


def _scan(sql: str, index: int, dialect: str) -> tuple[Kind, int]:
    char, pair = sql[index], sql[index : index + 2]
    if pair in ("--", "/*") or (char == "#" and dialect == "mysql"):
        return Kind.COMMENT, _comment_end(sql, index)
    if pair == "*/":
        return Kind.COMMENT, index + 2
    if char == "'":
        return Kind.STRING, _quote_end(sql, index, "'")
    if char == '"' or (char == "`" and dialect == "mysql"):
        return Kind.QUOTED, _quote_end(sql, index, char)
    if char == "`":
        raise SqlSyntaxRefused('backquotes are not accepted on PostgreSQL (use "name")')
    if char == "$" and dialect == "postgres":
        raise SqlSyntaxRefused("'$' is not accepted on PostgreSQL (dollar quoting and parameters)")
    if _is_word_char(char, dialect):
        end = index
        while end < len(sql) and _is_word_char(sql[end], dialect):
            end += 1
        return Kind.WORD, end
    if char in PUNCTUATION:
        return Kind.PUNCT, index + 1
    if pair == "::":
        return Kind.OPERATOR, index + 2
    return Kind.OPERATOR, index + 1


def _is_word_char(char: str, dialect: str) -> bool:
    # Both servers take any non-ASCII character as part of an unquoted name; MySQL also takes '$'.
    return (
        char.isalnum() or char == "_" or not char.isascii() or (char == "$" and dialect == "mysql")
    )


def _quote_end(sql: str, index: int, quote: str) -> int:
    # A doubled quote stands for itself in both servers (backslashes were refused above).
    position = index + 1
    while True:
        found = sql.find(quote, position)
        if found < 0:
            raise SqlSyntaxRefused(f"a {quote} quote is not closed")
        if sql[found + 1 : found + 2] != quote:
            return found + 1
        position = found + 2


def _comment_end(sql: str, index: int) -> int:
    if sql.startswith("/*", index):
        found = sql.find("*/", index + 2)
        return len(sql) if found < 0 else found + 2
    found = sql.find("\n", index)
    return len(sql) if found < 0 else found
