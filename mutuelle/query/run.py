"""Running a compiled query on DuckDB within its budgets, and shaping values for JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from time import monotonic
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from mutuelle.core.config import Settings
from mutuelle.core.errors import BudgetExceeded, Busy, QueryError
from mutuelle.store.duck import cursor

_slots: dict[int, threading.BoundedSemaphore] = {}


def _slot(settings: Settings) -> threading.BoundedSemaphore:
    limit = settings.max_concurrent_queries
    if limit not in _slots:
        _slots[limit] = threading.BoundedSemaphore(limit)
    return _slots[limit]


@contextmanager
def budgeted(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB cursor that is interrupted once the time budget is spent.

    Past the deadline the cursor is interrupted again every few milliseconds until the block
    ends: a single interrupt landing between two statements would otherwise be lost; and a
    block that ends past its deadline anyway (between two interrupts) is refused all the same,
    so that the budget does not depend on when the interrupts land."""
    slot = _slot(settings)
    if not slot.acquire(timeout=max(settings.query_queue_ms, 0) / 1000):
        raise Busy("too many queries at once; retry in a few seconds")
    con = cursor(settings)
    done = threading.Event()
    budget = settings.query_timeout_ms / 1000
    started = monotonic()

    def watchdog() -> None:
        if done.wait(budget):
            return
        while not done.is_set():
            con.interrupt()
            done.wait(0.005)

    thread = threading.Thread(target=watchdog, name="mutuelle-query-budget", daemon=True)
    thread.start()
    over = BudgetExceeded(f"the query took longer than its budget of {settings.query_timeout_ms} "
                          "ms; narrow it with where, or export instead")
    try:
        yield con
        if monotonic() - started > budget:
            raise over
    except duckdb.InterruptException as exc:
        raise over from exc
    except QUERY_ERRORS as exc:
        raise QueryError(_duckdb_message(exc), clause="where") from exc
    finally:
        done.set()
        thread.join()
        con.close()
        slot.release()


#: DuckDB errors that mean the query does not fit the data (a 400 for the caller, not a 500).
QUERY_ERRORS = (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.BinderException,
                duckdb.OutOfRangeException)


def _duckdb_message(exc: Exception) -> str:
    first = str(exc).splitlines()[0]
    return first.split(":", 1)[-1].strip() or "the query cannot run on these values"


#: Where shapes are served in WGS84 longitude/latitude (what is stored).
WGS84 = 4326


def _on_column(template: str, name: str) -> exp.Expr:
    """``template`` (DuckDB SQL naming the column ``g``) applied to the column ``name``."""
    tree = sqlglot.parse_one(template, read="duckdb")
    for col in list(tree.find_all(exp.Column)):
        if col.name == "g":
            col.replace(exp.column(exp.to_identifier(name, quoted=True)))
    return tree


def projected(name: str, epsg: int = WGS84) -> exp.Expr:
    """The geometry column ``name`` in the EPSG ``epsg`` (stored in WGS84 lon/lat)."""
    if epsg == WGS84:
        return exp.column(exp.to_identifier(name, quoted=True))
    return _on_column(f"ST_Transform(g, 'EPSG:4326', 'EPSG:{int(epsg)}', always_xy := true)", name)


def check_epsg(con: duckdb.DuckDBPyConnection, epsg: int) -> int:
    """``epsg`` if DuckDB knows that projection, else a clear 400."""
    if epsg == WGS84:
        return epsg
    try:
        con.execute(f"SELECT ST_Transform(ST_Point(2.35, 48.85), 'EPSG:4326', 'EPSG:{int(epsg)}', "
                    "always_xy := true)").fetchone()
    except duckdb.Error as exc:
        raise QueryError(f"unknown projection EPSG:{epsg}", clause="epsg") from exc
    return epsg


def geometry_as_geojson(select: exp.Select, con: duckdb.DuckDBPyConnection, *,
                        known: set[str] | None = None, lonlat: frozenset[str] = frozenset(),
                        epsg: int = WGS84, points_as_text: bool = False, features: bool = False
                        ) -> tuple[exp.Select, set[str]]:
    """Wrap ``select`` so geometry columns leave DuckDB as GeoJSON text; also their names.

    ``known``: the geometry columns when the caller knows them (the dataset's own columns,
    unprojected), which spares a DESCRIBE round trip. Columns in ``lonlat`` (points served as
    Opendatasoft's ``geo_point_2d``) leave as ``{"lon": x, "lat": y}``, or as ``"lat, lon"``
    text with ``points_as_text`` (CSV), and are not among the names returned. ``epsg``
    projects the shapes (WGS84, as stored, by default). With ``features`` (rows that are
    features: GeoJSON, KML...), a point that is the only geometry stays a geometry."""
    if known is None:
        described = con.execute(f"DESCRIBE {select.sql(dialect='duckdb')}").fetchall()
        known = {str(row[0]) for row in described if str(row[1]).upper().startswith("GEOMETRY")}
    if not known:
        return select, set()
    if features and known <= lonlat:
        lonlat = frozenset()
    replaced = []
    for n in sorted(known):
        if n in lonlat and points_as_text:
            value = _on_column("CAST(ST_Y(g) AS VARCHAR) || ', ' || CAST(ST_X(g) AS VARCHAR)", n)
        elif n in lonlat:
            value = _on_column("CASE WHEN g IS NULL THEN NULL "
                               "ELSE struct_pack(lon := ST_X(g), lat := ST_Y(g)) END", n)
        else:
            value = exp.func("ST_AsGeoJSON", projected(n, epsg))
        replaced.append(exp.alias_(value, exp.to_identifier(n, quoted=True)))
    shaped = exp.select(exp.Star(**{"replace": replaced})).from_(select.subquery("q"))
    return shaped, set(known) - set(lonlat)


def to_json_value(value: Any, *, geojson: bool = False, tz: tzinfo | None = None) -> Any:
    """A DuckDB value as Opendatasoft's JSON shows it; datetimes in ``tz`` (default UTC)."""
    if value is None:
        return None
    if geojson and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value.astimezone(tz) if tz is not None else value).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value


def fetch_dicts(con: duckdb.DuckDBPyConnection, select: exp.Select,
                geo_names: set[str], *, tz: tzinfo | None = None) -> list[dict[str, Any]]:
    """Run ``select`` and return JSON-ready rows (datetimes in ``tz``)."""
    # Through Arrow: faster than fetchall, and TIMESTAMPTZ needs no pytz.
    table = con.execute(select.sql(dialect="duckdb")).fetch_arrow_table()
    return [{n: to_json_value(v, geojson=n in geo_names, tz=tz) for n, v in row.items()}
            for row in table.to_pylist()]


def fetch_batches(con: duckdb.DuckDBPyConnection, select: exp.Select,
                  batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Run ``select`` and stream Arrow record batches."""
    reader = con.execute(select.sql(dialect="duckdb")).fetch_record_batch(batch_rows)
    yield from reader


def budgeted_stream(settings: Settings, select: exp.Select, batch_rows: int, *,
                    lonlat: frozenset[str] = frozenset(), epsg: int = WGS84,
                    points_as_text: bool = False, features: bool = False
                    ) -> tuple[Iterator[pa.RecordBatch], set[str]]:
    """Plan ``select`` now (so errors come before any byte is sent), then stream its batches.

    Exports are long by nature: they have no time budget, but they stream in constant memory
    and stop when the client goes away (the generator is closed). ``lonlat``, ``epsg`` and
    ``points_as_text``, ``features``: see ``geometry_as_geojson``."""
    con = cursor(settings)
    try:
        check_epsg(con, epsg)
        shaped, geo = geometry_as_geojson(select, con, lonlat=lonlat, epsg=epsg,
                                          points_as_text=points_as_text, features=features)
    except QUERY_ERRORS as exc:
        con.close()
        raise QueryError(_duckdb_message(exc), clause="where") from exc
    except BaseException:
        con.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from fetch_batches(con, shaped, batch_rows)
        finally:
            con.close()

    return batches(), geo
