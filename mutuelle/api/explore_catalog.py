"""Explore API v2.1 catalogue endpoints: ODSQL over the metadata of the datasets one may see.

The datasets one may see, a search (``q=``, or a ``search()`` or bare string of ``where``:
ranked, French stems; see ``catalog.search``) and refines on list fields (theme, keyword,
territory, format) are chosen by the catalogue's own index; the rest of ``where``,
``refine`` and ``exclude`` then narrows that choice as ODSQL, and ``select``, ``group_by``,
``order_by`` and facets run as ODSQL over it, all in DuckDB over the process's copy of the
catalogue entries. Exports stream from it in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlglot import exp

from mutuelle.access.policy import readable_dataset, visible_datasets
from mutuelle.api.explore import Exclude, GroupBy, OrderBy, Refine, Select, Where, _request
from mutuelle.api.facets import FacetSpec, parse_facet
from mutuelle.api.openapi import file_answers
from mutuelle.catalog import repository as repo
from mutuelle.catalog.dcat import write_turtle
from mutuelle.catalog.models import Dataset
from mutuelle.catalog.search import Selection, selection
from mutuelle.core import clock
from mutuelle.core.errors import InvalidInput, NotFound, QueryError
from mutuelle.query.exports import EXPORT_FORMATS, writer_for
from mutuelle.query.odsql import (
    QueryRequest,
    ast,
    build_count,
    build_facet,
    build_query,
    compile_filters,
    parse_where,
)
from mutuelle.query.odsql.plan import where_clause_name
from mutuelle.query.odsql.compile import Compiler
from mutuelle.query.run import to_json_value
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep

router = APIRouter(prefix="/api/explore/v2.1", tags=["Explore API v2.1 (Opendatasoft compatible)"])

#: The catalogue as a table: the fields ODSQL may name in /catalog/* calls (the columns of
#: ``catalog.search.ODS_VIEW``).
CATALOG_SCHEMA = {
    "dataset_id": "text", "dataset_uid": "text", "title": "text", "description": "text",
    "theme": "text", "keyword": "text", "license": "text", "publisher": "text",
    "organisation": "text", "modified": "datetime", "published": "datetime",
    "records_count": "integer", "frequency": "text", "spatial_coverage": "text",
    "territory": "text", "format": "text", "schema": "text", "popularity": "integer",
    "access": "text", "status": "text",
}
#: Fields holding lists: ``refine`` and facets take each value (the catalogue's facet names).
LIST_FIELDS = {"theme": "theme", "keyword": "keyword", "spatial_coverage": "territory",
               "territory": "territory", "format": "format"}
#: Facets counted by the catalogue's index, by Explore name; any other text field is counted
#: by ODSQL.
INDEX_FACETS = {**LIST_FIELDS, "organisation": "organisation", "license": "licence",
                "access": "access", "schema": "schema"}
#: The lists behind ``LIST_FIELDS`` in the catalogue's table.
_LIST_COLUMNS = {"theme": "themes", "keyword": "keywords", "territory": "territories",
                 "format": "formats"}
DEFAULT_FACETS = ["theme", "keyword", "publisher", "license", "territory", "format", "access",
                  "schema", "modified"]
#: The formats of the catalogue export (``dcat``: DCAT-AP in Turtle).
CATALOG_EXPORTS = {**{k: EXPORT_FORMATS[k] for k in ("csv", "json", "jsonl", "parquet", "xlsx")},
                   "dcat": ("text/turtle; charset=utf-8", "ttl")}
#: The selected datasets with the ODS field names (and the search score), as ODSQL's source.
SOURCE = exp.select("v.*", "s.score AS __score", "s.exact AS __exact").from_(
    "catalog_datasets AS v").join("selected AS s", on="s.id = v.id").subquery("catalog")
_RANKED = [exp.Ordered(this=exp.column("__exact"), desc=True),
           exp.Ordered(this=exp.column("__score"), desc=True)]

#: Rows per batch of a catalogue export: small, so that memory stays flat whatever the
#: catalogue's size (a row holds a whole description).
EXPORT_BATCH_ROWS = 2000

Q = Annotated[str | None, Query(max_length=500, description="full-text search of the catalogue "
                                "(ranked; same as a search() in where)")]


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
            "keyword": d.keywords or None, "license": d.licence,
            "publisher": d.producer or d.organisation.name,
            "modified": (latest.created_at if latest else d.updated_at).isoformat(),
            "records_count": latest.row_count if latest else 0, "language": "fr",
            "territory": d.spatial_coverage or None, "update_frequency": d.frequency,
            "version": latest.number if latest else None,
        }},
    }


# -- the request, split between the catalogue's index and ODSQL ---------------------------------

class Ask:
    """One catalogue request: the search text, the refines the index applies, and the ODSQL
    request that narrows and shapes the rest."""

    def __init__(self, q: str | None, where: list[str] | None, refine: list[str] | None,
                 exclude: list[str] | None, timezone: str) -> None:
        self.text = (q or "").strip()
        #: The where clauses (several are ANDed), a search taken out of one of them.
        self.where_nodes: list[ast.Node] = []
        texts = [w for w in where or [] if w.strip()]
        for index, clause in enumerate(texts):
            node: ast.Node | None = parse_where(clause, where_clause_name(index, len(texts)))
            if not self.text and node is not None:
                found, node = _split_search(node)
                self.text = (found or "").strip()
            if node is not None:
                self.where_nodes.append(node)
        self.filters: dict[str, list[str]] = {}
        self.excluded: list[exp.Expr] = []
        self.refine: list[str] = []
        self.exclude: list[str] = []
        for values, kept, negate in ((refine, self.refine, False), (exclude, self.exclude, True)):
            for item in values or []:
                name, sep, value = item.partition(":")
                if sep and name in LIST_FIELDS:
                    if negate:
                        self.excluded.append(_lacks(LIST_FIELDS[name], value))
                    else:
                        self.filters.setdefault(LIST_FIELDS[name], []).append(value)
                else:
                    kept.append(item)
        self.timezone = timezone

    def request(self, **parts: Any) -> QueryRequest:
        """The ODSQL request of the rest (where without its search, other refines)."""
        return _request(parts.get("select"), None, parts.get("group_by"), parts.get("order_by"),
                        parts.get("limit"), parts.get("offset", 0), self.refine, self.exclude,
                        self.timezone)

    def narrowing(self) -> exp.Expr | None:
        """The ODSQL conditions left, over the catalogue's fields (None: none)."""
        parts: list[exp.Expr] = list(self.excluded)
        filters = compile_filters(self.request(), CATALOG_SCHEMA)
        if filters is not None:
            parts.append(filters)
        compiler = _compiler(self.timezone)
        parts += [compiler.condition(node) for node in self.where_nodes]
        return exp.and_(*parts) if parts else None


def _compiler(timezone: str) -> Compiler:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise QueryError(f"unknown time zone {timezone!r}", clause="timezone") from exc
    return Compiler(CATALOG_SCHEMA, clause="where", tz=zone, tz_name=timezone, now=clock.now())


def _is_search(node: ast.Node) -> str | None:
    """The text of ``search("...")``/``search(*, "...")`` or of a bare string, else None."""
    if isinstance(node, ast.String):
        return node.value
    if isinstance(node, ast.Call) and node.name == "search" and node.args \
            and isinstance(node.args[-1], ast.String) \
            and all(isinstance(a, ast.Star) for a in node.args[:-1]) and len(node.args) <= 2:
        return node.args[-1].value
    return None


def _split_search(node: ast.Node) -> tuple[str | None, ast.Node | None]:
    """A search over every field at the top of ``where`` (alone, or one operand of an
    ``and``), and what remains of ``where`` without it."""
    text = _is_search(node)
    if text is not None:
        return text, None
    if isinstance(node, ast.BoolOp) and node.op == "and":
        for i, operand in enumerate(node.operands):
            text = _is_search(operand)
            if text is not None:
                rest = node.operands[:i] + node.operands[i + 1:]
                return text, rest[0] if len(rest) == 1 else ast.BoolOp("and", rest, node.pos)
    return None, node


def _lacks(facet: str, value: str) -> exp.Expr:
    column = _LIST_COLUMNS[facet]
    return exp.Not(this=exp.func("coalesce", exp.Anonymous(
        this="list_contains", expressions=[exp.column(column), exp.Literal.string(value)]),
        exp.false()))


def _open(stack: ExitStack, session: Any, settings: Any, viewer: Any, ask: Ask, *,
          budget: bool = True) -> Selection:
    """The selection of a request on the copy of the catalogue, narrowed by its ODSQL."""
    chosen = stack.enter_context(selection(
        session, visible=visible_datasets(viewer), text=ask.text, filters=ask.filters,
        timeout_ms=settings.query_timeout_ms if budget else None))
    narrowing = ask.narrowing()
    if narrowing is not None:
        keep = exp.select("id").from_("catalog_datasets").where(narrowing)
        chosen.cursor.execute(f"DELETE FROM selected WHERE id NOT IN ({keep.sql(dialect='duckdb')})")
    return chosen


def _rows(cursor: Any, query: exp.Select) -> list[dict[str, Any]]:
    table = cursor.execute(query.sql(dialect="duckdb")).fetch_arrow_table()
    return [{n: to_json_value(v) for n, v in row.items()} for row in table.to_pylist()]


def _ranked(query: exp.Select, ask: Ask, order_by: str | None) -> exp.Select:
    """Search results come by relevance unless an order was asked."""
    if ask.text and not order_by and not query.meta.get("aggregated"):
        return query.order_by(*(o.copy() for o in _RANKED), append=False)
    return query


# -- routes ------------------------------------------------------------------------------------

@router.get("/catalog/datasets", summary="Query the catalogue of datasets")
def catalog_datasets(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    select: Select = None, where: Where = None, group_by: GroupBy = None, order_by: OrderBy = None,
    limit: Annotated[int, Query(description="≤ 100")] = 10, offset: int = 0,
    refine: Refine = None, exclude: Exclude = None, lang: str = "fr", timezone: str = "UTC",
    q: Q = None,
) -> Response:
    if not 0 <= limit <= 100:
        raise QueryError(f"limit must be between 0 and 100 (got {limit})", clause="limit")
    if offset < 0:
        raise QueryError(f"offset must not be negative (got {offset})", clause="offset")
    if offset + limit > settings.query_max_rows:   # as on Opendatasoft (and DuckDB's BIGINT)
        raise QueryError(f"offset + limit must not exceed {settings.query_max_rows} "
                         f"(got {offset + limit})", clause="offset")
    ask = Ask(q, where, refine, exclude, timezone)
    flat = bool(select or group_by)
    with ExitStack() as stack:
        chosen = _open(stack, session, settings, viewer, ask)
        if not flat and not order_by:
            total = chosen.total()
            ids = [item.id for item in chosen.page(None, limit, offset)]
            results: list[Any] = ids
        else:
            req = ask.request(select=select if flat else "dataset_uid", group_by=group_by,
                              order_by=order_by, limit=limit, offset=offset)
            query = _ranked(build_query(req, CATALOG_SCHEMA, SOURCE), ask, order_by)
            count = build_count(ask.request(select=select if flat else "dataset_uid",
                                            group_by=group_by), CATALOG_SCHEMA, SOURCE)
            results = _rows(chosen.cursor, query)
            row = chosen.cursor.execute(count.sql(dialect="duckdb")).fetchone()
            total = int(row[0]) if row else 0
            if not flat:
                results = [r["dataset_uid"] for r in results]
    if not flat:
        results = [dataset_ods(d) for d in repo.datasets_by_ids(session, results, with_fields=True)]
    return JSONResponse({"total_count": total, "results": results})


@router.get("/catalog/datasets/{dataset_id}", summary="One dataset's metadata")
def catalog_dataset(dataset_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    return JSONResponse(dataset_ods(readable_dataset(session, viewer, dataset_id)))


def _facet_spec(text: str) -> FacetSpec:
    """One ``facet`` parameter; an unknown name is a QueryError (400) naming it."""
    return parse_facet(text, {**CATALOG_SCHEMA, **dict.fromkeys(INDEX_FACETS, "text")})


@router.get("/catalog/facets", summary="Facets of the catalogue (theme, keyword, publisher, "
                                        "territory, format, access, schema, modified...)")
def catalog_facets(session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                   facet: Annotated[list[str] | None, Query()] = None, where: Where = None,
                   refine: Refine = None, exclude: Exclude = None, timezone: str = "UTC",
                   q: Q = None) -> Response:
    specs = [_facet_spec(f) for f in facet or DEFAULT_FACETS]
    ask = Ask(q, where, refine, exclude, timezone)
    out = []
    with ExitStack() as stack:
        chosen = _open(stack, session, settings, viewer, ask)
        for spec in specs:
            out.append({"name": spec.name, "facets": _facet_values(chosen, ask, spec)})
    return JSONResponse({"facets": out})


def _facet_values(chosen: Selection, ask: Ask, spec: FacetSpec) -> list[dict[str, Any]]:
    if spec.name in INDEX_FACETS and spec.sort == "-count":
        name = INDEX_FACETS[spec.name]
        values = chosen.facets([name], spec.limit, ask.filters)[name]
        return [{"name": v.label, "count": v.count, "state": "refined" if v.selected else "displayed",
                 "value": v.value} for v in values]
    if spec.name not in CATALOG_SCHEMA:
        raise QueryError(f"facet {spec.name!r} is sorted by -count only", clause="facet")
    query = build_facet(spec.name, ask.request(), CATALOG_SCHEMA, SOURCE, sort=spec.sort,
                        limit=spec.limit)
    return [{"name": str(v), "count": int(c), "state": "displayed", "value": str(v)}
            for v, c in chosen.cursor.execute(query.sql(dialect="duckdb")).fetchall()
            if v not in (None, "")]


@router.get("/catalog/exports/{format}",
            summary="Export the catalogue (csv, json, jsonl, parquet, xlsx, dcat), streamed",
            response_class=Response,
            responses=file_answers((media for media, _ in CATALOG_EXPORTS.values()),
                                   "the catalogue in the format asked"))
def catalog_export(format: str, request: Request, session: SessionDep, settings: SettingsDep,
                   viewer: ViewerDep, select: Select = None, where: Where = None,
                   order_by: OrderBy = None, limit: int = -1, refine: Refine = None,
                   exclude: Exclude = None, delimiter: str = ";", q: Q = None,
                   timezone: str = "UTC") -> Response:
    if format not in CATALOG_EXPORTS:
        raise NotFound(f"unknown catalogue export format {format!r}: one of {', '.join(CATALOG_EXPORTS)}")
    if not -1 <= limit < 2**63:   # a row count DuckDB can take (BIGINT)
        raise QueryError(f"limit must be -1 (all) or positive (got {limit})", clause="limit")
    ask = Ask(q, where, refine, exclude, timezone)
    dcat = format == "dcat"
    if dcat and select:
        raise InvalidInput("the dcat export has its own fields: it takes no select")
    req = ask.request(select=select, order_by=order_by, limit=None if limit == -1 else limit)
    stack = ExitStack()
    try:   # everything that can fail does so before the first byte
        chosen = _open(stack, session, settings, viewer, ask, budget=False)
        query = _ranked(build_query(req, CATALOG_SCHEMA, SOURCE), ask, order_by)
        if dcat:   # the lists, as lists; who publishes and who produced, apart
            query = query.select(*(exp.column(c) for c in (
                "themes", "keywords", "territories", "organisation_name", "producer")))
        reader = chosen.cursor.execute(query.sql(dialect="duckdb")).fetch_record_batch(
            min(settings.export_batch_rows, EXPORT_BATCH_ROWS))
    except BaseException:
        stack.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        with stack:
            yield from reader

    media, ext = CATALOG_EXPORTS[format]
    if dcat:
        base = settings.base_url.rstrip("/") or str(request.base_url).rstrip("/")
        body: Iterator[bytes] = write_turtle((b.to_pylist() for b in batches()), base)
    else:
        body = writer_for(format, set(), delimiter=delimiter)(batches())
    return StreamingResponse(body, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="catalog.{ext}"'})

