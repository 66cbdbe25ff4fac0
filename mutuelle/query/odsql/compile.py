"""ODSQL syntax tree → SQLGlot expressions for DuckDB, with types checked against the schema.

User text only ever becomes SQLGlot literals; identifiers come from the schema and are
quoted; function names come from ``functions.py``.

``Compiler`` is assembled from its parts: ``conditions`` (where clauses, text filters),
``geo_predicates`` (geometries and geo filters) and ``grouping`` (date parts, group_by
ranges); ``typed`` holds the ODSQL types and the SQL builders they share.

As in SQLGlot's own generator, node classes are dispatched by tables (``_EXPRESSIONS`` here,
``_CONDITIONS`` in ``conditions``), from ``ast`` node class to the method compiling it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import ast
from mutuelle.query.odsql.conditions import Conditions
from mutuelle.query.odsql.functions import (
    AGGREGATE,
    FILTER,
    FUNCTIONS,
    GROUPING,
    SCALAR,
    When,
    parse_when,
)
from mutuelle.query.odsql.geo_predicates import GeoPredicates
from mutuelle.query.odsql.grouping import Grouping
from mutuelle.query.odsql.typed import (
    ARITHMETIC,
    BOOLEAN,
    CLAUSE_KINDS,
    DATE,
    DATETIME,
    DECIMAL,
    GEOMETRY,
    INTEGER,
    NUMERIC,
    TEMPORAL,
    TEXT,
    Typed,
    UnknownField,
    cast,
    column,
    fn,
    fold,
    paren,
)
from mutuelle.store.sql import to_literal

# The names defined here before the parts moved out stay importable from this module.
__all__ = [
    "BOOLEAN",
    "CLAUSE_KINDS",
    "DATE",
    "DATETIME",
    "DECIMAL",
    "GEOMETRY",
    "INTEGER",
    "NUMERIC",
    "TEMPORAL",
    "TEXT",
    "Compiler",
    "Typed",
    "UnknownField",
    "cast",
    "column",
    "fn",
    "fold",
    "has_aggregate",
    "paren",
]


def has_aggregate(node: ast.Node) -> bool:
    """Whether an aggregate function appears in ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call) and FUNCTIONS[current.name].kind == AGGREGATE:
            return True
        stack.extend(ast.children(current))
    return False


class Compiler(Conditions, GeoPredicates, Grouping):
    """Compiles the expressions of one clause against a schema."""

    def __init__(self, schema: Mapping[str, str], *, clause: str, tz: tzinfo, tz_name: str,
                 aliases: Mapping[str, Typed] | None = None,
                 now: datetime | None = None, lang: str = "fr") -> None:
        self.schema = schema
        self.lang = lang  # of the day and month names date_format() writes
        self.clause = clause
        self.tz = tz
        self.tz_name = tz_name
        self.moment = now  # what now() stands for (None: the clock, when first asked)
        self.aliases = dict(aliases or {})
        self.kinds = CLAUSE_KINDS.get(clause, frozenset({SCALAR, FILTER}))
        self.in_aggregate = False

    def error(self, message: str, node: ast.Node | None) -> QueryError:
        """A QueryError at ``node``."""
        return QueryError(message, clause=self.clause, position=None if node is None
                          else node.pos)

    def is_constant(self, node: ast.Node) -> bool:
        """Whether ``node`` has the same value on every row (no field, aggregate, search...)."""
        stack: list[tuple[ast.Node, ast.Node | None]] = [(node, None)]
        while stack:
            current, parent = stack.pop()
            varies = _VARIES.get(type(current))
            if varies is not None and varies(self, current, parent):
                return False
            stack.extend((child, current) for child in ast.children(current))
        return True

    # -- fields and literals ------------------------------------------------------------
    def field(self, node: ast.Field) -> Typed:
        """A schema column (or an alias defined by group_by)."""
        if node.name in self.aliases:
            alias = self.aliases[node.name]
            return Typed(alias.sql.copy(), alias.type)
        kind = self.schema.get(node.name)
        if kind is None:
            raise UnknownField(node.name, clause=self.clause, position=node.pos)
        return Typed(column(node.name), kind)

    def number(self, value: float) -> Typed:
        """A numeric literal (floats are made DOUBLE from their text, bit for bit, not DECIMAL)."""
        if isinstance(value, int):
            return Typed(exp.Literal.number(value), INTEGER)
        return Typed(to_literal(float(value)), DECIMAL)

    def when(self, text: str, node: ast.Node) -> When:
        """A checked date literal."""
        return parse_when(text, clause=self.clause, position=node.pos)

    def instant(self, moment: datetime, tz: tzinfo | None, target: str) -> Typed:
        """A moment as a DATE (when the other side is a date) or a TIMESTAMPTZ literal."""
        if target == DATE and tz is None and moment.time() == datetime.min.time():
            return Typed(cast(exp.Literal.string(moment.date().isoformat()), "DATE"), DATE)
        aware = moment.replace(tzinfo=tz or self.tz)
        return Typed(cast(exp.Literal.string(aware.isoformat(sep=" ")), "TIMESTAMPTZ"),
                     DATETIME)

    def literal_for(self, node: ast.Node, target: str) -> Typed:
        """``node`` compiled for comparison with a value of type ``target``."""
        if target in TEMPORAL and isinstance(node, (ast.String, ast.DateLit)):
            text = node.value if isinstance(node, ast.String) else node.text
            when = self.when(text, node)
            return self.instant(when.start, when.tz, target)
        if target == DECIMAL and isinstance(node, ast.Number) and isinstance(node.value, int):
            return self.number(float(node.value))
        return self.expr(node)

    # -- expressions --------------------------------------------------------------------
    def expr(self, node: ast.Node) -> Typed:
        """Compile any expression, checking types (a condition is a boolean value)."""
        handler = _EXPRESSIONS.get(type(node))
        return handler(self, node) if handler is not None else self.condition_value(node)

    def condition_value(self, node: ast.Node) -> Typed:
        """A condition used as a value: a boolean."""
        return Typed(self.condition(node), BOOLEAN)

    def string(self, node: ast.String) -> Typed:
        """A text literal."""
        return Typed(exp.Literal.string(node.value), TEXT)

    def boolean(self, node: ast.Boolean) -> Typed:
        """``true`` or ``false``."""
        return Typed(exp.Boolean(this=node.value), BOOLEAN)

    def date_literal(self, node: ast.DateLit) -> Typed:
        """``date'...'``: a DATE, or a TIMESTAMPTZ when a time of day was written."""
        when = self.when(node.text, node)
        return self.instant(when.start, when.tz, DATE if not when.has_time else DATETIME)

    def unary(self, node: ast.Unary) -> Typed:
        """``-x`` on a number (``not x`` is a condition)."""
        if node.op != "-":
            return self.condition_value(node)
        operand = self.expr(node.operand)
        self.require(operand, NUMERIC, node, "unary minus")
        return Typed(exp.Neg(this=paren(operand.sql)), operand.type)

    def binary(self, node: ast.Binary) -> Typed:
        """Arithmetic (comparisons are conditions)."""
        return self.arithmetic(node) if node.op in ARITHMETIC else self.condition_value(node)

    def refuse_star(self, node: ast.Star) -> Typed:
        """``*`` outside ``count(*)`` and select."""
        raise self.error("'*' is not allowed here", node)

    def refuse_quantity(self, node: ast.Quantity) -> Typed:
        """A distance or a duration outside the functions that take one."""
        raise self.error(f"a quantity ({node.unit}) is not allowed here", node)

    def refuse_keyword(self, node: ast.Keyword) -> Typed:
        """A ``name=value`` argument where no function reads it."""
        raise self.error(f"'{node.name}=' is not allowed here", node)

    def require(self, typed: Typed, kinds: frozenset[str], node: ast.Node, what: str) -> None:
        """Fail unless ``typed`` is of one of ``kinds``."""
        if typed.type not in kinds:
            raise self.error(f"{what} needs {' or '.join(sorted(kinds))}, not {typed.type}",
                             node)

    def arithmetic(self, node: ast.Binary) -> Typed:
        """``+ - * /`` on numbers; ``*`` and ``/`` in DOUBLE, ``/ 0`` gives null."""
        left, right = self.expr(node.left), self.expr(node.right)
        for side, sub in ((left, node.left), (right, node.right)):
            self.require(side, NUMERIC, sub, f"'{node.op}'")
        if node.op in "+-" and left.type == right.type == INTEGER:
            lsql, rsql = (cast(t.sql, "BIGINT") if isinstance(sub, ast.Field) else t.sql
                          for t, sub in ((left, node.left), (right, node.right)))
            cls: type[exp.Binary] = exp.Add if node.op == "+" else exp.Sub
            return Typed(cls(this=paren(lsql), expression=paren(rsql)), INTEGER)
        lsql, rsql = cast(left.sql, "DOUBLE"), cast(right.sql, "DOUBLE")
        if node.op == "/":
            rsql = fn("nullif", rsql, exp.Literal.number(0))
        ops: dict[str, type[exp.Binary]] = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul,
                                            "/": exp.Div}
        return Typed(ops[node.op](this=lsql, expression=rsql), DECIMAL)

    # -- function calls -----------------------------------------------------------------
    def call(self, node: ast.Call) -> Typed:
        """A function call allowed in this clause."""
        spec = FUNCTIONS[node.name]
        if spec.kind not in self.kinds:
            raise self.error(f"{node.name}() is not allowed in {self.clause}", node)
        if spec.kind == AGGREGATE:
            if self.in_aggregate:
                raise self.error("aggregates cannot be nested", node)
            self.in_aggregate = True
            try:
                return self.aggregate(node)
            finally:
                self.in_aggregate = False
        if spec.kind == FILTER:
            return Typed(self.filter_call(node), BOOLEAN)
        if spec.kind == GROUPING:
            raise self.error(f"{node.name}() must be a whole group_by item", node)
        return _SCALARS[node.name](self, node)

    def text_function(self, node: ast.Call) -> Typed:
        """``lower()``, ``upper()`` (text) and ``length()`` (its number of characters)."""
        arg = self.expr(node.args[0])
        self.require(arg, frozenset({TEXT}), node.args[0], f"{node.name}()")
        if node.name == "length":
            return Typed(exp.Length(this=arg.sql), INTEGER)
        cls: type[exp.Func] = exp.Lower if node.name == "lower" else exp.Upper
        return Typed(cls(this=arg.sql), TEXT)

    def aggregate(self, node: ast.Call) -> Typed:
        """count, avg, sum, min, max, median, percentile, bbox, envelope.

        Each is built from SQLGlot's aggregate classes, so that a reader of the SQL tree (the
        API's paging) sees an aggregate even when one is selected alone."""
        if node.name == "count":
            return self.count(node)
        first = node.args[0]
        arg = self.expr(first)
        return _AGGREGATES[node.name](self, node, arg)

    def count(self, node: ast.Call) -> Typed:
        """``count(*)``, ``count(x)``, ``count(distinct x)``."""
        first = node.args[0]
        if isinstance(first, ast.Star):
            return Typed(exp.Count(this=exp.Star()), INTEGER)
        arg = self.expr(first)
        inner: exp.Expr = exp.Distinct(expressions=[arg.sql]) if node.distinct else arg.sql
        return Typed(exp.Count(this=inner), INTEGER)

    def bbox(self, node: ast.Call, arg: Typed) -> Typed:
        """The extent of a geometry column (null when it holds none)."""
        self.require(arg, frozenset({GEOMETRY}), node.args[0], "bbox()")
        corners = [cls(this=fn(part, arg.sql.copy())) for cls, part in (
            (exp.Min, "ST_XMin"), (exp.Min, "ST_YMin"), (exp.Max, "ST_XMax"),
            (exp.Max, "ST_YMax"))]
        return Typed(fn("ST_MakeEnvelope", *corners), GEOMETRY)

    def envelope(self, node: ast.Call, arg: Typed) -> Typed:
        """The convex hull of the geometries of a column."""
        self.require(arg, frozenset({GEOMETRY}), node.args[0], "envelope()")
        return Typed(fn("ST_ConvexHull", fn("ST_Collect", exp.ArrayAgg(this=arg.sql))),
                     GEOMETRY)

    def extreme(self, node: ast.Call, arg: Typed) -> Typed:
        """``min`` or ``max`` of anything ordered."""
        self.require(arg, NUMERIC | TEMPORAL | {TEXT, BOOLEAN}, node.args[0], f"{node.name}()")
        cls: type[exp.Func] = exp.Min if node.name == "min" else exp.Max
        return Typed(cls(this=arg.sql), arg.type)

    def numeric_aggregate(self, node: ast.Call, arg: Typed) -> Typed:
        """``sum`` (same type), ``avg`` and ``median`` (decimal) of a number."""
        self.require(arg, NUMERIC, node.args[0], f"{node.name}()")
        if node.name == "sum":
            return Typed(exp.Sum(this=arg.sql), arg.type)
        if node.name == "avg":
            return Typed(exp.Avg(this=arg.sql), DECIMAL)
        return Typed(exp.Median(this=arg.sql), DECIMAL)

    def percentile(self, node: ast.Call, arg: Typed) -> Typed:
        """``percentile(x, rank)``, continuous, rank from 0 to 100."""
        self.require(arg, NUMERIC, node.args[0], f"{node.name}()")
        rank = node.args[1]
        if not isinstance(rank, ast.Number) or not 0 <= rank.value <= 100:
            raise self.error("percentile() needs a number between 0 and 100", rank)
        return Typed(exp.PercentileCont(this=arg.sql, expression=self.number(
            rank.value / 100).sql), DECIMAL)

    # -- filter functions ---------------------------------------------------------------
    def filter_call(self, node: ast.Call) -> exp.Expr:
        """search, suggest, startswith and the geo filters."""
        handlers: dict[str, Callable[[ast.Call], exp.Expr]] = {
            "search": self.search_call, "suggest": self.search_call,
            "startswith": self.startswith, "within_distance": self.within_distance,
            "in_bbox": self.in_bbox,
        }
        if node.name in handlers:
            return handlers[node.name](node)
        shape = node.args[1]
        if not isinstance(shape, ast.GeomLit):
            raise self.error(f"{node.name}() needs a geom'...' literal", shape)
        st_name = {"intersects": "ST_Intersects", "within": "ST_Within",
                   "disjoint": "ST_Disjoint"}[node.name]
        return fn(st_name, self.geo_field(node.args[0]), self.geometry(shape))


#: How ``Compiler.expr`` compiles each node class (any other class is a condition).
_EXPRESSIONS: dict[type[ast.Node], Callable[[Compiler, Any], Typed]] = {
    ast.Field: Compiler.field,
    ast.String: Compiler.string,
    ast.Number: lambda compiler, node: compiler.number(node.value),
    ast.Boolean: Compiler.boolean,
    ast.DateLit: Compiler.date_literal,
    ast.GeomLit: lambda compiler, node: Typed(compiler.geometry(node), GEOMETRY),
    ast.Unary: Compiler.unary,
    ast.Binary: Compiler.binary,
    ast.Call: Compiler.call,
    ast.Star: Compiler.refuse_star,
    ast.Quantity: Compiler.refuse_quantity,
    ast.Keyword: Compiler.refuse_keyword,
}

#: The scalar functions, by name.
_SCALARS: dict[str, Callable[[Compiler, ast.Call], Typed]] = {
    **dict.fromkeys(("year", "month", "day", "hour", "minute", "second", "date_format"),
                    Compiler.date_part),
    "now": Compiler.now,
    **dict.fromkeys(("lower", "upper", "length"), Compiler.text_function),
    "distance": Compiler.distance,
}

#: The aggregates after ``count``, by name, each given its compiled argument.
_AGGREGATES: dict[str, Callable[[Compiler, ast.Call, Typed], Typed]] = {
    "bbox": Compiler.bbox,
    "envelope": Compiler.envelope,
    "min": Compiler.extreme,
    "max": Compiler.extreme,
    "sum": Compiler.numeric_aggregate,
    "avg": Compiler.numeric_aggregate,
    "median": Compiler.numeric_aggregate,
    "percentile": Compiler.percentile,
}


def _field_varies(compiler: Compiler, node: ast.Field, parent: ast.Node | None) -> bool:
    alias = compiler.aliases.get(node.name)
    return alias is None or not alias.constant


def _call_varies(compiler: Compiler, node: ast.Call, parent: ast.Node | None) -> bool:
    return FUNCTIONS[node.name].kind in (AGGREGATE, GROUPING, FILTER) or node.name in (
        "now", "random")


#: Per node class, whether that node makes an expression vary from row to row.
_VARIES: dict[type[ast.Node], Callable[[Compiler, Any, ast.Node | None], bool]] = {
    ast.Field: _field_varies,
    ast.Star: lambda compiler, node, parent: True,
    ast.String: lambda compiler, node, parent: ast.is_bare_search(node, parent),
    ast.Call: _call_varies,
}
