"""A static map of the territories of one level as SVG paths, drawn by DuckDB spatial from the
referential's simplified contours: for pages that show a map without JavaScript (an
indicator's preview while it is being defined, its page). The page colours the paths."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field

import pyarrow as pa

from mutuelle.core.config import Settings
from mutuelle.geo.tiles import HALF_WORLD, geometry_file
from mutuelle.store.duck import cursor
from mutuelle.store.sql import read_parquet

#: Width of the drawing in SVG units (it scales with the page).
WIDTH = 600
#: Most territories drawn: beyond, the map would weigh more than the page it is in.
MAX_SHAPES = 4000


@dataclass(frozen=True)
class Shape:
    """One territory: its code, name and SVG path (y down, in the map's units)."""

    code: str
    name: str
    path: str


@dataclass
class StaticMap:
    """The paths of the territories around some codes, and the SVG view box holding them."""

    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)
    left_out: int = 0      # territories of the extent beyond MAX_SHAPES

    @property
    def view_box(self) -> str:
        """The ``viewBox`` of the SVG element (ST_AsSVG writes y upwards as negative)."""
        return f"0 {-self.height:.1f} {self.width:.1f} {self.height:.1f}"


def static_map(settings: Settings, vintage: int, level: str, around: Collection[str], *,
               width: int = WIDTH, max_shapes: int = MAX_SHAPES) -> StaticMap:
    """The territories of ``level`` meeting the extent of those of ``around`` (every one when
    ``around`` is empty), simplified to about one unit of the drawing."""
    path = geometry_file(settings, vintage, level)
    con = cursor(settings)
    try:
        source = read_parquet(path)
        con.register("static_codes", pa.table({"code": pa.array(sorted(around), pa.string())}))
        where = "WHERE code IN (SELECT code FROM static_codes)" if around else ""
        box = con.execute(f"SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM {source} "
                          f"{where}").fetchone()
        if box is None or box[0] is None:
            return StaticMap(width, width / 2)
        west, south, east, north = box
        x0, y0 = _mercator(west, south)
        x1, y1 = _mercator(east, north)
        scale = width / max(x1 - x0, 1.0)
        height = max((y1 - y0) * scale, 1.0)
        count = con.execute(
            f"SELECT count(*) FROM {source} WHERE geometry IS NOT NULL AND xmax >= ? "
            "AND xmin <= ? AND ymax >= ? AND ymin <= ?", [west, east, south, north]).fetchone()
        total = int(count[0]) if count else 0
        rows = con.execute(f"""
            SELECT CAST(code AS VARCHAR), CAST(name AS VARCHAR),
                   ST_AsSVG(ST_Affine(ST_SimplifyPreserveTopology(ST_Transform(
                       geometry_mid, 'EPSG:4326', 'EPSG:3857', true), ?), ?, 0, 0, ?, ?, ?),
                            false, 1)
            FROM {source}
            WHERE geometry IS NOT NULL AND xmax >= ? AND xmin <= ? AND ymax >= ? AND ymin <= ?
            ORDER BY (xmax - xmin) * (ymax - ymin) DESC, code LIMIT ?""",
            [1.0 / scale, scale, scale, -x0 * scale, -y0 * scale,
             west, east, south, north, max_shapes]).fetchall()
    finally:
        con.close()
    shapes = sorted((Shape(code, name or code, _rounded(svg)) for code, name, svg in rows if svg),
                    key=lambda s: s.code)
    return StaticMap(width, height, shapes, max(0, total - len(shapes)))


_NUMBER = re.compile(r"-?\d+\.\d+")


def _rounded(path: str) -> str:
    """The path's numbers to a tenth of a unit (a tenth of a pixel at most): a third the size."""
    return _NUMBER.sub(lambda m: f"{float(m.group()):.1f}", path)


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator metres of a WGS84 point."""
    lat = max(min(lat, 85.0511), -85.0511)
    x = lon * HALF_WORLD / 180.0
    y = math.log(math.tan((90.0 + lat) * math.pi / 360.0)) * HALF_WORLD / math.pi
    return x, y

