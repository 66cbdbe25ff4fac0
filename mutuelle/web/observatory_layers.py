"""Layers drawn over the observatory's choropleth: datasets (points, lines, polygons) and
proportional symbols."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, visible_datasets
from mutuelle.catalog import repository as catalog_repo
from mutuelle.catalog.models import Dataset
from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.geo import referential
from mutuelle.store.duck import cursor
from mutuelle.store.sql import read_parquet

#: Colours of the points layers, in the order of the list (distinct from the palettes' ends).
POINT_COLORS = ("#d7263d", "#0b6e99", "#7b2cbf", "#e07a00", "#1b7f3b", "#c2185b")
#: Columns naming a point, best first, for its tooltip.
POINT_NAME_COLUMNS = ("nom", "name", "libelle", "intitule", "titre", "libelle_rome", "nom_commune")
#: Columns describing a point, best first, shown under its name.
POINT_DETAIL_COLUMNS = ("type_etablissement", "type_contrat", "type", "categorie", "secteur",
                        "libelle_rome", "nom_commune")
#: Centroids of the territories of one level (by file and modification time) kept per process.
CENTROIDS_CACHE_ITEMS = 8
#: Proportional symbols: radius (CSS pixels) of the largest value's circle, and the smallest
#: radius drawn; the others by the square root of their value (area proportional to the value).
SYMBOL_MAX_RADIUS = 28.0
SYMBOL_MIN_RADIUS = 1.5


#: What a version's geometry types (``detected["geometry_type"]``) draw as, in drawing order.
_KINDS = {"POLYGON": "polygons", "MULTIPOLYGON": "polygons", "LINESTRING": "lines",
          "MULTILINESTRING": "lines", "POINT": "points", "MULTIPOINT": "points"}
KIND_ORDER = ("polygons", "lines", "points")


def geometry_kinds(detected: Mapping[str, Any] | None) -> list[str]:
    """What a version's geometry draws as (``points``, ``lines``, ``polygons``, in drawing
    order): from the geometry types of a geographic file, or points built from two columns."""
    detected = detected or {}
    types = {k.strip().upper() for k in str(detected.get("geometry_type") or "").split(",")}
    if "GEOMETRYCOLLECTION" in types:
        return list(KIND_ORDER)
    kinds = {_KINDS[t] for t in types if t in _KINDS}
    if not kinds and str(detected.get("geometry") or "").startswith("ST_Point("):
        kinds = {"points"}
    return [k for k in KIND_ORDER if k in kinds]


def point_layers(session: Session, viewer: Viewer) -> list[dict[str, Any]]:
    """The published datasets ``viewer`` may read whose latest version has a ``geometry``
    column: what the map offers as layers over the territories (named points layers, as they
    were first; ``kinds`` says whether each draws points, lines or polygons)."""
    out: list[dict[str, Any]] = []
    datasets = session.scalars(select(Dataset).where(
        visible_datasets(viewer), Dataset.status == "published").order_by(Dataset.title))
    for dataset in datasets:
        version = catalog_repo.latest_version(dataset)
        if version is None:
            continue
        schema = version.schema
        kinds = geometry_kinds(version.detected)
        if schema.get("geometry") != "geometry" or not kinds:
            continue
        texts = [name for name, kind in schema.items()
                 if kind == "text" and name not in ("count", "geometry")]
        label = next((c for c in POINT_NAME_COLUMNS if c in texts), texts[0] if texts else None)
        detail = next((c for c in POINT_DETAIL_COLUMNS if c in texts and c != label), None)
        properties = [c for c in (label, detail) if c]
        tiles_url = f"/tiles/datasets/{dataset.slug}/{{z}}/{{x}}/{{y}}.mvt"
        if properties:
            tiles_url += "?properties=" + ",".join(properties)
        out.append({"slug": dataset.slug, "title": dataset.title,
                    "color": POINT_COLORS[len(out) % len(POINT_COLORS)], "kinds": kinds,
                    "label": label, "detail": detail, "tiles": tiles_url})
    return out


# (contour file, its modification time) -> code -> centroid
_centroids: Cache[tuple[str, float], dict[str, tuple[float, float]]] = Cache(
    "web.centroids", max_items=CENTROIDS_CACHE_ITEMS)


def centroids(settings: Settings, vintage: int, level: str) -> dict[str, tuple[float, float]]:
    """``code -> (longitude, latitude)`` of the centroids of a level's territories."""
    path = referential.geometry_path(settings, vintage, level)
    if not path.is_file():
        return {}
    key = (str(path), path.stat().st_mtime)
    found = _centroids.get(key)
    if found is not None:
        return found
    source = read_parquet(path)
    con = cursor(settings)
    try:
        rows = con.execute(f"""
            SELECT code, ST_X(c), ST_Y(c)
            FROM (SELECT code, ST_Centroid(geometry) AS c FROM {source}
                  WHERE geometry IS NOT NULL)
            WHERE c IS NOT NULL AND NOT ST_IsEmpty(c)""").fetchall()
    finally:
        con.close()
    result = {str(code): (round(float(x), 6), round(float(y), 6)) for code, x, y in rows}
    _centroids.put(key, result)
    return result


def proportional_symbols(settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """Circles at the territories' centroids for a count (``values``: what
    ``observatory.maps.level_values`` gives): a GeoJSON of the territories with a value (never
    the secret ones), largest first so that small circles stay on top, the largest value (the
    radius is proportional to the square root of the value) and the size legend."""
    points = centroids(settings, values["vintage"], values["level"])
    features = []
    for item in values["results"]:
        value = item["value"]
        if item["status"] != "ok" or value is None or value <= 0 or item["code"] not in points:
            continue
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": list(points[item["code"]])},
                         "properties": {"code": item["code"], "name": item["name"],
                                        "value": short_number(value)}})
    features.sort(key=lambda f: -f["properties"]["value"])
    largest = features[0]["properties"]["value"] if features else 0
    return {"max": largest, "max_radius": SYMBOL_MAX_RADIUS, "min_radius": SYMBOL_MIN_RADIUS,
            "legend": size_legend(largest),
            "geojson": {"type": "FeatureCollection", "features": features}}


def symbol_radius(value: float, largest: float) -> float:
    """The radius the map draws for ``value`` when the largest value is ``largest``."""
    if largest <= 0 or value <= 0:
        return SYMBOL_MIN_RADIUS
    return max(SYMBOL_MIN_RADIUS, SYMBOL_MAX_RADIUS * math.sqrt(value / largest))


def _round_down(value: float, steps: tuple[int, ...] = (5, 2, 1)) -> float:
    """The largest ``step`` × 10^k not above ``value`` (a value to read on a legend)."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in sorted(steps, reverse=True):
        if step * power <= value * (1 + 1e-9):
            return float(f"{step * power:.12g}")
    return power


def size_legend(largest: float, count: int = 3) -> list[dict[str, float]]:
    """Reference circles for the legend of proportional symbols: round values from the largest
    down to about a sixteenth of it (each circle's area about a quarter of the previous one),
    with the radius the map gives them."""
    values: list[float] = []
    target = float(largest)
    for _ in range(count):
        # the largest circle close to the largest value (one significant digit), then 1-2-5
        value = _round_down(target, tuple(range(1, 10)) if not values else (5, 2, 1))
        if value <= 0 or (values and value >= values[-1]) or (largest >= 1 > value):
            break
        values.append(value)
        target = value / 4
    return [{"value": short_number(v) if not float(v).is_integer() else int(v),
             "radius": round(symbol_radius(v, largest), 2)} for v in values]


# --- what the panel shows -------------------------------------------------------------------


def short_number(value: Any) -> Any:
    """Six significant digits: plenty to read; classes and ranks are computed before."""
    return float(f"{value:.6g}") if isinstance(value, float) else value
