"""ODSQL value types, typed SQLGlot expressions and the small SQL builders of the compiler.

Also ``CompilerPart``, the base of the compiler's parts (``conditions``, ``geo_predicates``,
``grouping``): it declares, for the type checker only, what they use of ``Compiler``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import AGGREGATE, FILTER, GROUPING, SCALAR, When

INTEGER, DECIMAL, BOOLEAN, DATE, DATETIME, TEXT, GEOMETRY = (
    "integer", "decimal", "boolean", "date", "datetime", "text", "geometry")
NUMERIC = frozenset({INTEGER, DECIMAL})
TEMPORAL = frozenset({DATE, DATETIME})
#: The operators of ``ast.Binary`` that compute a number (the others compare).
ARITHMETIC = frozenset({"+", "-", "*", "/"})

#: Function kinds each clause accepts.
CLAUSE_KINDS: dict[str, frozenset[str]] = {
    "where": frozenset({SCALAR, FILTER}),
    "select": frozenset({SCALAR, AGGREGATE}),
    "group_by": frozenset({SCALAR, GROUPING}),
    "order_by": frozenset({SCALAR, AGGREGATE}),
}


class UnknownField(QueryError):
    """A field that the dataset does not have: an ``ODSQLError`` (400) as on Opendatasoft,
    which also says which field (``field``)."""

    def __init__(self, name: str, *, clause: str, position: int | None = None) -> None:
        super().__init__(f"unknown field '{name}'", clause=clause, position=position)
        self.field = name
        self.unknown_field = name


@dataclass(frozen=True)
class Typed:
    """A compiled expression with its ODSQL type."""

    sql: exp.Expr
    type: str
    constant: bool = False  # set for whole clause items (GROUP/ORDER BY skip constants)
    #: For group_by items shown otherwise than grouped (``geo_cluster``: grouped by grid cell,
    #: shown as the centroid of its points): the GROUP BY expression.
    key: exp.Expr | None = None

    @property
    def group_key(self) -> exp.Expr:
        """What GROUP BY (and a seeded random order) uses for this item."""
        return self.sql if self.key is None else self.key


def fn(name: str, *args: exp.Expr) -> exp.Expr:
    """A call to a DuckDB function we chose (never a name taken from the query)."""
    return exp.Anonymous(this=name, expressions=list(args))


def paren(e: exp.Expr) -> exp.Expr:
    """``e`` in parentheses when it is an operator expression."""
    if isinstance(e, (exp.Binary, exp.Not, exp.Neg, exp.Connector, exp.Is)):
        return exp.Paren(this=e)
    return e


def cast(e: exp.Expr, to: str) -> exp.Expr:
    """``CAST(e AS to)``."""
    return exp.Cast(this=e, to=exp.DataType.build(to))


def column(name: str) -> exp.Expr:
    """A quoted column reference."""
    return exp.column(name, quoted=True)


def fold(e: exp.Expr) -> exp.Expr:
    """Lower case without accents, the form full-text matching compares."""
    return fn("strip_accents", fn("lower", e))


class CompilerPart:
    """Base of the compiler's parts; ``Compiler`` (``compile.py``) defines what is declared."""

    schema: Mapping[str, str]
    clause: str
    tz: tzinfo
    tz_name: str
    aliases: dict[str, Typed]
    moment: datetime | None
    lang: str

    if TYPE_CHECKING:
        def error(self, message: str, node: ast.Node | None) -> QueryError: ...

        def field(self, node: ast.Field) -> Typed: ...

        def number(self, value: float) -> Typed: ...

        def when(self, text: str, node: ast.Node) -> When: ...

        def instant(self, moment: datetime, tz: tzinfo | None, target: str) -> Typed: ...

        def literal_for(self, node: ast.Node, target: str) -> Typed: ...

        def expr(self, node: ast.Node) -> Typed: ...

        def require(self, typed: Typed, kinds: frozenset[str], node: ast.Node,
                    what: str) -> None: ...

        def geo_field(self, node: ast.Node) -> exp.Expr: ...
