"""Mapbox Vector Tiles of datasets, cut by DuckDB spatial: a version's Parquet is loaded once
into the shared database (geometries in Web Mercator with the chosen properties). Points
falling in the same tile unit of a tile become one feature with a ``count``; lines and polygons
are drawn simplified by one tile unit of their zoom, clipped to the tile and snapped to its
grid, and those that shrink to nothing there become a one-unit mark, counted like points, so
that no feature vanishes at low zooms. Tiles share the frame, validation and in-process LRU
of :mod:`mutuelle.geo.tiles`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.query.run import budgeted
from mutuelle.geo.tiles import (
    EXTENT,
    HALF_WORLD,
    MAX_ZOOM,
    Tile,
    TileFrame,
    check_tile,
    file_stamp,
    load_lock,
    tile_cache,
    tile_unit,
)
from mutuelle.store.duck import cursor
from mutuelle.store.sql import ident, literal, read_parquet

_NATIVE_TYPES = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE")
#: Datasets whose geometries are kept in the shared database (one per file and set of
#: properties; each is a table of points and a table of lines and polygons).
DATASET_TABLES = 8
#: Which copy of the lines and polygons is drawn at which zoom: (highest zoom, column). Each
#: copy is simplified by one tile unit of its highest zoom; from zoom 12, as they are.
#: Sizes of the cells points are clustered in (tile units; 64 is 1/64 of a tile's side, about
#: 8 pixels of a 512-pixel tile).
CLUSTER_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_SHAPES_BY_ZOOM = ((5, "g_z5"), (8, "g_z8"), (11, "g_z11"), (MAX_ZOOM, "g_full"))
#: Latitudes beyond Web Mercator's square are cut off before projecting (no infinite metres).
_MERCATOR_LAT = 85.0511287798066
#: MVT dimensions: 2 for lines, 3 for polygons (as ``ST_CollectionExtract`` numbers them).
LINES, POLYGONS = 2, 3


@dataclass(frozen=True)
class _Loaded:
    """The tables of one dataset: its points and its lines and polygons (``dim`` 2 or 3)."""

    points: str
    shapes: str
    properties: int


# (file, stamp, geometry column, properties) -> its tables; an evicted dataset's are dropped
_datasets: Cache[tuple[str, tuple[int, int, int], str, tuple[str, ...]], _Loaded] = Cache(
    "geo.point_tables", max_items=DATASET_TABLES)


def _source_columns(con: duckdb.DuckDBPyConnection, source: str, geometry: str,
                    properties: tuple[str, ...]) -> str:
    """``g`` (the geometry, WGS84) and ``p0``, ``p1``... (the properties) of the file's rows,
    after checking the columns exist and the properties' names are free."""
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    unknown = [c for c in (geometry, *properties) if c not in types]
    if unknown:
        raise InvalidInput(f"no column {', '.join(unknown)} to draw with")
    reserved = {"count", geometry} & set(properties)
    if reserved or len(set(properties)) < len(properties):
        raise InvalidInput(f"properties must differ from each other and from "
                           f"{', '.join(sorted({'count', geometry}))}")
    g = ident(geometry) if types[geometry].startswith("GEOMETRY") \
        else f"ST_GeomFromWKB({ident(geometry)})"
    columns = "".join(
        f", {ident(c) if types[c] in _NATIVE_TYPES else f'CAST({ident(c)} AS VARCHAR)'} AS p{i}"
        for i, c in enumerate(properties))
    return f"{g} AS g{columns}"


def _to_mercator(g: str) -> str:
    inside = f"ST_MakeEnvelope(-180, -{_MERCATOR_LAT}, 180, {_MERCATOR_LAT})"
    cut = f"""CASE WHEN ST_YMax({g}) > {_MERCATOR_LAT} OR ST_YMin({g}) < -{_MERCATOR_LAT}
                   THEN ST_Intersection({g}, {inside}) ELSE {g} END"""
    return f"ST_Transform({cut}, 'EPSG:4326', 'EPSG:3857', true)"


def _of_dim(g: str) -> str:
    """``g`` reduced to the parts of its row's ``dim``: lines, or valid polygons with their
    outer rings clockwise (ST_Normalize; the y flip into tile space makes it the MVT's
    orientation)."""
    return f"""CASE WHEN dim = {LINES} THEN ST_CollectionExtract({g}, 2)
                    ELSE ST_Normalize(ST_CollectionExtract(ST_MakeValid({g}), 3)) END"""


def _simplified(z: int, finer: str) -> str:
    """Lines (or valid polygons) of column ``finer`` simplified by one tile unit of zoom ``z``."""
    unit = tile_unit(z)
    return f"""CASE WHEN dim = {LINES} THEN ST_Simplify({finer}, {unit})
                    ELSE ST_Normalize(ST_CollectionExtract(ST_MakeValid(
                             ST_SimplifyPreserveTopology({finer}, {unit})), 3)) END"""


def _copies() -> str:
    """The CTEs adding the simplified copies ``g_z11``, ``g_z8``, ``g_z5`` to ``whole``, each
    simplified from the one before; a copy that vanishes keeps the one before (a tile then
    draws it as a mark). The last CTE is ``z5``."""
    steps, finer, before = [], "g_full", "whole"
    for top, column in reversed(_SHAPES_BY_ZOOM[:-1]):
        steps.append(f"""s{top} AS (SELECT *, {_simplified(top, finer)} AS s FROM {before}),
            z{top} AS (SELECT * EXCLUDE (s),
                              CASE WHEN ST_IsEmpty(s) THEN {finer} ELSE s END AS {column}
                       FROM s{top})""")
        finer, before = column, f"z{top}"
    return ", ".join(steps)


def _load(settings: Settings, parquet: Path, geometry: str, properties: tuple[str, ...]) -> _Loaded:
    """The tables of a dataset's geometries (in Web Mercator) and chosen properties."""
    stamp = file_stamp(parquet)
    key = (str(parquet.resolve()), stamp, geometry, properties)
    with load_lock:
        loaded = _datasets.get(key)
        if loaded is not None:
            return loaded
        prefix = f"dataset_tiles_{hashlib.sha1(repr(key).encode()).hexdigest()[:16]}"
        loaded = _Loaded(f"{prefix}_points", f"{prefix}_shapes", len(properties))
        picked = "".join(f", p{i}" for i in range(len(properties)))
        con = cursor(settings)
        try:
            source = read_parquet(parquet)
            rows = f"""(SELECT *, ST_GeometryType(g)::VARCHAR AS kind
                        FROM (SELECT {_source_columns(con, source, geometry, properties)}
                              FROM {source})
                        WHERE g IS NOT NULL AND NOT ST_IsEmpty(g))"""
            # Points as two numbers; those of multi-points and collections one by one.
            con.execute(f"""
                CREATE OR REPLACE TABLE {loaded.points} AS
                WITH source AS {rows}
                SELECT ST_X(m) AS px, ST_Y(m) AS py{picked}
                FROM (SELECT ST_Transform(g, 'EPSG:4326', 'EPSG:3857', true) AS m{picked}
                      FROM (SELECT g{picked} FROM source WHERE kind = 'POINT'
                            UNION ALL
                            SELECT part.geom AS g{picked}
                            FROM (SELECT UNNEST(ST_Dump(g)) AS part{picked} FROM source
                                  WHERE kind IN ('MULTIPOINT', 'GEOMETRYCOLLECTION'))
                            WHERE ST_GeometryType(part.geom) = 'POINT'))
                WHERE abs(ST_Y(m)) <= {HALF_WORLD}""")
            # Lines and polygons whole (a multi-line stays one feature), each with its bbox and
            # its simplified copies.
            con.execute(f"""
                CREATE OR REPLACE TABLE {loaded.shapes} AS
                WITH source AS {rows}, parts AS (
                    SELECT {LINES} AS dim, g{picked} FROM source
                    WHERE kind IN ('LINESTRING', 'MULTILINESTRING', 'GEOMETRYCOLLECTION')
                    UNION ALL
                    SELECT {POLYGONS} AS dim, g{picked} FROM source
                    WHERE kind IN ('POLYGON', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION')
                ), valid AS (
                    SELECT dim, {_of_dim("g")} AS g{picked} FROM parts
                ), projected AS (
                    SELECT dim, {_to_mercator("g")} AS m{picked} FROM valid WHERE NOT ST_IsEmpty(g)
                ), whole AS (
                    SELECT * FROM (SELECT dim, {_of_dim("m")} AS g_full{picked} FROM projected)
                    WHERE NOT ST_IsEmpty(g_full)
                ), {_copies()}
                SELECT dim, ST_XMin(g_full) AS bx0, ST_YMin(g_full) AS by0,
                       ST_XMax(g_full) AS bx1, ST_YMax(g_full) AS by1,
                       g_full, g_z11, g_z8, g_z5{picked}
                FROM z5""")
            for _, old in _datasets.put(key, loaded):
                con.execute(f"DROP TABLE IF EXISTS {old.points}")
                con.execute(f"DROP TABLE IF EXISTS {old.shapes}")
        finally:
            con.close()
        return loaded


def check_cluster(cluster: int) -> int:
    """``cluster`` if it is a size of clusters this module makes (tile units, a power of 2)."""
    if cluster not in CLUSTER_SIZES:
        raise InvalidInput(f"cluster must be one of {', '.join(map(str, CLUSTER_SIZES))} "
                           f"(tile units of {EXTENT} per tile side), not {cluster}")
    return cluster


def dataset_tile(settings: Settings, parquet: Path, z: int, x: int, y: int, *,
                 properties: tuple[str, ...] = (), layer: str = "points",
                 geometry: str = "geometry", cluster: int = 1) -> Tile:
    """The MVT of a dataset (a version's Parquet with a WGS84 geometry column), its ETag and
    feature count. Points in the same cell of ``cluster`` × ``cluster`` tile units (one unit by
    default) become one feature with a ``count``, placed at their mean; lines or polygons too
    small to be drawn at this zoom become one feature with a ``count`` per tile unit; the
    chosen ``properties`` are carried by features holding a single point, line or polygon."""
    check_tile(z, x, y)
    check_cluster(cluster)
    if not parquet.is_file():
        raise NotFound(f"no data file {parquet.name}")
    loaded = _load(settings, parquet, geometry, tuple(properties))
    key = ("dataset", loaded.points, layer, z, x, y, cluster)
    found = tile_cache.get(key)
    if found is not None:
        return found
    frame = TileFrame.of(z, x, y)
    xmin, ymin, xmax, ymax = frame.box()
    params: dict[str, Any] = {
        "west": frame.west, "north": frame.north, "scale": frame.scale, "layer": layer,
        "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax,
        "xoff": -frame.west * frame.scale, "yoff": frame.north * frame.scale, "cell": cluster}
    with budgeted(settings) as con:  # a query slot and a time budget, as every query
        row = con.execute(_tile_sql(loaded, z, properties), params).fetchone()
    assert row is not None
    data = bytes(row[1]) if row[0] else b""
    made = Tile(data, hashlib.blake2b(data, digest_size=12).hexdigest(), int(row[0]))
    tile_cache.put(key, made, settings.tile_cache_items)
    return made


def points_tile(settings: Settings, parquet: Path, z: int, x: int, y: int, *,
                properties: tuple[str, ...] = (), layer: str = "points",
                geometry: str = "geometry", cluster: int = 1) -> bytes:
    """The bytes of :func:`dataset_tile` (empty: nothing in this tile)."""
    return dataset_tile(settings, parquet, z, x, y, properties=properties, layer=layer,
                        geometry=geometry, cluster=cluster).data


def _tile_sql(loaded: _Loaded, z: int, properties: tuple[str, ...]) -> str:
    """One ``ST_AsMVT`` over three kinds of features: the points' cells, the lines and
    polygons drawn, and the marks of those too small to draw (grouped by tile unit)."""
    n = loaded.properties
    picked = "".join(f", p{i}" for i in range(n))
    grouped = "".join(f", any_value(p{i}) AS p{i}" for i in range(n))
    carried = "".join(f", {literal(name)}: CASE WHEN n = 1 THEN p{i} END"
                      for i, name in enumerate(properties))
    column = next(c for top, c in _SHAPES_BY_ZOOM if z <= top)
    box = "ST_MakeEnvelope($xmin, $ymin, $xmax, $ymax)"
    # y goes down in tile space: a ring clockwise on screen is counter-clockwise in numbers,
    # so polygons are flipped, ST_Normalize'd and flipped back, as the referential's tiles.
    oriented = "ST_Affine(ST_Normalize(ST_Affine(geo, 1, 0, 0, -1, 0, 0)), 1, 0, 0, -1, 0, 0)"
    return f"""
        WITH cells AS (
            -- the points of one cell of $cell tile units, at their mean (in a whole unit)
            SELECT 1 AS dim, ST_Point(floor(avg(ux)), floor(avg(uy))) AS geo, count(*) AS n{grouped}
            FROM (SELECT floor((px - $west) * $scale) AS ux, floor(($north - py) * $scale) AS uy{picked}
                  FROM {loaded.points}
                  WHERE px BETWEEN $xmin AND $xmax AND py BETWEEN $ymin AND $ymax)
            GROUP BY floor(ux / $cell), floor(uy / $cell)
        ), near AS (
            SELECT dim, {column} AS g,
                   bx0 >= $xmin AND bx1 <= $xmax AND by0 >= $ymin AND by1 <= $ymax AS inside{picked}
            FROM {loaded.shapes}
            WHERE bx1 >= $xmin AND bx0 <= $xmax AND by1 >= $ymin AND by0 <= $ymax
        ), clipped AS (
            SELECT dim, CASE WHEN inside THEN g
                             WHEN dim = {LINES} THEN ST_CollectionExtract(ST_Intersection(g, {box}), 2)
                             ELSE ST_CollectionExtract(ST_Intersection(g, {box}), 3) END AS g{picked}
            FROM near
        ), tiled AS (
            -- into tile units (y down), snapped to the unit grid: what the MVT can hold
            SELECT dim, t, ST_ReducePrecision(t, 1) AS r{picked}
            FROM (SELECT dim, ST_Affine(g, $scale, 0, 0, -$scale, $xoff, $yoff) AS t{picked}
                  FROM clipped WHERE g IS NOT NULL AND NOT ST_IsEmpty(g))
        ), marks AS (
            -- what the grid reduced to nothing, counted per tile unit of its bbox's centre: a
            -- line one unit long through the centre, or the unit square holding it
            SELECT dim, CASE WHEN dim = {LINES} THEN ST_MakeLine(ST_Point(ux, uy), ST_Point(ux + 1, uy))
                             ELSE ST_MakeEnvelope(ux, uy, ux + 1, uy + 1) END AS geo, n{picked}
            FROM (SELECT dim, floor((ST_XMin(t) + ST_XMax(t)) / 2) AS ux,
                         CASE WHEN dim = {LINES} THEN round((ST_YMin(t) + ST_YMax(t)) / 2)
                              ELSE floor((ST_YMin(t) + ST_YMax(t)) / 2) END AS uy,
                         count(*) AS n{grouped}
                  FROM tiled WHERE ST_IsEmpty(r) GROUP BY dim, ux, uy)
        ), features AS (
            SELECT dim, geo, n{picked} FROM cells
            UNION ALL
            SELECT dim, r AS geo, 1 AS n{picked} FROM tiled WHERE NOT ST_IsEmpty(r)
            UNION ALL
            SELECT dim, geo, n{picked} FROM marks
        )
        SELECT count(*), ST_AsMVT({{'geometry': CASE WHEN dim = {POLYGONS} THEN {oriented}
                                                    ELSE geo END,
                                   'count': n{carried}}}, $layer, {EXTENT}, 'geometry')
        FROM features"""
