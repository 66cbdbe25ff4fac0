"""Opendatasoft's geometry columns in CSV files, read as geometry: ``geo_point_2d`` holds
``"lat, lon"`` text (``45.764, 4.8357``) and ``geo_shape`` a GeoJSON geometry as text, under
those names or their labels (``Geo Point``, ``Geo Shape``) in exports made with labels."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from mutuelle.store.sql import ident

POINT, SHAPE = "point", "shape"
#: Header (lower case, spaces and underscores alike) -> what the column holds.
HEADERS = {"geo_point_2d": POINT, "geo_point": POINT, "geo_shape": SHAPE}
#: Share of the sample's non-empty values that must read as such.
MIN_SHARE = 0.9
_LAT_LON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def kind_of(header: str) -> str | None:
    """``point`` or ``shape`` when ``header`` names an Opendatasoft geometry column."""
    return HEADERS.get(re.sub(r"[\s_]+", "_", header.strip().lower()))


def _point(value: str) -> bool:
    found = _LAT_LON.match(value)
    return found is not None and abs(float(found.group(1))) <= 90 \
        and abs(float(found.group(2))) <= 180


def _shape(value: str) -> bool:
    text = value.strip()
    if not text.startswith("{"):
        return False
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return isinstance(parsed, dict) and isinstance(parsed.get("type"), str)


def holds(kind: str, values: Sequence[str | None]) -> bool:
    """Whether the sample's values read as ``kind`` (most of the non-empty ones, at least one)."""
    filled = [v for v in values if v and v.strip()]
    test = _point if kind == POINT else _shape
    return bool(filled) and sum(1 for v in filled if test(v)) >= MIN_SHARE * len(filled)


def geometry_sql(kind: str, column: str, message_sql: str) -> str:
    """DuckDB SQL making a WGS84 geometry of the text column ``column``: empty is NULL, a value
    that does not read raises ``error(message_sql)`` (the import names it, with its line)."""
    col = ident(column) if not re.fullmatch(r"c\d+", column) else column
    if kind == POINT:
        lat = f"TRY_CAST(trim(split_part({col}, ',', 1)) AS DOUBLE)"
        lon = f"TRY_CAST(trim(split_part({col}, ',', 2)) AS DOUBLE)"
        parsed = (f"CASE WHEN {lat} BETWEEN -90 AND 90 AND {lon} BETWEEN -180 AND 180 "
                  f"AND {col} LIKE '%,%' AND {col} NOT LIKE '%,%,%' THEN ST_Point({lon}, {lat}) END")
    else:
        parsed = f"TRY(ST_GeomFromGeoJSON({col}))"
    return (f"CASE WHEN nullif(trim({col}), '') IS NULL THEN NULL "
            f"ELSE coalesce({parsed}, error({message_sql})) END")


def expected(kind: str) -> str:
    """What a value of such a column must be, for messages."""
    return "a point 'lat, lon'" if kind == POINT else "a GeoJSON geometry"


def note(kind: str) -> str:
    """What the import says it did with such a column."""
    if kind == POINT:
        return "Opendatasoft geo_point_2d ('lat, lon' text) read as WGS84 points"
    return "Opendatasoft geo_shape (GeoJSON text) read as WGS84 geometries"
