"""Vector tiles for MapLibre: the referential's territories (``/tiles/{level}/{z}/{x}/{y}.mvt``,
with an indicator's values and statuses when asked) and the TileJSON describing them, and the
points, lines and polygons of a dataset (``/tiles/datasets/{dataset}/{z}/{x}/{y}.mvt``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    cache_control,
    publicly_readable,
    readable_dataset,
    readable_indicator,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo import point_tiles, referential, tiles
from mutuelle.observatory import compute
from mutuelle.observatory.maps import tile_values
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep
from mutuelle.store.versions import resolve

router = APIRouter(tags=["observatory: maps"])

MVT = "application/vnd.mapbox-vector-tile"
#: Highest zoom announced in the TileJSON; MapLibre enlarges z14 tiles beyond it.
TILEJSON_MAXZOOM = 14
#: Browser and proxy cache lifetime of tiles (then revalidated by ETag), in seconds.
GEOMETRY_MAX_AGE = 3600
VALUES_MAX_AGE = 300

LevelPath = Annotated[str, Path(description="iris, commune, epci, departement, region or qpv",
                                examples=["iris"])]
VintageQuery = Annotated[int | None, Query(
    description="vintage (millésime) of the referential; default: the indicator's, else the "
                "portal's default if present, else the newest", examples=[2024],
    ge=referential.MIN_VINTAGE, le=referential.MAX_VINTAGE)]
IndicatorQuery = Annotated[str | None, Query(
    description="id of an indicator: each feature then carries `value` and `status` "
                "(ok, secret or no_data)", examples=["taux_chomage"])]


def _vintage(session: Session, settings: Settings, level: str, vintage: int | None,
             indicator: Indicator | None) -> int:
    if vintage is None and indicator is not None:
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
    values, values_key, public = None, None, True
    chosen = readable_indicator(session, viewer, indicator) if indicator else None
    year = _vintage(session, settings, level, vintage, chosen)
    if chosen is not None:
        values_key, values = tile_values(session, settings, chosen, level, year)
        public = publicly_readable(chosen)
    made = tiles.tile_with_etag(settings, year, level, z, x, y, values=values,
                                values_key=values_key)
    age = GEOMETRY_MAX_AGE if values is None else VALUES_MAX_AGE
    return _tile_response(request, made.data, made.etag, cache_control(public, max_age=age))


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
    chosen = readable_indicator(session, viewer, indicator) if indicator else None
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
    "/tiles/datasets/{dataset_id}/{z}/{x}/{y}.mvt",
    summary="A vector tile of a dataset's points, lines and polygons", response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "a Mapbox Vector Tile whose layer is "
                     "named after the dataset's slug: points, lines and polygons (multi-parts "
                     "kept together), the lines and polygons simplified for the zoom; points in "
                     "one tile unit, and lines or polygons too small to draw, are one feature "
                     "with a `count`; single features carry the chosen properties"},
               204: {"description": "nothing of the dataset in this tile"},
               304: {"description": "unchanged since the ETag given in If-None-Match"}})
def dataset_tile(dataset_id: str, z: int, x: int, y: int, request: Request,
                 session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                 properties: Annotated[str, Query(
                     description="columns carried by each feature, comma-separated",
                     examples=["nom,code_rome"])] = "",
                 geometry: Annotated[str, Query(
                     description="the geometry column")] = "geometry",
                 cluster: Annotated[int, Query(
                     description="points within a cell of this many tile units (of 4096 per "
                                 "side; 1, 2, 4 … 256) are one feature with a `count`, at their "
                                 "mean: 32 or 64 clusters a dense map")] = 1) -> Response:
    tiles.check_tile(z, x, y)
    point_tiles.check_cluster(cluster)
    dataset = readable_dataset(session, viewer, dataset_id)
    version = repo.latest_version(dataset)
    if version is None:
        raise NotFound(f"dataset {dataset_id!r} has no published version")
    chosen = tuple(p.strip() for p in properties.split(",") if p.strip())
    made = point_tiles.dataset_tile(settings, resolve(settings, version.parquet_path), z, x, y,
                                    properties=chosen, layer=dataset.slug, geometry=geometry,
                                    cluster=cluster)
    return _tile_response(request, made.data, made.etag,
                          cache_control(publicly_readable(version), max_age=VALUES_MAX_AGE))
