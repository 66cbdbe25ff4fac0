"""Mapbox Vector Tiles of the referential's territories, cut by DuckDB spatial: each referential
file is loaded once per process into the shared database, already in Web Mercator; a tile is a
bbox filter, a clip of the few territories crossing its edge, one affine map into tile units and
``ST_AsMVT``. Tiles are kept in an in-process LRU, shared with :mod:`mutuelle.geo.point_tiles`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mutuelle.catalog.observatory_models import LEVELS
from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.geo import referential
from mutuelle.store.duck import cursor
from mutuelle.store.sql import ident, read_parquet

log = logging.getLogger(__name__)

MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64
#: ok, secret (statistical secrecy), no_data, partial (a larger territory's value withheld:
#: too little of it had data) and excluded (an IRIS left out by a habitat-only indicator).
STATUSES = ("ok", "secret", "no_data", "partial", "excluded")
HALF_WORLD = 20037508.342789244  # metres

# Which geometry is drawn at which zoom: (highest zoom, column of the loaded table). The
# referential gives geometry_low (zooms <= 8), geometry_mid (9-11) and geometry (12+); for the
# whole-country views, g_z5 and g_z6 are geometry_low simplified once more at load, by one
# tile unit of their zoom.
_GEOMETRY_BY_ZOOM = ((5, "g_z5"), (6, "g_z6"), (8, "g_low"), (11, "g_mid"), (MAX_ZOOM, "g_full"))
#: The zoom from which a level's tiles name their territories: below, a label would not fit
#: and a tooltip takes the name from elsewhere; names are a sixth of France's IRIS tiles.
NAMES_MIN_ZOOM = {"iris": 8, "qpv": 8, "commune": 6}

Values = dict[str, tuple[float | None, str]]


# -- validation ------------------------------------------------------------------------------

def check_tile(z: int, x: int, y: int) -> None:
    """Refuse tile coordinates outside the Web Mercator pyramid."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom must be between 0 and {MAX_ZOOM}, not {z}")
    top = (1 << z) - 1
    if not (0 <= x <= top and 0 <= y <= top):
        raise InvalidInput(f"at zoom {z}, x and y must be between 0 and {top} (got x={x}, y={y})")


def check_level(level: str) -> str:
    """The level if it is one of the referential's, else ``NotFound``."""
    if level not in LEVELS:
        raise NotFound(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
    return level


def geometry_file(settings: Settings, vintage: int, level: str) -> Path:
    """The referential Parquet of one vintage and level, or ``NotFound``."""
    path = Path(referential.geometry_path(settings, vintage, check_level(level)))
    if not path.is_file():
        raise NotFound(f"no {level} geometries for vintage {vintage}")
    return path


def vintages(settings: Settings, level: str) -> list[int]:
    """Vintages whose referential has geometries for ``level``, oldest first."""
    check_level(level)
    root = settings.store_dir / "referential"
    found = []
    if root.is_dir():
        for child in root.iterdir():
            if child.name.isdigit() and (child / f"{level}.parquet").is_file():
                found.append(int(child.name))
    return sorted(found)


def resolve_vintage(settings: Settings, level: str, vintage: int | None) -> int:
    """The vintage asked for; when none, the default one if present, else the latest."""
    if vintage is not None:
        return vintage
    found = vintages(settings, level)
    if not found:
        raise NotFound(f"no {level} geometries in the referential; import some first")
    return settings.default_vintage if settings.default_vintage in found else found[-1]


# -- the tile cache --------------------------------------------------------------------------

@dataclass(frozen=True)
class Tile:
    """Bytes of one tile (empty when no feature falls in it), its ETag and feature count."""

    data: bytes
    etag: str
    features: int


# (file, stamp, z, x, y, values digest) -> Tile; bounded by MUTUELLE_TILE_CACHE_ITEMS, given
# with each put.
tile_cache: Cache[Hashable, Tile] = Cache("geo.tiles")


def clear_cache() -> None:
    """Forget every cached tile (the loaded referential tables stay)."""
    tile_cache.clear()


def cache_stats() -> dict[str, int]:
    """Items, hits and misses of the tile cache."""
    found = tile_cache.stats()
    return {"items": found.items, "hits": found.hits, "misses": found.misses}


# -- referential tables in the shared DuckDB database ------------------------------------------

def file_stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass(frozen=True)
class _Loaded:
    table: str
    stamp: tuple[int, int, int]
    bounds: tuple[float, float, float, float]
    rows: int


_loaded: dict[tuple[str, str], _Loaded] = {}
load_lock = threading.Lock()


def _geometry_expr(types: dict[str, str], column: str) -> str:
    """A GEOMETRY in EPSG:3857 from a referential column (falling back on ``geometry``)."""
    if column not in types:
        column = "geometry"
    source = ident(column) if types[column].startswith("GEOMETRY") else f"ST_GeomFromWKB({ident(column)})"
    return f"ST_Normalize(ST_Transform({source}, 'EPSG:4326', 'EPSG:3857', true))"


def _load(settings: Settings, path: Path) -> _Loaded:
    """The in-memory copy of a referential file, (re)loaded when the file changed."""
    stamp = file_stamp(path)
    key = (str(settings.work_dir), str(path.resolve()))
    loaded = _loaded.get(key)
    if loaded is not None and loaded.stamp == stamp:
        return loaded
    with load_lock:
        loaded = _loaded.get(key)
        if loaded is not None and loaded.stamp == stamp:
            return loaded
        started = time.perf_counter()
        digest = hashlib.sha1(f"{key}|{stamp}".encode()).hexdigest()[:16]
        table = f"referential_tiles_{digest}"
        con = cursor(settings)
        try:
            source = read_parquet(path)
            types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            missing = {"code", "name", "geometry", "xmin", "ymin", "xmax", "ymax"} - set(types)
            if missing:
                raise NotFound(f"{path.name} lacks columns {', '.join(sorted(missing))}")
            # an IRIS's type (H habitat, A activité, D divers, Z commune without IRIS)
            kind = "CAST(kind AS VARCHAR)" if "kind" in types else "CAST(NULL AS VARCHAR)"
            # Geometries go to Web Mercator once here, not per tile; ST_Normalize turns outer
            # rings clockwise, which the y flip into tile space makes the MVT's orientation.
            # Neighbours simplified one by one may leave slits of up to one tile unit (an
            # eighth of a pixel); the largest collapse to nothing and keep geometry_low.
            coarse = "".join(
                f", CASE WHEN ST_IsEmpty(ST_Simplify(g_low, {tile_unit(z)})) THEN g_low "
                f"ELSE ST_Simplify(g_low, {tile_unit(z)}) END AS g_z{z}" for z in (5, 6))
            con.execute(f"""
                CREATE OR REPLACE TABLE {table} AS
                SELECT *, ST_XMin(g_full) AS bx0, ST_YMin(g_full) AS by0,
                          ST_XMax(g_full) AS bx1, ST_YMax(g_full) AS by1{coarse}
                FROM (SELECT CAST(code AS VARCHAR) AS code, CAST(name AS VARCHAR) AS name,
                             {kind} AS kind, xmin, ymin, xmax, ymax,
                             {_geometry_expr(types, "geometry_low")} AS g_low,
                             {_geometry_expr(types, "geometry_mid")} AS g_mid,
                             {_geometry_expr(types, "geometry")} AS g_full
                      FROM {source} WHERE geometry IS NOT NULL)
                ORDER BY ST_Hilbert(ST_Point((xmin + xmax) / 2, (ymin + ymax) / 2),
                                    {{'min_x': -180, 'min_y': -90, 'max_x': 180, 'max_y': 90}}::BOX_2D)
            """)
            row = con.execute(f"SELECT count(*), min(xmin), min(ymin), max(xmax), max(ymax) "
                              f"FROM {table}").fetchone()
            assert row is not None
            if loaded is not None:
                # Earlier copy of a re-imported file; a tile being cut from it finishes first
                # or fails once, both acceptable for a referential that just changed.
                con.execute(f"DROP TABLE IF EXISTS {loaded.table}")
        finally:
            con.close()
        count = int(row[0])
        bounds = (row[1], row[2], row[3], row[4]) if count else (-180.0, -85.0, 180.0, 85.0)
        loaded = _Loaded(table, stamp, bounds, count)
        _loaded[key] = loaded
        log.info("tiles loaded file=%s rows=%d ms=%.0f", path, count,
                 (time.perf_counter() - started) * 1000)
        return loaded


def referential_bounds(settings: Settings, vintage: int, level: str) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the territories of one level and vintage."""
    return _load(settings, geometry_file(settings, vintage, level)).bounds


def warm(settings: Settings, vintage: int, level: str) -> None:
    """Load a referential level now rather than on its first tile (server start-up)."""
    _load(settings, geometry_file(settings, vintage, level))


# -- tiles -----------------------------------------------------------------------------------

def _geometry_column(z: int) -> str:
    return next(column for top, column in _GEOMETRY_BY_ZOOM if z <= top)


def tile_unit(z: int) -> float:
    """Web Mercator metres in one tile unit at zoom ``z``."""
    return 2 * HALF_WORLD / (1 << z) / EXTENT


@dataclass(frozen=True)
class TileFrame:
    """A tile in Web Mercator metres: its corner, its size and tile units per metre."""

    west: float
    north: float
    size: float
    scale: float

    @classmethod
    def of(cls, z: int, x: int, y: int) -> TileFrame:
        size = 2 * HALF_WORLD / (1 << z)
        return cls(-HALF_WORLD + x * size, HALF_WORLD - y * size, size, EXTENT / size)

    def box(self) -> list[float]:
        """(xmin, ymin, xmax, ymax) of the tile with its buffer."""
        margin = BUFFER / self.scale
        return [self.west - margin, self.north - self.size - margin,
                self.west + self.size + margin, self.north + margin]


# Territories whose bbox meets the buffered tile (bx0.. are the Web Mercator bbox).
_MEETS = "bx1 >= $xmin AND bx0 <= $xmax AND by1 >= $ymin AND by0 <= $ymax"


@dataclass(frozen=True)
class _PreparedValues:
    """Values checked, hashed and put in an Arrow table."""

    digest: str      # of the values themselves
    table: pa.Table


PREPARED_VALUES_ITEMS = 16
# the caller's key of the values (what they were made from) -> prepared values
_prepared: Cache[str, _PreparedValues] = Cache("geo.prepared_values",
                                               max_items=PREPARED_VALUES_ITEMS)


def _prepare(values: Values, key: str | None = None) -> _PreparedValues:
    """The checked Arrow form of ``values``. With a ``key`` naming what they were made from
    (the same in every worker, as the observatory gives for an indicator's computation), they
    are prepared once per key, not hashed again for each tile."""
    if key is not None and (found := _prepared.get(key)) is not None:
        return found
    codes, numbers, statuses = [], [], []
    for code, (value, status) in sorted(values.items()):
        if status not in STATUSES:
            raise InvalidInput(f"status of {code} must be one of {', '.join(STATUSES)}, not {status!r}")
        codes.append(code)
        numbers.append(None if value is None or status != "ok" else float(value))
        statuses.append(status)
    table = pa.table({"code": pa.array(codes, pa.string()), "value": pa.array(numbers, pa.float64()),
                      "status": pa.array(statuses, pa.string())})
    digest = hashlib.blake2b(repr((codes, numbers, statuses)).encode(), digest_size=12).hexdigest()
    prepared = _PreparedValues(digest, table)
    if key is not None:
        _prepared.put(key, prepared)
    return prepared


def _make(con: duckdb.DuckDBPyConnection, loaded: _Loaded, level: str, z: int, frame: TileFrame,
          values: _PreparedValues | None) -> tuple[bytes, int]:
    """Cut one tile. Rather than ``ST_AsMVTGeom`` (ten times slower here: it repairs every
    geometry), only territories crossing the buffered tile's edge are clipped; then one affine
    map puts Web Mercator metres into tile units (y down, +0.5 so that ST_AsMVT's truncation
    rounds), and territories smaller than one tile unit are left out."""
    xmin, ymin, xmax, ymax = frame.box()
    params: dict[str, Any] = {
        "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax, "scale": frame.scale,
        "xoff": 0.5 - frame.west * frame.scale, "yoff": 0.5 + frame.north * frame.scale,
        "layer": level}
    props, join = "", ""
    names = ", 'name': name" if z >= NAMES_MIN_ZOOM.get(level, 0) else ""
    if level == "iris":   # the tooltip says which IRIS are activity or miscellaneous ones
        names += ", 'kind': kind"
    if values is not None:
        # Territories without a value are "no data", never left out.
        props = ", 'value': v.value, 'status': coalesce(v.status, 'no_data')"
        join = "LEFT JOIN tile_values v USING (code)"
        # An Arrow table, not list parameters: DuckDB binds a 17,000-item list in seconds.
        con.register("tile_values", values.table)
    sql = f"""
        WITH near AS (
            SELECT code, name, kind, {_geometry_column(z)} AS g,
                   bx0 >= $xmin AND bx1 <= $xmax AND by0 >= $ymin AND by1 <= $ymax AS inside
            FROM {loaded.table}
            WHERE {_MEETS} AND greatest(bx1 - bx0, by1 - by0) * $scale >= 1
        ), clipped AS (
            SELECT code, name, kind, CASE WHEN inside THEN g ELSE ST_Normalize(ST_CollectionExtract(
                       ST_Intersection(g, ST_MakeEnvelope($xmin, $ymin, $xmax, $ymax)), 3)) END AS g
            FROM near
        )
        SELECT count(*), ST_AsMVT({{'geometry': ST_Affine(g, $scale, 0, 0, -$scale, $xoff, $yoff),
                                   'code': code{names}{props}}}, $layer, {EXTENT}, 'geometry')
        FROM clipped {join}
        WHERE g IS NOT NULL AND NOT ST_IsEmpty(g)
    """
    row = con.execute(sql, params).fetchone()
    assert row is not None
    count = int(row[0])
    return (bytes(row[1]) if count else b""), count


def tile(settings: Settings, vintage: int, level: str, z: int, x: int, y: int, *,
         values: Values | None = None, values_key: str | None = None) -> bytes:
    """The MVT of the territories of one level meeting tile z/x/y (empty bytes: none).
    ``values_key``: what ``values`` were made from, when the caller knows (see ``_prepare``)."""
    return tile_with_etag(settings, vintage, level, z, x, y, values=values,
                          values_key=values_key).data


def tile_with_etag(settings: Settings, vintage: int, level: str, z: int, x: int, y: int, *,
                   values: Values | None = None, values_key: str | None = None) -> Tile:
    """Like ``tile`` with the ETag and the feature count, served from the LRU when it can."""
    check_tile(z, x, y)
    path = geometry_file(settings, vintage, level)
    loaded = _load(settings, path)
    place = (str(path), loaded.stamp, z, x, y)
    frame = TileFrame.of(z, x, y)
    prepared = None if values is None else _prepare(values, values_key)
    key = (*place, None if prepared is None else prepared.digest)
    found = tile_cache.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    started = time.perf_counter()
    con = cursor(settings)
    try:
        data, count = _make(con, loaded, level, z, frame, prepared)
    finally:
        con.close()
    made = Tile(data, hashlib.blake2b(data, digest_size=12).hexdigest(), count)
    tile_cache.put(key, made, settings.tile_cache_items)
    log.debug("tile level=%s z=%d x=%d y=%d features=%d bytes=%d ms=%.1f", level, z, x, y,
              count, len(data), (time.perf_counter() - started) * 1000)
    return made
