"""ODSQL syntax tree → SQLGlot expressions for DuckDB, with types checked against the schema.

User text only ever becomes SQLGlot literals; identifiers come from the schema and are
quoted; function names come from ``functions.py``.

``Compiler`` is assembled from its parts: ``conditions`` (where clauses, text filters),
``geo_predicates`` (geometries and geo filters) and ``grouping`` (date parts, group_by
ranges); ``typed`` holds the ODSQL types and the SQL builders they share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo

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
