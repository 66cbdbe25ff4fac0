"""group_by items (``range()`` buckets over numbers and dates) and the date-part functions."""

from __future__ import annotations

from itertools import pairwise

from sqlglot import exp

from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import DURATION_UNITS, fold_number_label, java_to_strftime
from mutuelle.query.odsql.typed import (
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    NUMERIC,
    TEMPORAL,
    TEXT,
    CompilerPart,
    Typed,
    cast,
    fn,
)


class Grouping(CompilerPart):
    """The dates and ranges part of ``Compiler``: local time, date parts, group_by ranges."""

    def local_time(self, typed: Typed) -> exp.Expr:
        """A datetime seen on the clock of the request's time zone (dates pass through)."""
        if typed.type == DATETIME:
            return fn("timezone", exp.Literal.string(self.tz_name),
                      cast(typed.sql, "TIMESTAMPTZ"))
        return typed.sql

    # -- date parts ---------------------------------------------------------------------
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
