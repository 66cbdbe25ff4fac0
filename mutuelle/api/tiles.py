"""Vector tiles for MapLibre: the referential's territories (``/tiles/{level}/{z}/{x}/{y}.mvt``,
with an indicator's values and statuses when asked) and the TileJSON describing them, and the
points of a dataset (``/tiles/datasets/{dataset}/{z}/{x}/{y}.mvt``)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, readable_dataset
from mutuelle.api.deps import get_session, get_settings, get_viewer
from mutuelle.catalog import repository as repo
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo import point_tiles, tiles
from mutuelle.store.versions import resolve

router = APIRouter(tags=["observatory: maps"])

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]

MVT = "application/vnd.mapbox-vector-tile"
#: Highest zoom announced in the TileJSON; MapLibre enlarges z14 tiles beyond it.
TILEJSON_MAXZOOM = 14
#: Browser and proxy cache lifetime of tiles (then revalidated by ETag), in seconds.
GEOMETRY_MAX_AGE = 3600
VALUES_MAX_AGE = 300
#: Indicator values (as ``code -> (value, status)``) kept per process.
VALUES_CACHE_ITEMS = 16
#: Seconds the values of an indicator are reused without asking the observatory whether they
#: changed: a map view asks for a dozen tiles at once, and that check costs several queries.
#: Far below the browsers' own VALUES_MAX_AGE.
VALUES_RECHECK_SECONDS = 5.0

LevelPath = Annotated[str, Path(description="iris, commune, epci, departement, region or qpv",
                                examples=["iris"])]
VintageQuery = Annotated[int | None, Query(
    description="vintage (millésime) of the referential; default: the indicator's, else the "
                "portal's default if present, else the newest", examples=[2024])]
IndicatorQuery = Annotated[str | None, Query(
    description="id of an indicator: each feature then carries `value` and `status` "
                "(ok, secret or no_data)", examples=["taux_chomage"])]

# (store, indicator, level, vintage) -> (checked at, the observatory's dict, converted values)
_values: OrderedDict[tuple[str, str, str, int], tuple[float, object, tiles.Values]] = OrderedDict()
_values_lock = threading.Lock()


def _tile_values(session: Session, settings: Settings, indicator: Indicator, level: str,
                 vintage: int) -> tiles.Values:
    """``code -> (value, status)`` of an indicator at one level. Converted once per computation
    of the observatory (which keeps them), and the same dict object is returned meanwhile, so
    that the tile cache recognises it without hashing 48,000 IRIS per tile."""
    from mutuelle.observatory import compute

    key = (str(settings.store_dir), indicator.id, level, vintage)
    with _values_lock:
        found = _values.get(key)
    if found is not None and time.monotonic() - found[0] < VALUES_RECHECK_SECONDS:
        return found[2]
    by_code = compute.compute_indicator(session, settings, indicator, vintage=vintage).level(level)
    if found is not None and found[1] is by_code:
        converted = found[2]
    else:
        converted = {code: (v.value, v.status) for code, v in by_code.items()}
    with _values_lock:
        _values[key] = (time.monotonic(), by_code, converted)
        _values.move_to_end(key)
        while len(_values) > VALUES_CACHE_ITEMS:
            _values.popitem(last=False)
    return converted


def _indicator(session: Session, viewer: Viewer, key: str) -> Indicator:
    from mutuelle.api.indicators import readable_indicator

    return readable_indicator(session, viewer, key)


def _vintage(session: Session, settings: Settings, level: str, vintage: int | None,
             indicator: Indicator | None) -> int:
    if vintage is None and indicator is not None:
        from mutuelle.observatory import compute

        return compute.default_vintage(session, settings, indicator)
    return tiles.resolve_vintage(settings, level, vintage)


def _not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in wanted.split(","))


@router.get(
    "/tiles/{level}/{z}/{x}/{y}.mvt", summary="A vector tile of the territories of one level",
    response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "a Mapbox Vector Tile whose layer is "
                     "named after the level; features carry `code`, `name` (and `value`, "
                     "`status` with an indicator)"},
               204: {"description": "no territory in this tile (an empty tile)"},
               304: {"description": "unchanged since the ETag given in If-None-Match"}})
def vector_tile(level: LevelPath, z: int, x: int, y: int, request: Request,
                session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                vintage: VintageQuery = None, indicator: IndicatorQuery = None) -> Response:
    tiles.check_tile(z, x, y)
    tiles.check_level(level)
    values, public = None, True
    chosen = _indicator(session, viewer, indicator) if indicator else None
    year = _vintage(session, settings, level, vintage, chosen)
    if chosen is not None:
        values = _tile_values(session, settings, chosen, level, year)
        public = chosen.access == "public"
    made = tiles.tile_with_etag(settings, year, level, z, x, y, values=values)
    age = GEOMETRY_MAX_AGE if values is None else VALUES_MAX_AGE
    return _tile_response(request, made.data, made.etag,
                          f"{'public' if public else 'private'}, max-age={age}")


def _tile_response(request: Request, data: bytes, etag: str, cache_control: str) -> Response:
    """The tile (204 when empty), or 304 when the client holds it already."""
    headers = {"ETag": f'"{etag}"', "Cache-Control": cache_control}
    if _not_modified(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)


@router.get("/tiles/{level}.json", summary="TileJSON of the vector tiles of one level")
def tilejson(level: LevelPath, request: Request, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep, vintage: VintageQuery = None,
             indicator: IndicatorQuery = None) -> dict[str, Any]:
    tiles.check_level(level)
    chosen = _indicator(session, viewer, indicator) if indicator else None
    year = _vintage(session, settings, level, vintage, chosen)
    west, south, east, north = tiles.referential_bounds(settings, year, level)
    base = settings.base_url.rstrip("/") or str(request.base_url).rstrip("/")
    query = urlencode({"vintage": year, **({"indicator": indicator} if indicator else {})})
    fields = {"code": "String", "name": "String"}
    if indicator:
        fields |= {"value": "Number", "status": "String (ok, secret, no_data)"}
    return {
        "tilejson": "3.0.0", "name": f"{level} {year}", "scheme": "xyz",
        "tiles": [f"{base}/tiles/{level}/{{z}}/{{x}}/{{y}}.mvt?{query}"],
        "minzoom": 0, "maxzoom": TILEJSON_MAXZOOM,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, 6],
        "vector_layers": [{"id": level, "fields": fields, "minzoom": 0, "maxzoom": TILEJSON_MAXZOOM}],
    }


@router.get(
    "/tiles/datasets/{dataset_id}/{z}/{x}/{y}.mvt", summary="A vector tile of a point dataset",
    response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "a Mapbox Vector Tile whose layer is "
                     "named after the dataset's slug; points in one tile unit are one feature "
                     "with a `count`, single points carry the chosen properties"},
               204: {"description": "no point in this tile"}})
def dataset_points_tile(dataset_id: str, z: int, x: int, y: int, request: Request,
                        session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                        properties: Annotated[str, Query(
                            description="columns carried by each point, comma-separated",
                            examples=["nom,code_rome"])] = "",
                        geometry: Annotated[str, Query(
                            description="the point column")] = "geometry") -> Response:
    tiles.check_tile(z, x, y)
    dataset = readable_dataset(session, viewer, dataset_id)
    version = repo.latest_version(dataset)
    if version is None:
        raise NotFound(f"dataset {dataset_id!r} has no published version")
    chosen = tuple(p.strip() for p in properties.split(",") if p.strip())
    data = point_tiles.points_tile(settings, resolve(settings, version.parquet_path), z, x, y,
                                   properties=chosen, layer=dataset.slug, geometry=geometry)
    public = dataset.access == "public" and dataset.status == "published"
    return _tile_response(request, data, hashlib.blake2b(data, digest_size=12).hexdigest(),
                          f"{'public' if public else 'private'}, max-age={VALUES_MAX_AGE}")
