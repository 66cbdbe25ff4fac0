"""Geometry literals, the geographic filters of ODSQL (distance, shapes, bounding box) and
``distance()`` in metres."""

from __future__ import annotations

import math

from sqlglot import exp

from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import DISTANCE_UNITS, EARTH_RADIUS_M, parse_geometry
from mutuelle.query.odsql.typed import DECIMAL, GEOMETRY, CompilerPart, Typed, fn
from mutuelle.store.sql import to_literal


class GeoPredicates(CompilerPart):
    """The geometry part of ``Compiler``: geo fields, geom'...' literals, geo filters,
    distances."""

    def geo_field(self, node: ast.Node) -> exp.Expr:
        """A geometry column, the first argument of every geo function."""
        if not isinstance(node, ast.Field):
            raise self.error("expected a geometry field", node)
        typed = self.field(node)
        if typed.type != GEOMETRY:
            raise self.error(f"field '{node.name}' is not a geometry", node)
        return typed.sql

    def geometry(self, node: ast.GeomLit) -> exp.Expr:
        """A geometry literal, checked in Python and rebuilt as our own WKT."""
        geom = parse_geometry(node.text, clause=self.clause, position=node.pos)
        sql = fn("ST_GeomFromText", exp.Literal.string(geom.wkt))
        return fn("ST_MakeValid", sql) if "Polygon" in geom.kind else sql

    def centre(self, node: ast.Node, what: str) -> tuple[float, float]:
        """The (lon, lat) of a ``geom'POINT(lon lat)'`` argument."""
        if not isinstance(node, ast.GeomLit):
            raise self.error(f"{what} needs a geom'POINT(lon lat)' centre", node)
        point = parse_geometry(node.text, clause=self.clause, position=node.pos).point
        if point is None:
            raise self.error(f"{what} needs a point as centre", node)
        return point

    def metres_to(self, geo: exp.Expr, centre: tuple[float, float]) -> exp.Expr:
        """Great-circle distance (haversine) from the closest point of ``geo`` to ``centre``."""
        lon0, lat0 = centre
        closest = fn("ST_StartPoint", fn("ST_ShortestLine", geo, fn(
            "ST_Point", self.number(float(lon0)).sql, self.number(float(lat0)).sql)))
        return _haversine(fn("ST_X", closest), fn("ST_Y", closest.copy()), lon0, lat0)

    def distance(self, node: ast.Call) -> Typed:
        """``distance(geo, geom'POINT(lon lat)')``: metres from the shape to that point."""
        geo = self.geo_field(node.args[0])
        return Typed(self.metres_to(geo, self.centre(node.args[1], "distance()")), DECIMAL)

    def within_distance(self, node: ast.Call) -> exp.Expr:
        """Great-circle distance (haversine) from the closest point of the shape ≤ d."""
        geo = self.geo_field(node.args[0])
        centre = self.centre(node.args[1], "within_distance()")
        dist = node.args[2]
        if isinstance(dist, ast.Quantity) and dist.unit in DISTANCE_UNITS:
            metres = dist.value * DISTANCE_UNITS[dist.unit]
        elif isinstance(dist, ast.Number):
            metres = float(dist.value)
        else:
            raise self.error("within_distance() needs a distance such as 500m or 2km", dist)
        if not 0 <= metres <= math.pi * EARTH_RADIUS_M:
            raise self.error("distance out of range", dist)
        near = exp.LTE(this=self.metres_to(geo, centre),
                       expression=self.number(float(metres)).sql)
        box = _degree_box(*centre, metres)
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


def _haversine(lon: exp.Expr, lat: exp.Expr, lon0: float, lat0: float
               ) -> exp.Expr:
    """Metres between (lon, lat) and the constant (lon0, lat0) on a sphere."""
    def lit(v: float) -> exp.Expr:
        return to_literal(float(v))

    def half_sin_sq(a: exp.Expr, b: float) -> exp.Expr:
        delta = exp.Sub(this=fn("radians", a), expression=lit(math.radians(b)))
        return fn("pow", fn("sin", exp.Div(this=exp.Paren(this=delta), expression=lit(2))),
                  lit(2))

    cos_term = exp.Mul(this=fn("cos", fn("radians", lat.copy())),
                       expression=lit(math.cos(math.radians(lat0))))
    inner = exp.Add(this=half_sin_sq(lat, lat0),
                    expression=exp.Mul(this=cos_term, expression=half_sin_sq(lon, lon0)))
    # Rounding may push ``inner`` past 1; DuckDB's least() would also turn null into 1.
    capped = exp.Case().when(exp.GT(this=inner, expression=lit(1)), lit(1)).else_(inner.copy())
    return exp.Mul(this=lit(2 * EARTH_RADIUS_M),
                   expression=fn("asin", fn("sqrt", capped)))


def _degree_box(lon: float, lat: float, metres: float) -> tuple[float, ...] | None:
    """A lon/lat box surely holding every point within ``metres``; None near poles/±180°."""
    dlat = math.degrees(metres / EARTH_RADIUS_M) * 1.01 + 1e-9
    if abs(lat) + dlat >= 89:
        return None
    dlon = dlat / math.cos(math.radians(abs(lat) + dlat))
    if abs(lon) + dlon >= 180:
        return None
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
