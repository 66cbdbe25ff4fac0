"""Opendatasoft's legacy paths that scripts still call: the v1 search
(``/api/records/1.0/search/?dataset=...``: ``q``, ``refine.<field>``, ``exclude.<field>``,
``rows``, ``start``, ``sort``, ``facet``, ``fields``, ``geofilter.distance``) and the dataset
download (``/explore/dataset/<id>/download/?format=csv``), with Opendatasoft's v1 error body
``{"error": "..."}``.

Both run on the Explore v2.1 machinery (ODSQL, facets, exports, answers from memory): only the
parameters and the shapes of the answers are v1's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlglot import exp

from mutuelle.access.policy import readable_dataset, readable_version
from mutuelle.api.explore import ExportOptions, answered, send_export
from mutuelle.api.facets import facet_answer, parse_facet
from mutuelle.api.openapi import LegacyErrorBody, file_answers
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.core import clock
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, MutuelleError, QueryError
from mutuelle.query.exports import CSV_DELIMITERS, EXPORT_FORMATS, check_decimal, primary_geometry
from mutuelle.query.odsql import QueryRequest, build_count, build_query
from mutuelle.query.records import GEO_POINT, ROW_ID, Layout, check_lang, layout
from mutuelle.query.records import source as _source
from mutuelle.query.run import budgeted, fetch_dicts, geometry_as_geojson
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep

#: Most rows of one v1 search (``start + rows`` stays within ``MUTUELLE_QUERY_MAX_ROWS``).
MAX_ROWS = 10_000
_FIELD_QUERY = re.compile(r"^\s*(?P<field>[A-Za-z_][\w]*)\s*:\s*(?P<value>.+?)\s*$", re.DOTALL)
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def v1_error(exc: Exception) -> Response:
    """An error as Opendatasoft's v1 API writes it: ``{"error": "..."}``."""
    if isinstance(exc, MutuelleError):
        status, message = exc.status_code, exc.message
    else:
        status, message = 400, "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'query')}: {e.get('msg')}"
            for e in exc.errors()) if isinstance(exc, RequestValidationError) else str(exc)
    headers = {"Retry-After": "10"} if status == 429 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class V1Route(APIRoute):
    """A route whose errors (its own, its parameters' and its dependencies', the caller's key
    included) answer in the v1 shape."""

    error_body = LegacyErrorBody   # what the OpenAPI document declares (``api.openapi``)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def v1_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (MutuelleError, RequestValidationError) as exc:
                return v1_error(exc)

        return v1_handler


router = APIRouter(tags=["Opendatasoft legacy paths"], route_class=V1Route)


def _dataset_version(session: Any, viewer: Any, dataset_id: str | None) -> Version:
    if not dataset_id:
        raise InvalidInput("the dataset parameter is missing (?dataset=<dataset id>)")
    dataset = readable_dataset(session, viewer, dataset_id)
    return readable_version(viewer, repo.get_version(dataset, "latest"),
                            what=f"dataset {dataset_id!r}")


def _flag(params: Any, name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = _FLAGS.get(raw.strip().lower())
    if value is None:
        raise InvalidInput(f"{name} must be true or false, not {raw!r}")
    return value


def _number(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from exc


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(name: str) -> str:
    return "`" + name.replace("`", "\\`") + "`"


@dataclass(frozen=True)
class V1Query:
    """A v1 search or download, as ODSQL clauses."""

    where: tuple[str, ...] = ()
    refine: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    select: str | None = None
    order_by: str | None = None
    timezone: str = "UTC"
    lang: str = "fr"

    def key(self) -> tuple[object, ...]:
        """Plain values naming the query."""
        return (self.where, self.refine, self.exclude, self.select, self.order_by,
                self.timezone, self.lang)


def v1_query(params: Any, read: Layout) -> V1Query:
    """The ODSQL of v1 parameters: ``q`` (``field:value`` or a full-text search),
    ``refine.<field>``/``exclude.<field>``, ``fields``, ``sort`` (descending unless it starts
    with ``-``, as in v1), ``geofilter.distance=lat,lon,metres``."""
    where: list[str] = []
    q = (params.get("q") or "").strip()
    if q:
        found = _FIELD_QUERY.match(q)
        if found and found.group("field") in read.schema:
            value = found.group("value").strip().strip('"')
            where.append(f"{_field(found.group('field'))} = {_quoted(value)}")
        else:
            where.append(f"search({_quoted(q)})")
    refine, exclude = [], []
    for name, value in params.multi_items():
        if name.startswith("refine."):
            refine.append(f"{name[7:]}:{value}")
        elif name.startswith("exclude."):
            exclude.append(f"{name[8:]}:{value}")
    distance = params.get("geofilter.distance")
    if distance:
        where.append(_distance_filter(distance, read))
    fields = [f.strip() for f in (params.get("fields") or "").split(",") if f.strip()]
    for name in fields:
        if name not in read.schema:
            raise QueryError(f"unknown field '{name}'", clause="fields")
    sort = (params.get("sort") or "").strip()
    order_by = None
    if sort:
        name = sort.lstrip("-")
        if name not in read.schema:
            raise QueryError(f"unknown field '{name}'", clause="sort")
        order_by = f"{_field(name)} {'asc' if sort.startswith('-') else 'desc'}"
    return V1Query(tuple(where), tuple(refine), tuple(exclude),
                   ", ".join(_field(f) for f in fields) or None, order_by,
                   params.get("timezone") or "UTC", check_lang(params.get("lang") or "fr"))


def _distance_filter(text: str, read: Layout) -> str:
    parts = [p.strip() for p in text.split(",")]
    try:
        lat, lon, metres = float(parts[0]), float(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0
    except (ValueError, IndexError) as exc:
        raise QueryError(f"geofilter.distance takes lat,lon,metres, not {text!r}",
                         clause="geofilter.distance") from exc
    geometry = primary_geometry(read.geometries)
    if geometry is None:
        raise QueryError("this dataset has no geometry", clause="geofilter.distance")
    return f"within_distance({_field(geometry)}, geom'POINT({lon} {lat})', {metres}m)"


def _v1_facets(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        item = {"name": entry["name"], "path": entry["value"], "state": entry["state"]}
        if "count" in entry:
            item["count"] = entry["count"]
        if "facets" in entry:
            item["facets"] = _v1_facets(entry["facets"])
        out.append(item)
    return out


def _v1_value(name: str, value: Any, read: Layout) -> Any:
    if name in read.lonlat and isinstance(value, dict):
        return [value.get("lat"), value.get("lon")]  # v1's geo_point_2d: [lat, lon]
    return value


def search_answer(settings: Settings, version: Version, query: V1Query, *, rows: int,
                  start: int, facets: list[str], dataset_id: str) -> dict[str, Any]:
    """The v1 search answer: ``nhits``, ``parameters``, ``records``, ``facet_groups``."""
    read = layout(settings, version)
    if not 0 <= rows <= MAX_ROWS or start < 0 or start + rows > settings.query_max_rows:
        raise QueryError(f"rows must be between 0 and {MAX_ROWS} and start + rows at most "
                         f"{settings.query_max_rows}", clause="rows")
    req = QueryRequest(select=query.select, where=list(query.where), order_by=query.order_by,
                       limit=rows, offset=start, refine=list(query.refine),
                       exclude=list(query.exclude), timezone=query.timezone, lang=query.lang,
                       now=clock.now())
    specs = [parse_facet(f, read.schema) for f in facets]
    source = _source(settings, version, read=read)
    select = build_query(req, read.schema, source).select(exp.column(ROW_ID, quoted=True))
    count = build_count(replace(req, order_by=None, limit=None, offset=0), read.schema, source)
    point = GEO_POINT if GEO_POINT in read.lonlat else None
    with budgeted(settings) as con:
        shaped, geo = geometry_as_geojson(select, con, lonlat=read.lonlat)
        found = fetch_dicts(con, shaped, geo, tz=ZoneInfo(query.timezone))
        total = con.execute(count.sql(dialect="duckdb")).fetchone()
        groups = facet_answer(con, specs, req, read.schema, source) if specs else []
    records = []
    for row in found:
        row_id = int(row.pop(ROW_ID))
        record: dict[str, Any] = {
            "datasetid": dataset_id, "recordid": str(row_id + 1),
            "fields": {k: _v1_value(k, v, read) for k, v in row.items() if v is not None},
            "record_timestamp": version.created_at.isoformat()}
        if point and isinstance(row.get(point), dict):
            record["geometry"] = {"type": "Point", "coordinates": [row[point]["lon"], row[point]["lat"]]}
        records.append(record)
    parameters: dict[str, Any] = {"dataset": dataset_id, "rows": rows, "start": start,
                                  "format": "json", "timezone": query.timezone}
    if facets:
        parameters["facet"] = facets
    body: dict[str, Any] = {"nhits": int(total[0]) if total else 0, "parameters": parameters,
                            "records": records}
    if groups:
        body["facet_groups"] = [{"name": g["name"], "facets": _v1_facets(g["facets"])}
                                for g in groups if g["facets"]]
    return body


@router.get("/api/records/1.0/search", summary="Opendatasoft v1 search (legacy): records, "
                                                 "nhits, facet_groups",
            responses={404: {"description": "no such dataset, or one the caller may not see"}})
def v1_search(request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep) -> Response:
    params = request.query_params
    dataset_id = params.get("dataset")
    version = _dataset_version(session, viewer, dataset_id)
    read = layout(settings, version)
    query = v1_query(params, read)
    rows, start = _number(params, "rows", 10), _number(params, "start", 0)
    facets = params.getlist("facet")
    return answered(request, settings, version, "v1search",
                    (dataset_id, rows, start, tuple(facets), *query.key()),
                    lambda: search_answer(settings, version, query, rows=rows, start=start,
                                          facets=facets, dataset_id=str(dataset_id)))


#: v1 download formats -> our export formats.
DOWNLOAD_FORMATS = {"csv": "csv", "json": "json", "jsonl": "jsonl", "geojson": "geojson",
                    "xlsx": "xlsx", "xls": "xlsx", "shp": "shp", "kml": "kml", "gpx": "gpx",
                    "fgb": "fgb", "parquet": "parquet"}


@router.get("/explore/dataset/{dataset_id}/download",
            summary="Opendatasoft dataset download (legacy): ?format=csv (default), json, "
                    "geojson, xlsx, shp, kml...", response_class=Response,
            responses=file_answers((media for media, _ in EXPORT_FORMATS.values()),
                                   "the records in the format asked"))
def v1_download(dataset_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                viewer: ViewerDep) -> Response:
    params = request.query_params
    fmt = DOWNLOAD_FORMATS.get((params.get("format") or "csv").lower())
    if fmt is None or fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown format {params.get('format')!r}: one of "
                           f"{', '.join(DOWNLOAD_FORMATS)}")
    version = _dataset_version(session, viewer, dataset_id)
    query = v1_query(params, layout(settings, version))
    separator = params.get("csv_separator") or ";"
    if separator not in CSV_DELIMITERS:
        raise InvalidInput(f"csv_separator must be one of {', '.join(map(repr, CSV_DELIMITERS))}")
    decimal = check_decimal(params.get("decimal") or "point", separator if fmt == "csv" else None)
    options = ExportOptions(delimiter=separator, with_bom=_flag(params, "with_bom", False),
                            use_labels=_flag(params, "use_labels_for_header", False),
                            lang=query.lang, decimal=decimal)
    return send_export(request, session, viewer, settings, version, fmt, select=query.select,
                       where=list(query.where), group_by=None, order_by=query.order_by,
                       limit=_number(params, "rows", -1), refine=list(query.refine),
                       exclude=list(query.exclude), timezone=query.timezone, options=options)
