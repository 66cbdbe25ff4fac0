"""A dataset's points as a static SVG map for a dashboard block: the points grouped in cells
(``geo_cluster``), drawn as circles sized by their count over the outlines of the communes
around them, without JavaScript nor map library.

The drawing is in Web Mercator scaled to ``WIDTH`` units, y upwards written negative as
``ST_AsSVG`` writes it, so that outlines and points share one view box."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mutuelle.catalog.models import Version
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo.tiles import HALF_WORLD, geometry_file
from mutuelle.query.records import GEO_POINT, Page, RecordsParams, layout, records_answer
from mutuelle.store.duck import cursor
from mutuelle.store.sql import read_parquet

#: Width of the drawing in SVG units.
WIDTH = 600
#: Map zoom of the cells points are grouped in (about 40 pixels at that zoom).
CLUSTER_ZOOM = 13
#: Groups drawn at most.
MAX_GROUPS = 2000
#: Margin around the points, as a share of their extent.
MARGIN = 0.08


@dataclass(frozen=True)
class Dot:
    """A group of points: where it is drawn, how many points it holds, its radius."""

    x: float
    y: float
    count: int
    radius: float


@dataclass
class PointMap:
    """The outlines and the dots of a points map, and its view box."""

    width: float
    height: float
    outlines: list[tuple[str, str]] = field(default_factory=list)   # (name, SVG path)
    dots: list[Dot] = field(default_factory=list)
    points: int = 0
    left_out: int = 0

    @property
    def view_box(self) -> str:
        """The ``viewBox`` of the SVG element."""
        return f"0 {-self.height:.1f} {self.width:.1f} {self.height:.1f}"


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(min(lat, 85.0511), -85.0511)
    return (lon * HALF_WORLD / 180.0,
            math.log(math.tan((90.0 + lat) * math.pi / 360.0)) * HALF_WORLD / math.pi)


def _groups(settings: Settings, version: Version) -> tuple[list[tuple[float, float, int]], int]:
    """(lon, lat, count) of each cell of points, and the number of cells left out."""
    geometry = GEO_POINT if GEO_POINT in layout(settings, version).schema else next(
        (n for n, kind in version.schema.items() if kind == "geometry"), None)
    if geometry is None:
        raise NotFound(f"dataset {version.dataset.slug!r} has no geometry to map")
    params = RecordsParams.of(select="count(*) as n",
                              group_by=f"geo_cluster(`{geometry}`, {CLUSTER_ZOOM}) as cell",
                              limit=MAX_GROUPS)
    answer = records_answer(settings, version, params, Page("", ""))
    out = []
    for row in answer["results"]:
        cell = row.get("cell") or {}
        coordinates = cell.get("coordinates") if isinstance(cell, dict) else None
        if isinstance(coordinates, list) and len(coordinates) == 2:
            out.append((float(coordinates[0]), float(coordinates[1]), int(row.get("n") or 0)))
    return out, max(0, int(answer["total_count"]) - len(out))


def point_map(settings: Settings, version: Version, vintage: int | None, *,
              width: int = WIDTH) -> PointMap:
    """The points of ``version`` over the outlines of the communes of ``vintage`` (none when
    the referential has no communes)."""
    groups, left_out = _groups(settings, version)
    if not groups:
        return PointMap(width, width / 2)
    xs, ys = zip(*(_mercator(lon, lat) for lon, lat, _ in groups), strict=True)
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    pad = max(span_x, span_y, 2000.0) * MARGIN
    x0, y0, x1, y1 = min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    scale = width / (x1 - x0)
    height = (y1 - y0) * scale
    biggest = max(n for _, _, n in groups) or 1
    dots = [Dot(round((x - x0) * scale, 1), round(-(y - y0) * scale, 1), n,
                round(3 + 9 * math.sqrt(n / biggest), 1))
            for (x, y), (_, _, n) in zip(zip(xs, ys, strict=True), groups, strict=True)]
    found = PointMap(width, height, [], sorted(dots, key=lambda d: -d.count),
                     sum(n for _, _, n in groups), left_out)
    if vintage is not None:
        found.outlines = _outlines(settings, vintage, (x0, y0, x1, y1), scale)
    return found


def _outlines(settings: Settings, vintage: int, box: tuple[float, float, float, float],
              scale: float) -> list[tuple[str, str]]:
    """The communes meeting ``box`` (Web Mercator), as SVG paths in the map's units."""
    try:
        path = geometry_file(settings, vintage, "commune")
    except NotFound:
        return []
    x0, y0, x1, y1 = box
    west, south = (x0 * 180.0 / HALF_WORLD,
                   math.degrees(2 * math.atan(math.exp(y0 * math.pi / HALF_WORLD)) - math.pi / 2))
    east, north = (x1 * 180.0 / HALF_WORLD,
                   math.degrees(2 * math.atan(math.exp(y1 * math.pi / HALF_WORLD)) - math.pi / 2))
    con = cursor(settings)
    try:
        rows = con.execute(f"""
            SELECT CAST(name AS VARCHAR),
                   ST_AsSVG(ST_Affine(ST_SimplifyPreserveTopology(ST_Transform(
                       geometry_mid, 'EPSG:4326', 'EPSG:3857', true), ?), ?, 0, 0, ?, ?, ?),
                            false, 1)
            FROM {read_parquet(path)}
            WHERE geometry IS NOT NULL AND xmax >= ? AND xmin <= ? AND ymax >= ? AND ymin <= ?
            ORDER BY code LIMIT 500""",
            [1.0 / scale, scale, scale, -x0 * scale, -y0 * scale,
             west, east, south, north]).fetchall()
    finally:
        con.close()
    return [(str(name or ""), str(svg)) for name, svg in rows if svg]
