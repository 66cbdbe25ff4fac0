"""group_by items (``range()`` buckets over numbers and dates, ``geo_cluster()``), the date-part
functions and ``now()``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from itertools import pairwise
from typing import Literal

from sqlglot import exp

from mutuelle.core import clock
from mutuelle.core.cache import cached
from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import (
    DURATION_UNITS,
    NOW_RANGES,
    WEEKDAYS,
    fold_number_label,
    java_to_strftime,
    shift_now,
)
from mutuelle.query.odsql.typed import (
    DATE,
    DATETIME,
    DECIMAL,
    GEOMETRY,
    INTEGER,
    NUMERIC,
    TEMPORAL,
    TEXT,
    CompilerPart,
    Typed,
    cast,
    fn,
)


#: Largest shift ``now()`` takes in any unit (more would leave the calendar anyway).
MAX_NOW_SHIFT = 10**12


_NAMED_PARTS = re.compile(r"%%|%[AaBb]")


@cached("query.date_names", max_items=16)
def date_names(lang: str) -> dict[str, tuple[str, ...]]:
    """Day names (Monday first) and month names, full and abbreviated, in ``lang`` (CLDR, as
    Opendatasoft writes them: ``mardi``, ``mar.``), by strftime directive."""
    from babel import dates

    def days(width: Literal["wide", "abbreviated"]) -> tuple[str, ...]:
        names = dates.get_day_names(width, locale=lang)
        return tuple(str(names[i]) for i in range(7))

    def months(width: Literal["wide", "abbreviated"]) -> tuple[str, ...]:
        names = dates.get_month_names(width, locale=lang)
        return tuple(str(names[i]) for i in range(1, 13))

    return {"%A": days("wide"), "%a": days("abbreviated"), "%B": months("wide"),
            "%b": months("abbreviated")}


def localised_strftime(value: exp.Expr, fmt: str, lang: str) -> exp.Expr:
    """``strftime(value, fmt)`` with day and month names in ``lang`` (DuckDB writes English)."""
    pieces: list[exp.Expr] = []
    start = 0
    for found in _NAMED_PARTS.finditer(fmt):
        if found.group(0) == "%%":
            continue
        if found.start() > start:
            pieces.append(fn("strftime", value.copy(), exp.Literal.string(fmt[start:found.start()])))
        names = exp.Array(expressions=[exp.Literal.string(n) for n in date_names(lang)[found.group(0)]])
        index = fn("isodow" if found.group(0) in ("%A", "%a") else "month", value.copy())
        pieces.append(fn("list_extract", names, index))
        start = found.end()
    if not pieces:
        return fn("strftime", value, exp.Literal.string(fmt))
    if start < len(fmt):
        pieces.append(fn("strftime", value.copy(), exp.Literal.string(fmt[start:])))
    joined = pieces[0]
    for piece in pieces[1:]:  # || keeps NULL NULL, where concat() would make it ''
        joined = exp.DPipe(this=joined, expression=piece)
    return joined


class Grouping(CompilerPart):
    """The dates and groups part of ``Compiler``: local time, date parts, ``now()``, group_by
    ranges and clusters."""

    def local_time(self, typed: Typed) -> exp.Expr:
        """A datetime seen on the clock of the request's time zone (dates pass through)."""
        if typed.type == DATETIME:
            return fn("timezone", exp.Literal.string(self.tz_name),
                      cast(typed.sql, "TIMESTAMPTZ"))
        return typed.sql

    # -- date parts and now() -------------------------------------------------------------
    def date_part(self, node: ast.Call) -> Typed:
        """``year()`` ... ``second()`` and ``date_format()``, in the request's time zone."""
        arg = self.expr(node.args[0])
        self.require(arg, TEMPORAL, node.args[0], f"{node.name}()")
        if node.name == "date_format":
            pattern = node.args[1]
            if not isinstance(pattern, ast.String):
                raise self.error("date_format() needs a quoted pattern", pattern)
            fmt = java_to_strftime(pattern.value, clause=self.clause, position=pattern.pos)
            return Typed(localised_strftime(self.local_time(arg), fmt, self.lang), TEXT)
        return Typed(fn(node.name, self.local_time(arg)), INTEGER)

    def now(self, node: ast.Call) -> Typed:
        """``now(days=-7, hour=0, ...)``: the current time of the request's zone with some
        parts set (singular names) or shifted (plural names), fixed when the query is built."""
        parts: dict[str, int] = {}
        for keyword in node.keywords:
            value = keyword.value
            if not isinstance(value, ast.Number) or not isinstance(value.value, int):
                raise self.error(f"now() needs a whole number for {keyword.name}", value)
            low, high = NOW_RANGES.get(keyword.name, (-MAX_NOW_SHIFT, MAX_NOW_SHIFT))
            if not low <= value.value <= high or (keyword.name in WEEKDAYS
                                                   and value.value == 0):
                allowed = "a non-zero number" if keyword.name in WEEKDAYS else "a number"
                raise self.error(f"now() needs {allowed} from {low} to {high} for "
                                 f"{keyword.name}", value)
            parts.pop(keyword.name, None)  # the last one written wins, weekdays included
            parts[keyword.name] = value.value
        if self.moment is None:
            self.moment = clock.now()
        local = self.moment.astimezone(self.tz).replace(tzinfo=None)
        try:
            moment = shift_now(local, parts)
        except (ValueError, OverflowError) as exc:
            raise self.error("now() with these arguments falls outside years 1 to 9999",
                             node) from exc
        return self.instant(moment, None, DATETIME)

    # -- group_by items -----------------------------------------------------------------
    def group_expr(self, node: ast.Node) -> Typed:
        """A group_by expression: ``range(...)``, ``geo_cluster(...)`` or any scalar one."""
        if isinstance(node, ast.Call) and node.name in _GROUPINGS:
            return _GROUPINGS[node.name](self, node)
        return self.expr(node)

    def range_(self, node: ast.Call) -> Typed:
        """``range(x, step)``, ``range(date, 1 month)`` or explicit edges
        ``range(x, *, 10, 20, *)``, ``range(date, *, date'2024', *)``."""
        target = self.expr(node.args[0])
        rest = node.args[1:]
        if len(rest) == 1 and isinstance(rest[0], ast.Quantity):
            return self.date_range(target, node.args[0], rest[0])
        if target.type in TEMPORAL:
            return self.edge_range(target, rest, node, self.date_edge)
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
        return self.edge_range(target, rest, node, self.number_edge)

    def number_edge(self, edge: ast.Node, target: Typed) -> _Edge:
        """A number edge of ``range()``."""
        if not isinstance(edge, ast.Number):
            raise self.error("range() edges are numbers, with '*' first or last", edge)
        return _Edge(edge.value, self.number(edge.value).sql, fold_number_label(edge.value))

    def date_edge(self, edge: ast.Node, target: Typed) -> _Edge:
        """A date edge of ``range()`` on a date field, labelled as the UTC instant."""
        if not isinstance(edge, (ast.DateLit, ast.String)):
            raise self.error("range() edges on a date are date'...' literals, with '*' first "
                             "or last", edge)
        when = self.when(edge.text if isinstance(edge, ast.DateLit) else edge.value, edge)
        literal = self.instant(when.start, when.tz, target.type)
        zone = when.tz or (UTC if literal.type == DATE else self.tz)
        moment = when.start.replace(tzinfo=zone).astimezone(UTC)
        label = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        return _Edge(moment.timestamp(), literal.sql, label)

    def edge_range(self, target: Typed, rest: tuple[ast.Node, ...], node: ast.Node,
                   read: Callable[[ast.Node, Typed], _Edge]) -> Typed:
        """Explicit edges; labels read ``[*, 10[``, ``[10, 20[``, ``[20, *[``."""
        open_low = bool(rest) and isinstance(rest[0], ast.Star)
        open_high = len(rest) > 1 and isinstance(rest[-1], ast.Star)
        inner = rest[int(open_low):len(rest) - int(open_high)]
        edges: list[_Edge] = []
        for item in inner:
            edge = read(item, target)
            if edges and edge.order <= edges[-1].order:
                raise self.error("range() edges must increase", item)
            edges.append(edge)
        if not edges:
            raise self.error("range() needs a step or at least one edge", node)
        bounds: list[_Edge | None] = [None] if open_low else []
        bounds += edges
        bounds += [None] if open_high else []
        case = exp.Case()
        for low, high in pairwise(bounds):
            label = f"[{_label(low)}, {_label(high)}["
            tests = [cls(this=target.sql.copy(), expression=edge.sql.copy())
                     for cls, edge in ((exp.GTE, low), (exp.LT, high)) if edge is not None]
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

    def geo_cluster(self, node: ast.Call) -> Typed:
        """``geo_cluster(geo, zoom[, radius])``: points grouped by geohash cell, the finest
        cells wider than ``radius`` pixels at that map zoom; each group shows the centroid of
        its points. (Opendatasoft then merges close groups; we keep the cells.)"""
        geo = self.geo_field(node.args[0])
        zoom = _whole(node.args[1])
        if zoom is None or not 0 <= zoom <= 25:
            raise self.error("geo_cluster() zoom is a whole number from 0 to 25", node.args[1])
        radius = _whole(node.args[2]) if len(node.args) > 2 else DEFAULT_CLUSTER_RADIUS
        if radius is None or not 1 <= radius <= 10_000:
            raise self.error("geo_cluster() radius is a whole number of pixels from 1 to "
                             "10000", node.args[2])
        width, height = geohash_cell(cluster_precision(zoom, radius))
        centre = fn("ST_Centroid", geo)
        lon, lat = fn("ST_X", centre), fn("ST_Y", centre.copy())

        def cell(coordinate: exp.Expr, offset: float, size: float) -> exp.Expr:
            shifted = exp.Paren(this=exp.Add(this=coordinate, expression=self.number(offset).sql))
            return cast(fn("floor", exp.Div(this=shifted, expression=self.number(size).sql)),
                        "BIGINT")

        key = exp.Add(this=exp.Mul(this=cell(lon, 180.0, width),
                                   expression=exp.Literal.number(2**31)),
                      expression=cell(lat, 90.0, height))
        centroid = fn("ST_Point", exp.Avg(this=lon.copy()), exp.Avg(this=lat.copy()))
        return Typed(centroid, GEOMETRY, key=key)


#: Default ``geo_cluster()`` radius, in pixels of a 256-pixel tile (Opendatasoft's).
DEFAULT_CLUSTER_RADIUS = 40
#: Metres per pixel at zoom 0 on a 256-pixel tile at the equator (Web Mercator).
_METRES_PER_PIXEL = 156_543.03392804097
#: Metres per degree of longitude at the equator and of latitude.
_METRES_PER_DEGREE = (111_320.0, 110_574.0)


def geohash_cell(precision: int) -> tuple[float, float]:
    """Width and height in degrees of a geohash cell of ``precision`` characters."""
    bits = 5 * precision
    return 360 / 2 ** ((bits + 1) // 2), 180 / 2 ** (bits // 2)


def cluster_precision(zoom: int, radius: int) -> int:
    """The finest geohash precision (1 to 12) whose cells are wider and higher than
    ``radius`` pixels at map zoom ``zoom``."""
    metres = radius * _METRES_PER_PIXEL / 2**zoom
    fitting = [p for p in range(1, 13) if min(
        size * scale for size, scale in zip(geohash_cell(p), _METRES_PER_DEGREE)) > metres]
    return max(fitting, default=1)


@dataclass(frozen=True)
class _Edge:
    """One edge of a static range: its order, its SQL literal and how labels write it."""

    order: float
    sql: exp.Expr
    label: str


def _label(edge: _Edge | None) -> str:
    return "*" if edge is None else edge.label


def _whole(node: ast.Node) -> int | None:
    return node.value if isinstance(node, ast.Number) and isinstance(node.value, int) else None


#: The grouping functions of group_by, by name.
_GROUPINGS: dict[str, Callable[[Grouping, ast.Call], Typed]] = {
    "range": Grouping.range_,
    "geo_cluster": Grouping.geo_cluster,
}
