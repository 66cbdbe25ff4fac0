"""Mapbox Vector Tiles of point datasets, cut by DuckDB spatial: a version's Parquet is loaded
once (points in Web Mercator with the chosen properties) into the shared database; points
falling in the same tile unit of a tile become one feature with a ``count``. Tiles share the
frame, validation and in-process LRU of :mod:`mutuelle.geo.tiles`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.geo.tiles import (
    EXTENT,
    Tile,
    TileFrame,
    load_lock,
    sql_path,
    file_stamp,
    tile_cache,
    check_tile,
)
from mutuelle.store.duck import cursor

_NATIVE_TYPES = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE")
#: Point tables kept in the shared database (one per file and set of properties).
POINT_TABLES = 8
_points: OrderedDict[tuple[str, tuple[int, int, int], str, tuple[str, ...]], str] = OrderedDict()


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _load_points(settings: Settings, parquet: Path, geometry: str, properties: tuple[str, ...]) -> str:
    """The table of a point file's points (in Web Mercator) and chosen properties."""
    stamp = file_stamp(parquet)
    key = (str(parquet.resolve()), stamp, geometry, properties)
    with load_lock:
        table = _points.get(key)
        if table is not None:
            _points.move_to_end(key)
            return table
        table = f"point_tiles_{hashlib.sha1(repr(key).encode()).hexdigest()[:16]}"
        con = cursor(settings)
        try:
            source = f"read_parquet('{sql_path(parquet)}')"
            types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            unknown = [c for c in (geometry, *properties) if c not in types]
            if unknown:
                raise InvalidInput(f"no column {', '.join(unknown)} to draw points with")
            reserved = {"count", geometry} & set(properties)
            if reserved or len(set(properties)) < len(properties):
                raise InvalidInput(f"properties must differ from each other and from "
                                   f"{', '.join(sorted({'count', geometry}))}")
            point = _q(geometry) if types[geometry].startswith("GEOMETRY") else f"ST_GeomFromWKB({_q(geometry)})"
            columns = "".join(
                f", {_q(c) if types[c] in _NATIVE_TYPES else f'CAST({_q(c)} AS VARCHAR)'} AS p{i}"
                for i, c in enumerate(properties))
            con.execute(f"""
                CREATE OR REPLACE TABLE {table} AS
                SELECT ST_X(m) AS px, ST_Y(m) AS py{columns}
                FROM (SELECT ST_Transform({point}, 'EPSG:4326', 'EPSG:3857', true) AS m, *
                      FROM {source} WHERE ST_GeometryType({point}) = 'POINT')""")
            _points[key] = table
            while len(_points) > POINT_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {_points.popitem(last=False)[1]}")
        finally:
            con.close()
        return table


def points_tile(settings: Settings, parquet: Path, z: int, x: int, y: int, *,
                properties: tuple[str, ...] = (), layer: str = "points",
                geometry: str = "geometry") -> bytes:
    """The MVT of a point dataset (a version's Parquet with a WGS84 ``geometry`` column).
    Points falling in the same tile unit become one feature with a ``count``; the chosen
    ``properties`` are carried by features holding a single point."""
    check_tile(z, x, y)
    if not parquet.is_file():
        raise NotFound(f"no data file {parquet.name}")
    table = _load_points(settings, parquet, geometry, tuple(properties))
    key = ("points", table, layer, z, x, y)
    found = tile_cache.get(key)
    if found is not None:
        return found.data  # type: ignore[no-any-return]
    frame = TileFrame.of(z, x, y)
    xmin, ymin, xmax, ymax = frame.box()
    picked = "".join(f", any_value(p{i}) AS p{i}" for i in range(len(properties)))
    carried = "".join(f", {_sql_literal(name)}: CASE WHEN n = 1 THEN p{i} END"
                      for i, name in enumerate(properties))
    con = cursor(settings)
    try:
        row = con.execute(f"""
            WITH cells AS (
                SELECT floor((px - $west) * $scale) AS ux, floor(($north - py) * $scale) AS uy,
                       count(*) AS n{picked}
                FROM {table} WHERE px BETWEEN $xmin AND $xmax AND py BETWEEN $ymin AND $ymax
                GROUP BY ALL)
            SELECT count(*), ST_AsMVT({{'geometry': ST_Point(ux, uy), 'count': n{carried}}},
                                      $layer, {EXTENT}, 'geometry')
            FROM cells""", {"west": frame.west, "north": frame.north, "scale": frame.scale,
                            "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax,
                            "layer": layer}).fetchone()
    finally:
        con.close()
    assert row is not None
    data = bytes(row[1]) if row[0] else b""
    tile_cache.put(key, Tile(data, hashlib.blake2b(data, digest_size=12).hexdigest(), int(row[0])),
               settings.tile_cache_items)
    return data


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
