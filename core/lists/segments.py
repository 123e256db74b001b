"""Segment filters: a small language over subscriber fields and membership.

    country = "DE" and plan in ("pro", "team") and signed_up >= 2025-01-01
    and not role and (in list "news" or score > 10)

Fields are the subscriber's custom fields (from the CSV header) plus the
built-ins ``email``, ``domain``, ``valid``, ``role`` and ``suppressed``.
Values are "strings" (or 'strings'), numbers, bare ISO dates (compared as
strings, which orders ISO dates correctly), ``true``/``false``. Operators:
``= != < <= > >=``, ``contains``, ``in (...)``, ``not in (...)``; a bare
field is true when set and not false/0/empty; ``in list "NAME"``; ``and``,
``or``, ``not``, parentheses.

``parse`` turns the text into a tree of the dataclasses below; the store
renders the tree to SQL with every value bound (core.store.lists). An
invalid filter raises ``SegmentError`` naming the column of the offending
token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUILTIN_FIELDS = ("email", "domain", "valid", "role", "suppressed")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "contains")
KEYWORDS = ("and", "or", "not", "in", "list", "true", "false", "contains")


class SegmentError(ValueError):
    """An invalid filter; ``column`` (1-based) points at the offending token."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.reason = message
        self.column = column


Value = str | int | float | bool


@dataclass(frozen=True)
class Field:
    name: str
    builtin: bool


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str
    value: Value


@dataclass(frozen=True)
class InSet:
    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class InList:
    name: str


@dataclass(frozen=True)
class Truthy:
    field: Field


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | InSet | InList | Truthy | Not | And | Or


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, date, name, keyword, op, "(", ")", ",", end
    text: str
    value: Value | None
    column: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<date>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.-]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op><=|>=|!=|==|<>|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise SegmentError("unterminated string", pos + 1)
            raise SegmentError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = match.lastgroup or ""
        raw = match.group()
        column = pos + 1
        pos = match.end()
        if kind == "space":
            continue
        if kind == "string":
            tokens.append(Token("string", raw, _ESCAPE.sub(r"\1", raw[1:-1]), column))
        elif kind == "date":
            tokens.append(Token("date", raw, raw, column))
        elif kind == "number":
            tokens.append(Token("number", raw, float(raw) if "." in raw else int(raw), column))
        elif kind == "name" and raw.lower() in KEYWORDS:
            word = raw.lower()
            value = {"true": True, "false": False}.get(word)
            tokens.append(Token("keyword", word, value, column))
        elif kind == "name":
            tokens.append(Token("name", raw, raw, column))
        elif kind == "op":
            op = {"==": "=", "<>": "!="}.get(raw, raw)
            tokens.append(Token("op", op, None, column))
        else:
            tokens.append(Token(raw, raw, None, column))
    tokens.append(Token("end", "", None, len(text) + 1))
    return tokens


def _describe(token: Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.i + offset, len(self.tokens) - 1)]
        return token.kind == "keyword" and token.text == word

    def expect(self, kind: str, what: str) -> Token:
        token = self.peek
        if token.kind != kind:
            raise SegmentError(f"expected {what}, found {_describe(token)}", token.column)
        return self.take()

    def parse(self) -> Node:
        if self.peek.kind == "end":
            raise SegmentError("the filter is empty", 1)
        node = self.or_expr()
        if self.peek.kind != "end":
            token = self.peek
            raise SegmentError(
                f"expected 'and', 'or' or the end, found {_describe(token)}", token.column
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.is_keyword("or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.is_keyword("and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        if self.is_keyword("not"):
            self.take()
            return Not(self.not_expr())
        return self.primary()

    def primary(self) -> Node:
        token = self.peek
        if token.kind == "(":
            self.take()
            node = self.or_expr()
            self.expect(")", "')'")
            return node
        if self.is_keyword("in") and self.is_keyword("list", 1):
            self.take()
            self.take()
            name = self.expect("string", 'a list name in quotes, e.g. in list "news"')
            return InList(str(name.value))
        if token.kind != "name":
            raise SegmentError(f"expected a field name, found {_describe(token)}", token.column)
        self.take()
        field = Field(token.text, token.text in BUILTIN_FIELDS)
        after = self.peek
        if after.kind == "op" or self.is_keyword("contains"):
            op = self.take().text
            return Compare(field, op, self.value(op))
        negated = self.is_keyword("not") and self.is_keyword("in", 1)
        if negated:
            self.take()
        if self.is_keyword("in"):
            self.take()
            return InSet(field, self.value_list(), negated)
        return Truthy(field)

    def value(self, after: str) -> Value:
        token = self.peek
        if token.kind in ("string", "number", "date") or token.text in ("true", "false"):
            self.take()
            if after == "contains" and token.kind != "string":
                raise SegmentError("'contains' takes a string in quotes", token.column)
            return token.value  # type: ignore[return-value]
        hint = " (put text in quotes)" if token.kind == "name" else ""
        raise SegmentError(
            f"expected a value after {after!r}, found {_describe(token)}{hint}", token.column
        )

    def value_list(self) -> tuple[Value, ...]:
        self.expect("(", "'(' to start a list of values")
        values = [self.value("in")]
        while self.peek.kind == ",":
            self.take()
            values.append(self.value("in"))
        self.expect(")", "',' or ')'")
        return tuple(values)


def parse(text: str) -> Node:
    """The filter as a tree; raises ``SegmentError`` with the column."""
    return _Parser(text).parse()


def fields_used(node: Node) -> set[str]:
    """Custom field names a filter refers to (to warn about typos)."""
    if isinstance(node, And | Or):
        return set().union(*(fields_used(item) for item in node.items))
    if isinstance(node, Not):
        return fields_used(node.item)
    if isinstance(node, Compare | InSet | Truthy) and not node.field.builtin:
        return {node.field.name}
    return set()
