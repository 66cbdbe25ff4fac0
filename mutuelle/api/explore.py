"""Opendatasoft Explore API v2.1: same paths, parameters, response shapes and errors.

Our additions: an opaque ``after`` cursor (and a ``next`` link in ``links``) that pages past the
10,000-row wall, present only when another page exists; ETag/Cache-Control on answers computed
from an immutable version; answers kept in memory (``query.answers``). Points are also served
as Opendatasoft's ``geo_point_2d`` (``{"lon": x, "lat": y}``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from sqlglot import exp

from mutuelle.access import audit
from mutuelle.access.policy import (
    Viewer,
    cache_control,
    publicly_readable,
    readable_dataset,
    readable_version,
)
from mutuelle.api.downloads import first_made, streamed
from mutuelle.api import hot
from mutuelle.api.facets import facet_answer, parse_facet_params
from mutuelle.api.openapi import file_answers
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.core import clock
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound, QueryError
from mutuelle.query import answers
from mutuelle.query.exports import (
    CSV_DELIMITERS,
    EXPORT_FORMATS,
    FILE_FORMATS,
    GEO_FORMATS,
    PARQUET_COMPRESSIONS,
    check_decimal,
    check_format,
    gzip_compressor,
    write_file_export,
    writer_for,
)
from mutuelle.query.odsql import QueryRequest, build_query
from mutuelle.query.records import (
    EXPLORE,
    GEO_POINT,
    LANGS,
    ROW_ID,
    Layout,
    Page,
    RecordsParams,
    access_class,
    check_lang,
    dumps,
    layout,
    listed,
    page_query,
    records_answer,
    source,
)
from mutuelle.query.run import budgeted, budgeted_stream, fetch_dicts, geometry_as_geojson
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, base_url, client_address

router = APIRouter(prefix="/api/explore/v2.1", tags=["Explore API v2.1 (Opendatasoft compatible)"])

Select = Annotated[str | None, Query(description="ODSQL select, e.g. `code_rome, count(*) as n`",
                                     examples=["code_rome, avg(salaire_min) as salaire"])]
#: ``where``, repeatable: several clauses are ANDed, as Opendatasoft does.
Where = Annotated[list[str] | None, Query(
    description="ODSQL where, e.g. `code_commune = \"69123\"`; repeatable: several are ANDed",
    examples=['code_rome = "K2204" and salaire_min > 1800'])]
GroupBy = Annotated[str | None, Query(description="ODSQL group_by", examples=["code_rome"])]
OrderBy = Annotated[str | None, Query(description="ODSQL order_by", examples=["count(*) desc"])]
Refine = Annotated[list[str] | None, Query(description="facet filter `field:value` (repeatable)")]
Exclude = Annotated[list[str] | None, Query(description="facet exclusion `field:value` (repeatable)")]
Lang = Annotated[str, Query(description="language of `date_format` names and labels: "
                                        + ", ".join(LANGS))]
Timezone = Annotated[str, Query(description="time zone of datetime values, e.g. Europe/Paris")]
IncludeLinks = Annotated[bool, Query(description="add HATEOAS `_links` to the answer")]
IncludeAppMetas = Annotated[bool, Query(description="add application metadata (none on records)")]
Limit = Annotated[int, Query(description="≤ 100; ≤ 20,000 with group_by; -1: the most allowed")]
Offset = Annotated[int, Query(description="offset + limit ≤ 10,000 (20,000 with group_by)")]
After = Annotated[str | None, Query(description="mutuelle: opaque cursor from a `next` link; "
                                                "pages past the 10,000-row wall")]


#: The name ``stream_export`` knows the source by.
_source = source


def _version_of(session: Session, viewer: Viewer, dataset_id: str, number: str = "latest") -> Version:
    dataset = readable_dataset(session, viewer, dataset_id)
    return readable_version(viewer, repo.get_version(dataset, number),
                            what=f"version {number} of dataset {dataset_id!r}")


def _request(select: str | None, where: str | list[str] | None, group_by: str | None,
             order_by: str | None, limit: int | None, offset: int, refine: list[str] | None,
             exclude: list[str] | None, timezone: str, lang: str = "fr") -> QueryRequest:
    return QueryRequest(select=select, where=listed(where), group_by=group_by,
                        order_by=order_by, limit=limit, offset=offset, refine=list(refine or []),
                        exclude=list(exclude or []), timezone=timezone, lang=lang)


# -- /records ----------------------------------------------------------------------------------

def _answer_headers(version: Version, key: tuple[object, ...]) -> dict[str, str]:
    return hot.answer_headers(key, publicly_readable(version))


def answered(request: Request, settings: Settings, version: Version, route: str,
             query: tuple[object, ...], compute: Any, *, volatile: bool = False) -> Response:
    """A JSON answer from memory when it was computed before, else ``compute()`` kept; a 304
    when the client holds it already (the ETag names the key, so no work is done)."""
    key = answers.answer_key(version.checksum, access_class(version), route, query)
    headers = _answer_headers(version, key)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    kept = answers.recall(settings, key, volatile=volatile)
    if kept is None:
        started = time.perf_counter()
        body, source = dumps(compute()), "computed"
        answers.remember(settings, key, body, volatile=volatile,
                         spent_ms=(time.perf_counter() - started) * 1000)
    else:
        body, source = kept
    headers["Server-Timing"] = f'answer;desc="{source}"'
    return Response(body, media_type="application/json", headers=headers)


@router.get("/catalog/datasets/{dataset_id}/records", summary="Query the records of a dataset")
def records(
    dataset_id: str, request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    select: Select = None, where: Where = None, group_by: GroupBy = None, order_by: OrderBy = None,
    limit: Limit = 10, offset: Offset = 0, refine: Refine = None, exclude: Exclude = None,
    lang: Lang = "fr", timezone: Timezone = "UTC", include_links: IncludeLinks = False,
    include_app_metas: IncludeAppMetas = False, after: After = None,
) -> Response:
    version = _version_of(session, viewer, dataset_id)
    hot.learn(request, viewer, dataset_id, version)
    params = RecordsParams.of(select=select, where=where, group_by=group_by, order_by=order_by,
                              limit=limit, offset=offset, refine=refine, exclude=exclude,
                              lang=lang, timezone=timezone, after=after,
                              include_links=include_links, include_app_metas=include_app_metas)
    return run_records(request, settings, version, params)


def run_records(request: Request, settings: Settings, version: Version,
                params: RecordsParams) -> Response:
    """The /records answer for one version (shared with the native versioned route)."""
    page = Page(request.url.path, base_url(request, settings) if params.include_links else "")
    return answered(request, settings, version, "records", page_query(page, params),
                    lambda: records_answer(settings, version, params, page),
                    volatile=params.volatile)


@router.get("/catalog/datasets/{dataset_id}/records/{record_id}", summary="One record by its id")
def record(dataset_id: str, record_id: str, request: Request, session: SessionDep,
           settings: SettingsDep, viewer: ViewerDep, select: Select = None,
           lang: Lang = "fr", timezone: Timezone = "UTC") -> Response:
    version = _version_of(session, viewer, dataset_id)
    check_lang(lang)
    if not record_id.isdigit():
        raise NotFound(f"no record {record_id!r} in dataset {dataset_id!r}")
    key = answers.answer_key(version.checksum, access_class(version), "record",
                             (record_id, select, lang, timezone))
    headers = _answer_headers(version, key)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    read = layout(settings, version)
    req = _request(select, None, None, None, 1, 0, None, None, timezone, lang)
    query = build_query(req, read.schema, _source(settings, version, read=read))
    query = query.where(exp.EQ(this=exp.column(ROW_ID, quoted=True),
                               expression=exp.Literal.number(int(record_id) - 1)))
    with budgeted(settings) as con:
        shaped, geo = geometry_as_geojson(query, con, lonlat=read.lonlat)
        rows = fetch_dicts(con, shaped, geo, tz=ZoneInfo(timezone))
    if not rows:
        raise NotFound(f"no record {record_id!r} in dataset {dataset_id!r}")
    rows[0].pop(ROW_ID, None)
    return Response(dumps(rows[0]), media_type="application/json", headers=headers)


@router.get("/catalog/datasets/{dataset_id}/facets", summary="Facet values and counts")
def facets(dataset_id: str, request: Request, session: SessionDep, settings: SettingsDep,
           viewer: ViewerDep, facet: Annotated[list[str] | None, Query(
               description='a field name, or facet(name="f", sort="-count", limit=10, '
                           'disjunctive=true); default: the fields marked as facets')] = None,
           where: Where = None, refine: Refine = None, exclude: Exclude = None,
           lang: Lang = "fr", timezone: Timezone = "UTC") -> Response:
    version = _version_of(session, viewer, dataset_id)
    check_lang(lang)
    read = layout(settings, version)
    specs = parse_facet_params(facet or [], read.schema, version.fields)
    query, clauses = hot.facets_key(facet, listed(where), refine, exclude, lang, timezone)
    hot.learn(request, viewer, dataset_id, version)
    req = replace(_request(None, list(clauses), None, None, None, 0, refine, exclude, timezone,
                           lang), now=clock.now())

    def compute() -> dict[str, Any]:
        with budgeted(settings) as con:
            found = facet_answer(con, specs, req, read.schema, _source(settings, version, read=read))
        return {"links": [], "facets": found}

    return answered(request, settings, version, "facets", query, compute,
                    volatile=answers.uses_now(*clauses))


@router.get("/catalog/datasets/{dataset_id}/exports", summary="List the export formats of a dataset")
def export_formats(dataset_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                   viewer: ViewerDep) -> Response:
    version = _version_of(session, viewer, dataset_id)
    here = f"{base_url(request, settings)}{EXPLORE}/catalog/datasets/{quote(version.dataset.slug, safe='')}/exports"
    body = {"links": [{"rel": "self", "href": here}]
            + [{"rel": fmt, "href": f"{here}/{fmt}"} for fmt in EXPORT_FORMATS]}
    return Response(dumps(body), media_type="application/json",
                    headers={"Cache-Control": cache_control(publicly_readable(version), max_age=60)})


@router.get("/catalog/datasets/{dataset_id}/attachments", summary="The attachments of a dataset")
def attachments(dataset_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    dataset = readable_dataset(session, viewer, dataset_id)
    return Response(dumps({"links": [], "attachments": []}), media_type="application/json",
                    headers={"Cache-Control": cache_control(publicly_readable(dataset), max_age=60)})


@dataclass(frozen=True)
class ExportOptions:
    """What an export's file looks like, beyond the ODSQL query."""

    delimiter: str = ";"
    quote_all: bool = False
    with_bom: bool = True
    use_labels: bool = False
    compressed: bool = False
    epsg: int = 4326
    parquet_compression: str = "snappy"
    name_field: str | None = None
    description_fields: tuple[str, ...] = ()
    use_extension: bool = True
    lang: str = "fr"
    decimal: str = "point"

    def writer_options(self, version: Version, fmt: str) -> dict[str, Any]:
        """``writer_for``'s keywords for ``fmt``."""
        labels = {f.name: f.label for f in version.fields if f.label and f.label != f.name} \
            if self.use_labels else {}
        return {"delimiter": self.delimiter, "quote_all": self.quote_all,
                "with_bom": self.with_bom, "labels": labels, "epsg": self.epsg,
                "parquet_compression": self.parquet_compression, "layer": version.dataset.slug,
                "decimal": self.decimal,
                "gpx": {"name_field": self.name_field, "description_fields": self.description_fields,
                        "use_extension": self.use_extension}}


@router.get("/catalog/datasets/{dataset_id}/exports/{format}",
            summary="Export the records (csv, json, jsonl, geojson, parquet, xlsx, shp, kml, gpx, "
                    "fgb), streamed", response_class=Response,
            responses=file_answers([*(media for media, _ in EXPORT_FORMATS.values()),
                                    "application/gzip"], "the records in the format asked "
                                   "(gzipped with compressed=true)"))
def export(
    dataset_id: str, format: str, request: Request, session: SessionDep, settings: SettingsDep,
    viewer: ViewerDep,
    select: Select = None, where: Where = None, group_by: GroupBy = None, order_by: OrderBy = None,
    limit: Annotated[int, Query(description="-1: every record")] = -1,
    refine: Refine = None, exclude: Exclude = None, lang: Lang = "fr", timezone: Timezone = "UTC",
    delimiter: Annotated[str, Query(description="csv: one of ; , tab |")] = ";",
    list_separator: Annotated[str, Query(description="csv: separator of multivalued fields "
                                                     "(none here)")] = ",",
    quote_all: Annotated[bool, Query(description="csv: quote every value")] = False,
    with_bom: Annotated[bool, Query(description="csv: start with a byte order mark, so that "
                                                "Excel reads UTF-8")] = True,
    use_labels: Annotated[bool, Query(description="csv, xlsx: fields named by their label")] = False,
    compressed: Annotated[bool, Query(description="gzip the file")] = False,
    epsg: Annotated[int, Query(description="projection of the shapes (geojson, shp, fgb)")] = 4326,
    parquet_compression: Annotated[str, Query(description="parquet: snappy or zstd")] = "snappy",
    name_field: Annotated[str | None, Query(description="gpx: the field naming each feature")] = None,
    description_field_list: Annotated[str | None, Query(
        description="gpx: fields (comma-separated) describing each feature")] = None,
    use_extension: Annotated[bool, Query(description="gpx: fields in <extensions> (else in "
                                                     "<desc>)")] = True,
    decimal: Annotated[str, Query(description="csv (mutuelle): decimal mark of decimal numbers, "
                                              "point or comma (`1234,5`, for French Excel; "
                                              "not with delimiter `,`)")] = "point",
) -> Response:
    check_format(format)
    check_lang(lang)
    if delimiter not in CSV_DELIMITERS:
        raise InvalidInput(f"delimiter must be one of {', '.join(map(repr, CSV_DELIMITERS))}")
    check_decimal(decimal, delimiter if format == "csv" else None)
    if parquet_compression not in PARQUET_COMPRESSIONS:
        raise InvalidInput(f"parquet_compression must be one of {', '.join(PARQUET_COMPRESSIONS)}")
    version = _version_of(session, viewer, dataset_id)
    options = ExportOptions(delimiter=delimiter, quote_all=quote_all, with_bom=with_bom,
                            use_labels=use_labels, compressed=compressed, epsg=epsg,
                            parquet_compression=parquet_compression, name_field=name_field,
                            description_fields=tuple(f.strip() for f in (description_field_list or "").split(",")
                                                     if f.strip()),
                            use_extension=use_extension, lang=lang, decimal=decimal)
    return send_export(request, session, viewer, settings, version, format, select=select,
                       where=where, group_by=group_by, order_by=order_by, limit=limit,
                       refine=refine, exclude=exclude, timezone=timezone, options=options)


def send_export(request: Request, session: Session, viewer: Viewer, settings: Settings,
                version: Version, fmt: str, *, select: str | None, where: str | list[str] | None,
                group_by: str | None, order_by: str | None, limit: int,
                refine: list[str] | None, exclude: list[str] | None, timezone: str,
                options: ExportOptions) -> Response:
    """An export of ``version`` in ``fmt``, with its cache headers; a copy of data that is not
    open is written in the audit log (shared with Opendatasoft's legacy download path)."""
    if fmt in ("kml", "gpx"):  # WGS84 by definition
        options = replace(options, epsg=4326)
    if fmt in FILE_FORMATS:
        response = file_export(settings, version, fmt, select=select, where=where,
                               group_by=group_by, order_by=order_by, limit=limit, refine=refine,
                               exclude=exclude, timezone=timezone, options=options)
    else:
        response = stream_export(settings, version, fmt, select=select, where=where,
                                 group_by=group_by, order_by=order_by, limit=limit, refine=refine,
                                 exclude=exclude, timezone=timezone, delimiter=options.delimiter,
                                 quote_all=options.quote_all, with_bom=options.with_bom,
                                 options=options)
    if options.compressed:
        response = _gzip(response, version, fmt)
    public = publicly_readable(version)
    response.headers["Cache-Control"] = cache_control(public, max_age=60)
    if not public:  # who took a copy of data that is not open
        audit.record(session, viewer, "dataset.export", kind="dataset", object_id=version.dataset_id,
                     address=client_address(request), detail={"format": fmt, "version": version.number})
        session.commit()
    return response


def _export_query(settings: Settings, version: Version, *, select: str | None,
                  where: str | list[str] | None, group_by: str | None, order_by: str | None,
                  limit: int, refine: list[str] | None, exclude: list[str] | None,
                  timezone: str, lang: str = "fr") -> tuple[exp.Select, Layout]:
    """The SELECT of an export (every row by default) and how the version is read."""
    if limit < -1:
        raise QueryError(f"limit must be -1 (all) or positive (got {limit})", clause="limit")
    read = layout(settings, version)
    req = _request(select, where, group_by, order_by, None if limit == -1 else limit, 0, refine,
                   exclude, timezone, lang)
    return build_query(req, read.schema, _source(settings, version, read=read)), read


def _lonlat_for(fmt: str, read: Layout) -> frozenset[str]:
    """The point columns written as ``{"lon", "lat"}`` (or "lat, lon" text in CSV) in ``fmt``:
    none in KML and GPX, where every geometry is the feature's."""
    return frozenset() if fmt in ("kml", "gpx") else read.lonlat


def file_export(settings: Settings, version: Version, fmt: str, *, select: str | None,
                where: str | list[str] | None, group_by: str | None, order_by: str | None,
                limit: int, refine: list[str] | None, exclude: list[str] | None, timezone: str,
                options: ExportOptions) -> Response:
    """A Shapefile (zip) or FlatGeobuf export, written by GDAL first, then streamed."""
    query, read = _export_query(settings, version, select=select, where=where, group_by=group_by,
                                order_by=order_by, limit=limit, refine=refine, exclude=exclude,
                                timezone=timezone, lang=options.lang)
    if read.point_of and select is None:  # the copy of a point: one geometry per feature
        query = query.select(*(e for e in query.expressions if e.alias_or_name != GEO_POINT),
                             append=False)
    chunks = write_file_export(settings, query, fmt, layer=version.dataset.slug,
                               epsg=options.epsg, zone_name=timezone)
    media, ext = EXPORT_FORMATS[fmt]
    headers = {"Content-Disposition": f'attachment; filename="{version.dataset.slug}.{ext}"'}
    return streamed(chunks, settings, doing=f"exporting {version.dataset.slug!r}",
                    media_type=media, headers=headers)


def _gzip(response: Response, version: Version, fmt: str) -> Response:
    """``response``'s body gzipped, named ``<slug>.<ext>.gz``."""
    if not isinstance(response, StreamingResponse):
        raise TypeError("exports are streamed")
    _, ext = EXPORT_FORMATS[fmt]
    headers = {"Content-Disposition": f'attachment; filename="{version.dataset.slug}.{ext}.gz"'}
    return StreamingResponse(_gzipped(response), media_type="application/gzip", headers=headers)


async def _gzipped(response: StreamingResponse) -> AsyncIterator[bytes]:
    packer = gzip_compressor()
    async for chunk in response.body_iterator:
        out = packer.compress(chunk if isinstance(chunk, bytes) else bytes(chunk, "utf-8")
                              if isinstance(chunk, str) else bytes(chunk))
        if out:
            yield out
    yield packer.flush()


def stream_export(settings: Settings, version: Version, fmt: str, *, select: str | None,
                  where: str | list[str] | None, group_by: str | None, order_by: str | None, limit: int,
                  refine: list[str] | None, exclude: list[str] | None, timezone: str,
                  delimiter: str = ";", quote_all: bool = False, with_bom: bool = False,
                  options: ExportOptions | None = None) -> Response:
    """A streamed export of one version; errors in the query are raised before the first byte."""
    if limit < -1:
        raise QueryError(f"limit must be -1 (all) or positive (got {limit})", clause="limit")
    req = _request(select, where, group_by, order_by, None if limit == -1 else limit, 0, refine,
                   exclude, timezone, options.lang if options else "fr")
    read = layout(settings, version)
    query = build_query(req, read.schema, _source(settings, version, read=read))
    options = options or ExportOptions(delimiter=delimiter, quote_all=quote_all, with_bom=with_bom)
    batches, geo = budgeted_stream(settings, query, settings.export_batch_rows, lonlat=_lonlat_for(fmt, read),
                                   epsg=options.epsg, points_as_text=fmt == "csv",
                                   features=fmt in GEO_FORMATS)
    write = writer_for(fmt, geo, timezone=timezone, **options.writer_options(version, fmt))
    media, ext = EXPORT_FORMATS[fmt]
    headers = {"Content-Disposition": f'attachment; filename="{version.dataset.slug}.{ext}"'}
    # The query runs to its first batch (and the file to its first part) before the status is
    # sent: no memory, no disk or a value that does not convert is then a 503, 507 or 400.
    doing = f"exporting {version.dataset.slug!r}"
    return streamed(write(first_made(batches, settings, doing=doing)), settings, doing=doing,
                    media_type=media, headers=headers)


native_router = APIRouter(prefix="/api", tags=["catalogue (native)"])


@native_router.get("/datasets/{dataset_id}/versions/{number}/records",
                   summary="Records of one version (mutuelle): same parameters as Explore /records; "
                           "answers of a numbered version are immutable (ETag, long Cache-Control)")
def version_records(
    dataset_id: str, number: str, request: Request, session: SessionDep, settings: SettingsDep,
    viewer: ViewerDep, select: Select = None, where: Where = None, group_by: GroupBy = None,
    order_by: OrderBy = None, limit: Limit = 10, offset: Offset = 0, refine: Refine = None,
    exclude: Exclude = None, lang: Lang = "fr", timezone: Timezone = "UTC",
    include_links: IncludeLinks = False, after: After = None,
) -> Response:
    version = _version_of(session, viewer, dataset_id, number)
    params = RecordsParams.of(select=select, where=where, group_by=group_by, order_by=order_by,
                              limit=limit, offset=offset, refine=refine, exclude=exclude,
                              lang=lang, timezone=timezone, after=after,
                              include_links=include_links)
    response = run_records(request, settings, version, params)
    if number != "latest" and response.status_code in (200, 304):
        response.headers["Cache-Control"] = cache_control(publicly_readable(version), immutable=True)
    return response
