"""ODSQL syntax tree → SQLGlot expressions for DuckDB, with types checked against the schema.

User text only ever becomes SQLGlot literals; identifiers come from the schema and are
quoted; function names come from ``functions.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import pairwise

from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import (
    AGGREGATE,
    DISTANCE_UNITS,
    DURATION_UNITS,
    EARTH_RADIUS_M,
    FILTER,
    FUNCTIONS,
    GROUPING,
    SCALAR,
    When,
    fold_number_label,
    java_to_strftime,
    parse_geometry,
    parse_when,
)

INTEGER, DECIMAL, BOOLEAN, DATE, DATETIME, TEXT, GEOMETRY = (
    "integer", "decimal", "boolean", "date", "datetime", "text", "geometry")
NUMERIC = frozenset({INTEGER, DECIMAL})
TEMPORAL = frozenset({DATE, DATETIME})

#: Function kinds each clause accepts.
CLAUSE_KINDS: dict[str, frozenset[str]] = {
    "where": frozenset({SCALAR, FILTER}),
    "select": frozenset({SCALAR, AGGREGATE}),
    "group_by": frozenset({SCALAR, GROUPING}),
    "order_by": frozenset({SCALAR, AGGREGATE}),
}


class UnknownField(QueryError):
    """A field that the dataset does not have (the API may answer 400 or 404)."""

    error_code = "ODSQLUnknownField"

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


def has_aggregate(node: ast.Node) -> bool:
    """Whether an aggregate function appears in ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call) and FUNCTIONS[current.name].kind == AGGREGATE:
            return True
        stack.extend(ast.children(current))
    return False


class Compiler:
    """Compiles the expressions of one clause against a schema."""

    def __init__(self, schema: Mapping[str, str], *, clause: str, tz: tzinfo, tz_name: str,
                 aliases: Mapping[str, Typed] | None = None) -> None:
        self.schema = schema
        self.clause = clause
        self.tz = tz
        self.tz_name = tz_name
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
            if isinstance(current, ast.Field):
                alias = self.aliases.get(current.name)
                if alias is None or not alias.constant:
                    return False
            elif isinstance(current, ast.Star):
                return False
            elif isinstance(current, ast.String) and isinstance(parent, (ast.BoolOp, ast.Unary)):
                return False  # a full-text search over the text fields
            elif isinstance(current, ast.Call) and (
                    FUNCTIONS[current.name].kind in (AGGREGATE, GROUPING)
                    or current.name in ("now", "random", "search")):
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

    def geo_field(self, node: ast.Node) -> exp.Expr:
        """A geometry column, the first argument of every geo function."""
        if not isinstance(node, ast.Field):
            raise self.error("expected a geometry field", node)
        typed = self.field(node)
        if typed.type != GEOMETRY:
            raise self.error(f"field '{node.name}' is not a geometry", node)
        return typed.sql

    def number(self, value: float) -> Typed:
        """A numeric literal (floats are made DOUBLE, not DECIMAL)."""
        if isinstance(value, int):
            return Typed(exp.Literal.number(value), INTEGER)
        return Typed(cast(exp.Literal.number(repr(value)), "DOUBLE"), DECIMAL)

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

    def local_time(self, typed: Typed) -> exp.Expr:
        """A datetime seen on the clock of the request's time zone (dates pass through)."""
        if typed.type == DATETIME:
            return fn("timezone", exp.Literal.string(self.tz_name),
                      cast(typed.sql, "TIMESTAMPTZ"))
        return typed.sql

    # -- expressions --------------------------------------------------------------------
    def expr(self, node: ast.Node) -> Typed:
        """Compile any expression, checking types."""
        if isinstance(node, ast.Field):
            return self.field(node)
        if isinstance(node, ast.String):
            return Typed(exp.Literal.string(node.value), TEXT)
        if isinstance(node, ast.Number):
            return self.number(node.value)
        if isinstance(node, ast.Boolean):
            return Typed(exp.Boolean(this=node.value), BOOLEAN)
        if isinstance(node, ast.DateLit):
            when = self.when(node.text, node)
            return self.instant(when.start, when.tz, DATE if not when.has_time else DATETIME)
        if isinstance(node, ast.GeomLit):
            return Typed(self.geometry(node), GEOMETRY)
        if isinstance(node, ast.Unary) and node.op == "-":
            operand = self.expr(node.operand)
            self.require(operand, NUMERIC, node, "unary minus")
            return Typed(exp.Neg(this=paren(operand.sql)), operand.type)
        if isinstance(node, ast.Binary) and node.op in "+-*/":
            return self.arithmetic(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Star):
            raise self.error("'*' is not allowed here", node)
        if isinstance(node, ast.Quantity):
            raise self.error(f"a quantity ({node.unit}) is not allowed here", node)
        return Typed(self.condition(node), BOOLEAN)

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

    def geometry(self, node: ast.GeomLit) -> exp.Expr:
        """A geometry literal, checked in Python and rebuilt as our own WKT."""
        geom = parse_geometry(node.text, clause=self.clause, position=node.pos)
        sql = fn("ST_GeomFromText", exp.Literal.string(geom.wkt))
        return fn("ST_MakeValid", sql) if "Polygon" in geom.kind else sql

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
            raise self.error("range() must be a whole group_by item", node)
        return self.scalar(node)

    def scalar(self, node: ast.Call) -> Typed:
        """Date parts, ``date_format`` and ``now``."""
        if node.name == "now":
            return Typed(fn("now"), DATETIME)
        arg = self.expr(node.args[0])
        self.require(arg, TEMPORAL, node.args[0], f"{node.name}()")
        if node.name == "date_format":
            pattern = node.args[1]
            if not isinstance(pattern, ast.String):
                raise self.error("date_format() needs a quoted pattern", pattern)
            fmt = java_to_strftime(pattern.value, clause=self.clause, position=pattern.pos)
            return Typed(fn("strftime", self.local_time(arg), exp.Literal.string(fmt)), TEXT)
        return Typed(fn(node.name, self.local_time(arg)), INTEGER)

    def aggregate(self, node: ast.Call) -> Typed:
        """count, avg, sum, min, max, median, percentile, bbox."""
        first = node.args[0]
        if node.name == "count":
            if isinstance(first, ast.Star):
                return Typed(exp.Count(this=exp.Star()), INTEGER)
            arg = self.expr(first)
            inner: exp.Expr = exp.Distinct(expressions=[arg.sql]) if node.distinct \
                else arg.sql
            return Typed(exp.Count(this=inner), INTEGER)
        arg = self.expr(first)
        if node.name == "bbox":
            self.require(arg, frozenset({GEOMETRY}), first, "bbox()")
            return Typed(fn("ST_Extent_Agg", arg.sql), GEOMETRY)
        if node.name in ("min", "max"):
            self.require(arg, NUMERIC | TEMPORAL | {TEXT, BOOLEAN}, first, f"{node.name}()")
            cls: type[exp.Func] = exp.Min if node.name == "min" else exp.Max
            return Typed(cls(this=arg.sql), arg.type)
        self.require(arg, NUMERIC, first, f"{node.name}()")
        if node.name == "sum":
            return Typed(exp.Sum(this=arg.sql), arg.type)
        if node.name == "avg":
            return Typed(exp.Avg(this=arg.sql), DECIMAL)
        if node.name == "median":
            return Typed(fn("median", arg.sql), DECIMAL)
        rank = node.args[1]
        if not isinstance(rank, ast.Number) or not 0 <= rank.value <= 100:
            raise self.error("percentile() needs a number between 0 and 100", rank)
        return Typed(fn("quantile_cont", arg.sql, self.number(rank.value / 100).sql), DECIMAL)

    # -- conditions ---------------------------------------------------------------------
    def condition(self, node: ast.Node) -> exp.Expr:
        """Compile ``node`` where a boolean is expected (a bare string is a search)."""
        if isinstance(node, ast.String):
            return self.search(node.value, None)
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(op) for op in node.operands]
            return exp.and_(*parts) if node.op == "and" else exp.or_(*parts)
        if isinstance(node, ast.Unary) and node.op == "not":
            return exp.Not(this=paren(self.condition(node.operand)))
        if isinstance(node, ast.Binary) and node.op not in "+-*/":
            return self.comparison(node)
        if isinstance(node, ast.InList):
            return self.in_list(node)
        if isinstance(node, ast.InRange):
            return self.in_range(node)
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.Is):
            return self.is_(node)
        typed = self.expr(node)
        if typed.type != BOOLEAN:
            raise self.error(f"expected a condition, found a value of type {typed.type}", node)
        return typed.sql

    def comparison(self, node: ast.Binary) -> exp.Expr:
        """``= != < <= > >=`` and ``:`` (a date period prefix when the field is a date)."""
        left = self.expr(node.left)
        if node.op == ":" and left.type in TEMPORAL and isinstance(
                node.right, (ast.String, ast.Number, ast.DateLit)):
            value = node.right
            text = (value.text if isinstance(value, ast.DateLit) else str(value.value)
                    if isinstance(value, ast.Number) else value.value)
            return self.period(left, self.when(text, value))
        if node.op == ":" and isinstance(node.right, ast.Field) \
                and node.right.name not in self.schema and node.right.name not in self.aliases:
            right = Typed(exp.Literal.string(node.right.name), TEXT)  # field:word
        else:
            right = self.literal_for(node.right, left.type)
        self.comparable(left, right, node)
        ops: dict[str, type[exp.Binary]] = {
            "=": exp.EQ, ":": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT,
            ">=": exp.GTE}
        return ops[node.op](this=paren(left.sql), expression=paren(right.sql))

    def comparable(self, left: Typed, right: Typed, node: ast.Node) -> None:
        """Fail unless two values may be compared."""
        same = left.type == right.type or {left.type, right.type} <= NUMERIC \
            or {left.type, right.type} <= TEMPORAL
        if not same or GEOMETRY in (left.type, right.type):
            raise self.error(f"cannot compare {left.type} with {right.type}", node)

    def period(self, typed: Typed, when: When) -> exp.Expr:
        """``typed`` falls in the year, month, day... that ``when`` was written with."""
        start = self.instant(when.start, when.tz, typed.type)
        end = self.instant(when.end(), when.tz, typed.type)
        return exp.and_(exp.GTE(this=typed.sql, expression=start.sql),
                        exp.LT(this=typed.sql.copy(), expression=end.sql))

    def in_list(self, node: ast.InList) -> exp.Expr:
        """``x in (a, b, c)`` with literal items."""
        left = self.expr(node.operand)
        items = []
        for item in node.items:
            if isinstance(item, (ast.Field, ast.Call, ast.Binary, ast.Unary)):
                raise self.error("in lists hold literal values only", item)
            typed = self.literal_for(item, left.type)
            self.comparable(left, typed, item)
            items.append(typed.sql)
        sql: exp.Expr = exp.In(this=paren(left.sql), expressions=items)
        return exp.Not(this=paren(sql)) if node.negated else sql

    def in_range(self, node: ast.InRange) -> exp.Expr:
        """``x in [a..b]``: ``[`` ``]`` include their end, ``]a`` and ``b[`` exclude it."""
        left = self.expr(node.operand)
        parts: list[exp.Expr] = []
        for bound, inclusive, lower in ((node.low, node.low_inclusive, True),
                                        (node.high, node.high_inclusive, False)):
            if bound is None:
                continue
            typed = self.literal_for(bound, left.type)
            self.comparable(left, typed, bound)
            cls = (exp.GTE if inclusive else exp.GT) if lower else \
                (exp.LTE if inclusive else exp.LT)
            parts.append(cls(this=paren(left.sql.copy()), expression=paren(typed.sql)))
        sql = exp.and_(*parts) if parts else exp.Not(this=exp.Is(this=paren(left.sql),
                                                                 expression=exp.Null()))
        return exp.Not(this=paren(sql)) if node.negated else sql

    def like(self, node: ast.Like) -> exp.Expr:
        """``x like "pat*"``: ``*`` is any run of characters; case and accents ignored."""
        left = self.expr(node.operand)
        self.require(left, frozenset({TEXT}), node.operand, "like")
        out, i, pat = [], 0, node.pattern
        while i < len(pat):
            ch = pat[i]
            if ch == "\\" and i + 1 < len(pat) and pat[i + 1] == "*":
                out.append("*")
                i += 2
                continue
            out.append("%" if ch == "*" else "\\" + ch if ch in "%_\\" else ch)
            i += 1
        pattern = fold(exp.Literal.string("".join(out)))
        sql: exp.Expr = exp.Escape(
            this=exp.Like(this=fold(left.sql), expression=pattern),
            expression=exp.Literal.string("\\"))
        return exp.Not(this=paren(sql)) if node.negated else sql

    def is_(self, node: ast.Is) -> exp.Expr:
        """``is [not] null|true|false``."""
        left = self.expr(node.operand)
        if node.value is None:
            value: exp.Expr = exp.Null()
        else:
            self.require(left, frozenset({BOOLEAN}), node.operand,
                         f"is {str(node.value).lower()}")
            value = exp.Boolean(this=node.value)
        sql = exp.Is(this=paren(left.sql), expression=value)
        return exp.Not(this=paren(sql)) if node.negated else sql

    # -- filter functions ---------------------------------------------------------------
    def filter_call(self, node: ast.Call) -> exp.Expr:
        """search, startswith and the geo filters."""
        handlers: dict[str, Callable[[ast.Call], exp.Expr]] = {
            "search": self.search_call, "startswith": self.startswith,
            "within_distance": self.within_distance, "in_bbox": self.in_bbox,
        }
        if node.name in handlers:
            return handlers[node.name](node)
        shape = node.args[1]
        if not isinstance(shape, ast.GeomLit):
            raise self.error(f"{node.name}() needs a geom'...' literal", shape)
        st_name = {"intersects": "ST_Intersects", "within": "ST_Within",
                   "disjoint": "ST_Disjoint"}[node.name]
        return fn(st_name, self.geo_field(node.args[0]), self.geometry(shape))

    def search_call(self, node: ast.Call) -> exp.Expr:
        """``search("text")`` or ``search(field, ..., "text")``."""
        *fields, text = node.args
        if not isinstance(text, ast.String):
            raise self.error("search() ends with a quoted text", text)
        columns = []
        for f in fields:
            typed = self.expr(f)
            self.require(typed, frozenset({TEXT}), f, "search()")
            columns.append(typed.sql)
        return self.search(text.value, columns or None)

    def search(self, text: str, columns: list[exp.Expr] | None) -> exp.Expr:
        """Every word of ``text`` appears in one of the columns (default: all text ones)."""
        if columns is None:
            columns = [column(name) for name, kind in self.schema.items() if kind == TEXT]
        words = text.split()
        if not words:
            return exp.Boolean(this=True)
        if not columns:
            return exp.Boolean(this=False)
        haystack = fold(fn("concat_ws", exp.Literal.string(" "), *columns))
        return exp.and_(*(fn("contains", haystack.copy(), fold(exp.Literal.string(w)))
                          for w in words))

    def startswith(self, node: ast.Call) -> exp.Expr:
        """``startswith(field, "prefix")``, case sensitive."""
        typed = self.expr(node.args[0])
        self.require(typed, frozenset({TEXT}), node.args[0], "startswith()")
        prefix = node.args[1]
        if not isinstance(prefix, ast.String):
            raise self.error("startswith() needs a quoted prefix", prefix)
        return fn("starts_with", typed.sql, exp.Literal.string(prefix.value))

    def within_distance(self, node: ast.Call) -> exp.Expr:
        """Great-circle distance (haversine) from the closest point of the shape ≤ d."""
        geo = self.geo_field(node.args[0])
        center, dist = node.args[1], node.args[2]
        if not isinstance(center, ast.GeomLit):
            raise self.error("within_distance() needs a geom'POINT(lon lat)' centre", center)
        point = parse_geometry(center.text, clause=self.clause, position=center.pos).point
        if point is None:
            raise self.error("within_distance() needs a point as centre", center)
        if isinstance(dist, ast.Quantity) and dist.unit in DISTANCE_UNITS:
            metres = dist.value * DISTANCE_UNITS[dist.unit]
        elif isinstance(dist, ast.Number):
            metres = float(dist.value)
        else:
            raise self.error("within_distance() needs a distance such as 500m or 2km", dist)
        if not 0 <= metres <= math.pi * EARTH_RADIUS_M:
            raise self.error("distance out of range", dist)
        lon0, lat0 = point
        closest = fn("ST_StartPoint", fn("ST_ShortestLine", geo, fn(
            "ST_Point", self.number(float(lon0)).sql, self.number(float(lat0)).sql)))
        lon, lat = fn("ST_X", closest), fn("ST_Y", closest.copy())
        haversine = _haversine(lon, lat, lon0, lat0)
        near = exp.LTE(this=haversine, expression=self.number(float(metres)).sql)
        box = _degree_box(lon0, lat0, metres)
        if box is None:
            return near
        envelope = fn("ST_MakeEnvelope", *(self.number(v).sql for v in box))
        return exp.and_(fn("ST_Intersects_Extent", geo.copy(), envelope), near)

    def in_bbox(self, node: ast.Call) -> exp.Expr:
        """``in_bbox(geo, lat1, lon1, lat2, lon2)``: the shape meets that box."""
        geo = self.geo_field(node.args[0])
        values = []
        for arg, limit in zip(node.args[1:], (90, 180, 90, 180)):
            if not isinstance(arg, ast.Number) or not -limit <= arg.value <= limit:
                raise self.error(f"in_bbox() needs numbers within ±{limit}", arg)
            values.append(float(arg.value))
        lat1, lon1, lat2, lon2 = values
        box = (min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2))
        return fn("ST_Intersects", geo,
                  fn("ST_MakeEnvelope", *(self.number(v).sql for v in box)))

    # -- group_by items -----------------------------------------------------------------
    def group_expr(self, node: ast.Node) -> Typed:
        """A group_by expression: ``range(...)`` or any scalar expression."""
        if isinstance(node, ast.Call) and node.name == "range":
            return self.range_(node)
        typed = self.expr(node)
        return typed

    def range_(self, node: ast.Call) -> Typed:
        """``range(x, step)``, ``range(x, *, a, b, *)`` or ``range(date, 1 month)``."""
        target = self.expr(node.args[0])
        rest = node.args[1:]
        if len(rest) == 1 and isinstance(rest[0], ast.Quantity):
            return self.date_range(target, node.args[0], rest[0])
        self.require(target, NUMERIC, node.args[0], "range()")
        if len(rest) == 1 and isinstance(rest[0], ast.Number):
            step = rest[0].value
            if not step > 0:
                raise self.error("range() step must be positive", rest[0])
            x = cast(target.sql, "DOUBLE")
            floor = exp.Mul(this=fn("floor", exp.Div(this=x, expression=self.number(
                float(step)).sql)), expression=self.number(float(step)).sql)
            if target.type == INTEGER and isinstance(step, int):
                return Typed(cast(floor, "BIGINT"), INTEGER)
            return Typed(fn("round", floor, exp.Literal.number(9)), DECIMAL)
        return self.edge_range(target, rest, node)

    def edge_range(self, target: Typed, rest: tuple[ast.Node, ...], node: ast.Node) -> Typed:
        """Explicit edges; labels read ``[*, 10[``, ``[10, 20[``, ``[20, *[``."""
        open_low = bool(rest) and isinstance(rest[0], ast.Star)
        open_high = bool(rest) and isinstance(rest[-1], ast.Star)
        inner = rest[int(open_low):len(rest) - int(open_high)]
        edges: list[int | float] = []
        for edge in inner:
            if not isinstance(edge, ast.Number):
                raise self.error("range() edges are numbers, with '*' first or last", edge)
            if edges and edge.value <= edges[-1]:
                raise self.error("range() edges must increase", edge)
            edges.append(edge.value)
        if not edges:
            raise self.error("range() needs a step or at least one edge", node)
        bounds: list[int | float | None] = [None] if open_low else []
        bounds += edges
        bounds += [None] if open_high else []
        case = exp.Case()
        for low, high in pairwise(bounds):
            label = f"[{_label(low)}, {_label(high)}["
            tests = [cls(this=target.sql.copy(), expression=self.number(v).sql)
                     for cls, v in ((exp.GTE, low), (exp.LT, high)) if v is not None]
            case = case.when(exp.and_(*tests), exp.Literal.string(label))
        return Typed(case, TEXT)

    def date_range(self, target: Typed, arg: ast.Node, size: ast.Quantity) -> Typed:
        """Buckets of ``n`` days, months... starting on the local calendar."""
        self.require(target, TEMPORAL, arg, "range() with a duration")
        unit = DURATION_UNITS.get(size.unit)
        if unit is None or not isinstance(size.value, int) or not 0 < size.value <= 10_000:
            raise self.error("range() duration needs a whole number from 1 to 10000 and a "
                             "unit (day, week, month, year, hour...)", size)
        interval = exp.Interval(this=exp.Literal.string(str(size.value)),
                                unit=exp.Var(this=unit))
        bucket = fn("time_bucket", interval, self.local_time(target))
        if target.type == DATE:
            return Typed(cast(bucket, "DATE"), DATE)
        return Typed(bucket, DATETIME)


def _label(v: float | None) -> str:
    return "*" if v is None else fold_number_label(v)


def _haversine(lon: exp.Expr, lat: exp.Expr, lon0: float, lat0: float
               ) -> exp.Expr:
    """Metres between (lon, lat) and the constant (lon0, lat0) on a sphere."""
    def lit(v: float) -> exp.Expr:
        return cast(exp.Literal.number(repr(float(v))), "DOUBLE")

    def half_sin_sq(a: exp.Expr, b: float) -> exp.Expr:
        delta = exp.Sub(this=fn("radians", a), expression=lit(math.radians(b)))
        return fn("pow", fn("sin", exp.Div(this=exp.Paren(this=delta), expression=lit(2))),
                  lit(2))

    cos_term = exp.Mul(this=fn("cos", fn("radians", lat.copy())),
                       expression=lit(math.cos(math.radians(lat0))))
    inner = exp.Add(this=half_sin_sq(lat, lat0),
                    expression=exp.Mul(this=cos_term, expression=half_sin_sq(lon, lon0)))
    return exp.Mul(this=lit(2 * EARTH_RADIUS_M),
                   expression=fn("asin", fn("sqrt", fn("least", lit(1), inner))))


def _degree_box(lon: float, lat: float, metres: float) -> tuple[float, ...] | None:
    """A lon/lat box surely holding every point within ``metres``; None near poles/±180°."""
    dlat = math.degrees(metres / EARTH_RADIUS_M) * 1.01 + 1e-9
    if abs(lat) + dlat >= 89:
        return None
    dlon = dlat / math.cos(math.radians(abs(lat) + dlat))
    if abs(lon) + dlon >= 180:
        return None
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
