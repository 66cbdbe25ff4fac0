"""Opendatasoft Explore API v2.1: same paths, parameters, response shapes and errors.

Our addition: an opaque ``after`` cursor (and a ``next`` link) that pages past the
10,000-row wall, and ETag/Cache-Control on answers computed from an immutable version.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
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
from mutuelle.api.facets import parse_facet_params
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound, QueryError
from mutuelle.query.exports import EXPORT_FORMATS, check_format, writer_for
from mutuelle.query.odsql import QueryRequest, build_count, build_facet, build_query
from mutuelle.query.run import budgeted, budgeted_stream, fetch_dicts, geometry_as_geojson
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, client_address
from mutuelle.store.versions import resolve

router = APIRouter(prefix="/api/explore/v2.1", tags=["Explore API v2.1 (Opendatasoft compatible)"])

ROW_ID = "__mutuelle_row"

Select = Annotated[str | None, Query(description="ODSQL select, e.g. `code_rome, count(*) as n`",
                                     examples=["code_rome, avg(salaire_min) as salaire"])]
Where = Annotated[str | None, Query(description="ODSQL where, e.g. `code_commune = \"69123\"`",
                                    examples=['code_rome = "K2204" and salaire_min > 1800'])]
GroupBy = Annotated[str | None, Query(description="ODSQL group_by", examples=["code_rome"])]
OrderBy = Annotated[str | None, Query(description="ODSQL order_by", examples=["count(*) desc"])]
Refine = Annotated[list[str] | None, Query(description="facet filter `field:value` (repeatable)")]
Exclude = Annotated[list[str] | None, Query(description="facet exclusion `field:value` (repeatable)")]


def _version_of(session: Session, viewer: Viewer, dataset_id: str, number: str = "latest") -> Version:
    dataset = readable_dataset(session, viewer, dataset_id)
    return readable_version(viewer, repo.get_version(dataset, number),
                            what=f"version {number} of dataset {dataset_id!r}")


def _source(settings: Settings, version: Version, after_row: int | None = None) -> exp.Expression:
    """The version's rows with their row number in the file (from 0): the keyset key.

    Record ids shown to clients are that number + 1; the key stays the raw column so that
    DuckDB keeps its cheap ordered scan."""
    path = str(resolve(settings, version.parquet_path))
    scan = exp.func("read_parquet", exp.Literal.string(path),
                    exp.EQ(this=exp.var("file_row_number"), expression=exp.true()))
    inner = exp.select(
        exp.Star(**{"except": [exp.column("file_row_number")]}),
        exp.alias_(exp.column("file_row_number"), ROW_ID, quoted=True),
    ).from_(scan)
    if after_row is not None:  # resume after the last row of the previous page
        inner = inner.where(exp.GT(this=exp.column("file_row_number"), expression=exp.Literal.number(after_row)))
    return inner.subquery("records")


def _request(select: str | None, where: str | None, group_by: str | None, order_by: str | None,
             limit: int | None, offset: int, refine: list[str] | None, exclude: list[str] | None,
             timezone: str) -> QueryRequest:
    return QueryRequest(select=select, where=[where] if where else [], group_by=group_by,
                        order_by=order_by, limit=limit, offset=offset, refine=list(refine or []),
                        exclude=list(exclude or []), timezone=timezone)


def _encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, value]).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[str, int]:
    try:
        kind, value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if kind not in ("row", "offset") or not isinstance(value, int) or value < 0:
            raise ValueError(kind)
        return kind, value
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidInput("invalid cursor in 'after': pass the value of a previous 'next' link") from exc


def _cache_headers(version: Version, request: Request) -> dict[str, str]:
    key = hashlib.sha256(f"{version.checksum}|{request.url.query}".encode()).hexdigest()[:32]
    return {"ETag": f'"{key}"', "Cache-Control": cache_control(publicly_readable(version), max_age=60)}


def _json(body: Any, headers: dict[str, str], request: Request) -> Response:
    if request.headers.get("if-none-match") == headers.get("ETag"):
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


@router.get("/catalog/datasets/{dataset_id}/records", summary="Query the records of a dataset")
def records(
    dataset_id: str, request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    select: Select = None, where: Where = None, group_by: GroupBy = None, order_by: OrderBy = None,
    limit: Annotated[int, Query(description="≤ 100")] = 10,
    offset: Annotated[int, Query(description="offset + limit < 10,000 (20,000 with group_by)")] = 0,
    refine: Refine = None, exclude: Exclude = None, lang: str = "fr", timezone: str = "UTC",
    after: Annotated[str | None, Query(description="mutuelle: opaque cursor from a `next` link; "
                                                   "pages past the 10,000-row wall")] = None,
) -> Response:
    version = _version_of(session, viewer, dataset_id)
    return run_records(request, settings, version, select=select, where=where, group_by=group_by,
                       order_by=order_by, limit=limit, offset=offset, refine=refine, exclude=exclude,
                       timezone=timezone, after=after)


def run_records(request: Request, settings: Settings, version: Version, *, select: str | None,
                where: str | None, group_by: str | None, order_by: str | None, limit: int,
                offset: int, refine: list[str] | None, exclude: list[str] | None, timezone: str,
                after: str | None) -> Response:
    """The /records answer for one version (shared with the native versioned route)."""
    if limit < -1 or limit > 100:
        raise QueryError(f"limit must be between 0 and 100 (got {limit}); use exports or 'after' "
                         "cursors for more", clause="limit")
    if limit == -1:
        limit = 100
    if offset < 0:
        raise QueryError(f"offset must not be negative (got {offset})", clause="offset")
    wall = settings.query_max_group_rows if group_by else settings.query_max_rows
    cursor_kind, cursor_value = _decode_cursor(after) if after else (None, 0)
    if after is None and offset + limit > wall:
        raise QueryError(f"offset + limit must not exceed {wall} (got {offset + limit}); "
                         "follow the 'next' link (after=) to page further", clause="offset")
    keyset = not group_by and not order_by and (after is None or cursor_kind == "row")
    after_row = cursor_value if cursor_kind == "row" else None
    if cursor_kind == "offset":
        offset = cursor_value
    elif cursor_kind == "row":
        offset = 0  # the keyset filter has skipped what came before
    schema = version.schema
    source = _source(settings, version, after_row=after_row)
    req = _request(select, where, group_by, order_by, limit, offset, refine, exclude, timezone)
    query = build_query(req, schema, source)
    count_query = build_count(_request(select, where, group_by, None, None, 0, refine, exclude, timezone),
                              schema, _source(settings, version))
    if keyset and not _is_aggregate(query):
        query = query.select(exp.column(ROW_ID, quoted=True)).order_by(exp.column(ROW_ID, quoted=True))
    known_geo = _geometry_fields(version) if select is None and group_by is None else None
    with budgeted(settings) as con:
        shaped, geo = geometry_as_geojson(query, con, known=known_geo)
        rows = fetch_dicts(con, shaped, geo)
        if after is None and len(rows) < limit and (rows or offset == 0):
            total_count = offset + len(rows)  # the page holds the end: no count query needed
        else:
            total = con.execute(count_query.sql(dialect="duckdb")).fetchone()
            total_count = int(total[0]) if total else 0
    last_row = None
    for row in rows:
        if ROW_ID in row:
            last_row = row.pop(ROW_ID)
    body: dict[str, Any] = {"total_count": total_count, "results": rows}
    consumed = offset + len(rows)
    if len(rows) == limit and limit > 0:
        token = (_encode_cursor("row", int(last_row)) if keyset and last_row is not None
                 else _encode_cursor("offset", consumed))
        if keyset or consumed < total_count:
            params = dict(request.query_params)
            params.pop("offset", None)
            params["after"] = token
            query_string = "&".join(f"{k}={_quote(v)}" for k, v in params.items())
            body["links"] = [{"rel": "next", "href": f"{request.url.path}?{query_string}"}]
    return _json(body, _cache_headers(version, request), request)


def _geometry_fields(version: Version) -> set[str]:
    return {name for name, kind in version.schema.items() if kind == "geometry"}


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _is_aggregate(query: exp.Select) -> bool:
    return bool(query.args.get("group")) or any(
        isinstance(node, exp.AggFunc) for e in query.expressions for node in e.walk())


@router.get("/catalog/datasets/{dataset_id}/records/{record_id}", summary="One record by its id")
def record(dataset_id: str, record_id: str, request: Request, session: SessionDep,
           settings: SettingsDep, viewer: ViewerDep, select: Select = None) -> Response:
    version = _version_of(session, viewer, dataset_id)
    if not record_id.isdigit():
        raise NotFound(f"no record {record_id!r} in dataset {dataset_id!r}")
    req = _request(select, None, None, None, 1, 0, None, None, "UTC")
    query = build_query(req, version.schema, _source(settings, version))
    query = query.where(exp.EQ(this=exp.column(ROW_ID, quoted=True),
                               expression=exp.Literal.number(int(record_id) - 1)))
    with budgeted(settings) as con:
        shaped, geo = geometry_as_geojson(query, con)
        rows = fetch_dicts(con, shaped, geo)
    if not rows:
        raise NotFound(f"no record {record_id!r} in dataset {dataset_id!r}")
    rows[0].pop(ROW_ID, None)
    return _json(rows[0], _cache_headers(version, request), request)


@router.get("/catalog/datasets/{dataset_id}/facets", summary="Facet values and counts")
def facets(dataset_id: str, request: Request, session: SessionDep, settings: SettingsDep,
           viewer: ViewerDep, facet: Annotated[list[str] | None, Query(
               description='a field name, or facet(name="f", sort="-count", limit=10)')] = None,
           where: Where = None, refine: Refine = None, exclude: Exclude = None,
           lang: str = "fr", timezone: str = "UTC") -> Response:
    version = _version_of(session, viewer, dataset_id)
    schema = version.schema
    specs = parse_facet_params(facet or [], schema)
    req = _request(None, where, None, None, None, 0, refine, exclude, timezone)
    out = []
    with budgeted(settings) as con:
        for spec in specs:
            query = build_facet(spec.name, req, schema, _source(settings, version),
                                sort=spec.sort, limit=spec.limit)
            values = con.execute(query.sql(dialect="duckdb")).fetchall()
            out.append({"name": spec.name, "facets": [
                {"name": _facet_label(v), "count": int(c), "state": "displayed", "value": _facet_label(v)}
                for v, c in values]})
    return _json({"facets": out}, _cache_headers(version, request), request)


def _facet_label(value: Any) -> str:
    return "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)


@router.get("/catalog/datasets/{dataset_id}/exports/{format}",
            summary="Export the records (csv, json, jsonl, geojson, parquet, xlsx), streamed")
def export(
    dataset_id: str, format: str, request: Request, session: SessionDep, settings: SettingsDep,
    viewer: ViewerDep,
    select: Select = None, where: Where = None, group_by: GroupBy = None, order_by: OrderBy = None,
    limit: Annotated[int, Query(description="-1: every record")] = -1,
    refine: Refine = None, exclude: Exclude = None, lang: str = "fr", timezone: str = "UTC",
    delimiter: Annotated[str, Query(description="csv only")] = ";",
    quote_all: Annotated[bool, Query(description="csv only")] = False,
    with_bom: Annotated[bool, Query(description="csv only")] = False,
) -> Response:
    check_format(format)
    version = _version_of(session, viewer, dataset_id)
    response = stream_export(settings, version, format, select=select, where=where, group_by=group_by,
                             order_by=order_by, limit=limit, refine=refine, exclude=exclude,
                             timezone=timezone, delimiter=delimiter, quote_all=quote_all,
                             with_bom=with_bom)
    public = publicly_readable(version)
    response.headers["Cache-Control"] = cache_control(public, max_age=60)
    if not public:  # who took a copy of data that is not open
        audit.record(session, viewer, "dataset.export", kind="dataset", object_id=version.dataset_id,
                     address=client_address(request), detail={"format": format, "version": version.number})
        session.commit()
    return response


def stream_export(settings: Settings, version: Version, fmt: str, *, select: str | None,
                  where: str | None, group_by: str | None, order_by: str | None, limit: int,
                  refine: list[str] | None, exclude: list[str] | None, timezone: str,
                  delimiter: str = ";", quote_all: bool = False, with_bom: bool = False) -> Response:
    """A streamed export of one version; errors in the query are raised before the first byte."""
    if limit < -1:
        raise QueryError(f"limit must be -1 (all) or positive (got {limit})", clause="limit")
    req = _request(select, where, group_by, order_by, None if limit == -1 else limit, 0, refine,
                   exclude, timezone)
    query = build_query(req, version.schema, _source(settings, version))
    batches, geo = budgeted_stream(settings, query, settings.export_batch_rows)
    write = writer_for(fmt, geo, delimiter=delimiter, quote_all=quote_all, with_bom=with_bom)
    media, ext = EXPORT_FORMATS[fmt]
    headers = {"Content-Disposition": f'attachment; filename="{version.dataset.slug}.{ext}"'}
    return StreamingResponse(write(batches), media_type=media, headers=headers)


native_router = APIRouter(prefix="/api", tags=["catalogue (native)"])


@native_router.get("/datasets/{dataset_id}/versions/{number}/records",
                   summary="Records of one version (mutuelle): same parameters as Explore /records; "
                           "answers of a numbered version are immutable (ETag, long Cache-Control)")
def version_records(
    dataset_id: str, number: str, request: Request, session: SessionDep, settings: SettingsDep,
    viewer: ViewerDep, select: Select = None, where: Where = None, group_by: GroupBy = None,
    order_by: OrderBy = None, limit: int = 10, offset: int = 0, refine: Refine = None,
    exclude: Exclude = None, timezone: str = "UTC", after: str | None = None,
) -> Response:
    version = _version_of(session, viewer, dataset_id, number)
    response = run_records(request, settings, version, select=select, where=where, group_by=group_by,
                           order_by=order_by, limit=limit, offset=offset, refine=refine,
                           exclude=exclude, timezone=timezone, after=after)
    if number != "latest" and response.status_code in (200, 304):
        response.headers["Cache-Control"] = cache_control(publicly_readable(version), immutable=True)
    return response
