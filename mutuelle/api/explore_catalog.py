"""Explore API v2.1 catalogue endpoints: ODSQL over the metadata of the datasets one may see."""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from sqlglot import exp

from mutuelle.access.policy import Viewer, readable_dataset, visible_datasets
from mutuelle.api.explore import Exclude, GroupBy, OrderBy, Refine, Select, Where, _request
from mutuelle.api.facets import parse_facet_params
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset
from mutuelle.core.errors import NotFound, QueryError
from mutuelle.query.exports import EXPORT_FORMATS, writer_for
from mutuelle.query.odsql import build_count, build_facet, build_query
from mutuelle.query.run import budgeted, fetch_batches, fetch_dicts
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep

router = APIRouter(prefix="/api/explore/v2.1", tags=["Explore API v2.1 (Opendatasoft compatible)"])

#: The catalogue as a table: the fields ODSQL may name in /catalog/* calls.
CATALOG_SCHEMA = {
    "dataset_id": "text", "dataset_uid": "text", "title": "text", "description": "text",
    "theme": "text", "keyword": "text", "license": "text", "publisher": "text",
    "modified": "datetime", "records_count": "integer", "frequency": "text",
    "spatial_coverage": "text", "access": "text", "status": "text",
}
CATALOG_TABLE = "catalog_datasets"


def _ods_type(kind: str) -> str:
    return {"integer": "int", "decimal": "double", "geometry": "geo_shape"}.get(kind, kind)


def dataset_ods(d: Dataset) -> dict[str, Any]:
    """A dataset as Opendatasoft's catalogue shows it."""
    latest = repo.latest_version(d)
    fields = latest.fields if latest else []
    return {
        "dataset_id": d.slug, "dataset_uid": d.id, "has_records": bool(latest and latest.row_count),
        "data_visible": True, "features": ["analyze"] + (["geo"] if any(f.type == "geometry" for f in fields) else []),
        "attachments": [], "alternative_exports": [],
        "fields": [{"name": f.name, "label": f.label or f.name, "type": _ods_type(f.type),
                    "description": f.description or None, "annotations": {"concept": f.concept} if f.concept else {}}
                   for f in fields],
        "metas": {"default": {
            "title": d.title, "description": d.description, "theme": d.themes or None,
            "keyword": d.keywords or None, "license": d.licence, "publisher": d.organisation.name,
            "modified": (latest.created_at if latest else d.updated_at).isoformat(),
            "records_count": latest.row_count if latest else 0, "language": "fr",
            "territory": d.spatial_coverage or None, "update_frequency": d.frequency,
            "version": latest.number if latest else None,
        }},
    }


def _catalog_table(rows: list[Dataset]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in CATALOG_SCHEMA}
    for d in rows:
        latest = repo.latest_version(d)
        columns["dataset_id"].append(d.slug)
        columns["dataset_uid"].append(d.id)
        columns["title"].append(d.title)
        columns["description"].append(d.description)
        columns["theme"].append(", ".join(d.themes or []))
        columns["keyword"].append(", ".join(d.keywords or []))
        columns["license"].append(d.licence)
        columns["publisher"].append(d.organisation.name)
        columns["modified"].append(latest.created_at if latest else d.updated_at)
        columns["records_count"].append(latest.row_count if latest else 0)
        columns["frequency"].append(d.frequency)
        columns["spatial_coverage"].append(", ".join(d.spatial_coverage or []))
        columns["access"].append(d.access)
        columns["status"].append(d.status)
    types = {"modified": pa.timestamp("us", tz="UTC"), "records_count": pa.int64()}
    return pa.table({n: pa.array(v, type=types.get(n, pa.string())) for n, v in columns.items()})


def _visible(session: Session, viewer: Viewer) -> list[Dataset]:
    _, rows = repo.list_datasets(session, visible=visible_datasets(viewer), limit=1_000_000)
    return list(rows)


@router.get("/catalog/datasets", summary="Query the catalogue of datasets")
def catalog_datasets(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    select: Select = None, where: Where = None, group_by: GroupBy = None, order_by: OrderBy = None,
    limit: Annotated[int, Query(description="≤ 100")] = 10, offset: int = 0,
    refine: Refine = None, exclude: Exclude = None, lang: str = "fr", timezone: str = "UTC",
) -> Response:
    if not 0 <= limit <= 100:
        raise QueryError(f"limit must be between 0 and 100 (got {limit})", clause="limit")
    if offset < 0:
        raise QueryError(f"offset must not be negative (got {offset})", clause="offset")
    datasets = _visible(session, viewer)
    by_slug = {d.slug: d for d in datasets}
    source = exp.to_table(CATALOG_TABLE)
    flat = bool(select or group_by)
    req = _request(select if flat else "dataset_id", where, group_by, order_by or (None if flat else "title"),
                   limit, offset, refine, exclude, timezone)
    query = build_query(req, CATALOG_SCHEMA, source)
    count = build_count(_request(select if flat else "dataset_id", where, group_by, None, None, 0,
                                 refine, exclude, timezone), CATALOG_SCHEMA, source)
    with budgeted(settings) as con:
        con.register(CATALOG_TABLE, _catalog_table(datasets))
        rows = fetch_dicts(con, query, set())
        total = con.execute(count.sql(dialect="duckdb")).fetchone()
    results = rows if flat else [dataset_ods(by_slug[r["dataset_id"]]) for r in rows]
    return JSONResponse({"total_count": int(total[0]) if total else 0, "results": results})


@router.get("/catalog/datasets/{dataset_id}", summary="One dataset's metadata")
def catalog_dataset(dataset_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    return JSONResponse(dataset_ods(readable_dataset(session, viewer, dataset_id)))


@router.get("/catalog/facets", summary="Facets of the catalogue (theme, keyword, publisher...)")
def catalog_facets(session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                   facet: Annotated[list[str] | None, Query()] = None, where: Where = None,
                   refine: Refine = None, exclude: Exclude = None) -> Response:
    specs = parse_facet_params(facet or ["theme", "keyword", "publisher", "license", "frequency"],
                               CATALOG_SCHEMA)
    req = _request(None, where, None, None, None, 0, refine, exclude, "UTC")
    out = []
    with budgeted(settings) as con:
        con.register(CATALOG_TABLE, _catalog_table(_visible(session, viewer)))
        for spec in specs:
            query = build_facet(spec.name, req, CATALOG_SCHEMA, exp.to_table(CATALOG_TABLE),
                                sort=spec.sort, limit=spec.limit)
            values = con.execute(query.sql(dialect="duckdb")).fetchall()
            out.append({"name": spec.name, "facets": [
                {"name": str(v), "count": int(c), "state": "displayed", "value": str(v)}
                for v, c in values if v not in (None, "")]})
    return JSONResponse({"facets": out})


@router.get("/catalog/exports/{format}", summary="Export the catalogue (csv or json)")
def catalog_export(format: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                   select: Select = None, where: Where = None, order_by: OrderBy = None,
                   limit: int = -1, refine: Refine = None, exclude: Exclude = None,
                   delimiter: str = ";") -> Response:
    if format not in ("csv", "json"):
        raise NotFound(f"unknown catalogue export format {format!r}: csv or json")
    req = _request(select, where, None, order_by, None if limit == -1 else limit, 0, refine, exclude, "UTC")
    query = build_query(req, CATALOG_SCHEMA, exp.to_table(CATALOG_TABLE))
    with budgeted(settings) as con:
        con.register(CATALOG_TABLE, _catalog_table(_visible(session, viewer)))
        batches = list(fetch_batches(con, query, 10_000))  # the catalogue is small
    write = writer_for(format, set(), delimiter=delimiter)
    media, ext = EXPORT_FORMATS[format]
    return StreamingResponse(write(iter(batches)), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="catalog.{ext}"'})
