"""The records of a dataset version as the Explore API serves them: how the version's file is
read (its columns, and points also served as Opendatasoft's ``geo_point_2d``), the normalised
parameters of a /records call, cursors past the 10,000-row wall, links, and the answer itself.

Below the HTTP layer so that every face can make an answer: the API for its routes, the import
(through the app's hook) for the first page of each new version, the benchmark for the SQL.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
from sqlglot import exp

from mutuelle.access.policy import publicly_readable
from mutuelle.catalog.models import Version
from mutuelle.core import clock
from mutuelle.core.cache import cached
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, QueryError
from mutuelle.query import answers
from mutuelle.query.odsql import QueryRequest, build_count, build_query, check_page
from mutuelle.query.run import budgeted, fetch_dicts, geometry_as_geojson
from mutuelle.store.versions import resolve

ROW_ID = "__mutuelle_row"
#: Opendatasoft's name of a point field, served as ``{"lon": x, "lat": y}``.
GEO_POINT = "geo_point_2d"
#: The languages of Opendatasoft's ``lang`` (French by default).
LANGS = ("en", "fr", "nl", "pt", "it", "ar", "de", "es", "ca", "eu", "sv")
#: The path of the Explore API (its links, and the key of the first page kept at import).
EXPLORE = "/api/explore/v2.1"


def check_lang(lang: str) -> str:
    """``lang`` if Opendatasoft knows it."""
    if lang not in LANGS:
        raise InvalidInput(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


# -- how a version's file is read -------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """A version's file as ODSQL sees it: its columns, and the point column also served as
    ``geo_point_2d`` (when the file has points and no column of that name)."""

    path: str
    schema: dict[str, str]
    lonlat: frozenset[str]
    point_of: str | None = None

    @property
    def geometries(self) -> set[str]:
        """The geometry columns (``geo_point_2d`` included)."""
        return {name for name, kind in self.schema.items() if kind == "geometry"}


@cached("query.point_columns", max_items=256)
def _point_columns(path: str, checksum: str) -> frozenset[str]:
    """Geometry columns holding points only, from the file's GeoParquet metadata."""
    metadata = pq.read_metadata(path).metadata or {}
    try:
        geo = json.loads(metadata.get(b"geo", b"{}"))
    except ValueError:
        return frozenset()
    columns = geo.get("columns", {}) if isinstance(geo, dict) else {}
    return frozenset(name for name, spec in columns.items()
                     if isinstance(spec, dict) and spec.get("geometry_types") in (["Point"], ["Point Z"]))


def layout(settings: Settings, version: Version) -> Layout:
    """How ``version`` is read (see ``Layout``)."""
    path = str(resolve(settings, version.parquet_path))
    schema = dict(version.schema)
    geometries = [n for n, kind in schema.items() if kind == "geometry"]
    points = _point_columns(path, version.checksum) if geometries else frozenset()
    if GEO_POINT in schema:
        return Layout(path, schema, frozenset({GEO_POINT}) & points)
    first = next((n for n in geometries if n in points), None)
    if first is None:
        return Layout(path, schema, frozenset())
    return Layout(path, {**schema, GEO_POINT: "geometry"}, frozenset({GEO_POINT}), first)


def source(settings: Settings, version: Version, after_row: int | None = None, *,
            read: Layout | None = None) -> exp.Expression:
    """The version's rows with their row number in the file (from 0): the keyset key.

    Record ids shown to clients are that number + 1; the key stays the raw column so that
    DuckDB keeps its cheap ordered scan."""
    read = read or layout(settings, version)
    scan = exp.func("read_parquet", exp.Literal.string(read.path),
                    exp.EQ(this=exp.var("file_row_number"), expression=exp.true()))
    columns: list[exp.Expr] = [
        exp.Star(**{"except": [exp.column("file_row_number")]}),
        exp.alias_(exp.column("file_row_number"), ROW_ID, quoted=True)]
    if read.point_of:
        columns.append(exp.alias_(exp.column(exp.to_identifier(read.point_of, quoted=True)),
                                  GEO_POINT, quoted=True))
    inner = exp.select(*columns).from_(scan)
    if after_row is not None:  # resume after the last row of the previous page
        inner = inner.where(exp.GT(this=exp.column("file_row_number"), expression=exp.Literal.number(after_row)))
    return inner.subquery("records")


def listed(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# -- cursors -----------------------------------------------------------------------------------

def _encode_cursor(kind: str, value: int, position: int | None = None) -> str:
    parts = [kind, value] if position is None else [kind, value, position]
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Cursor:
    """Where a ``next`` link resumes: after a row (keyset) or at an offset; ``position`` is
    how many rows came before (None in cursors made before it was recorded)."""

    kind: str
    value: int
    position: int | None


def _decode_cursor(token: str) -> Cursor:
    try:
        parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(parts, list) or len(parts) not in (2, 3):
            raise ValueError(token)
        kind, value = parts[0], parts[1]
        position = parts[2] if len(parts) == 3 else (value if kind == "offset" else None)
        if kind not in ("row", "offset") or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for v in (value, position if position is not None else 0)):
            raise ValueError(kind)
        return Cursor(kind, value, position)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidInput("invalid cursor in 'after': pass the value of a previous 'next' link") from exc


@dataclass(frozen=True)
class RecordsParams:
    """The parameters of one /records call, normalised (the answer's key)."""

    select: str | None = None
    where: tuple[str, ...] = ()
    group_by: str | None = None
    order_by: str | None = None
    limit: int = 10
    offset: int = 0
    refine: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    lang: str = "fr"
    timezone: str = "UTC"
    after: str | None = None
    include_links: bool = False
    include_app_metas: bool = False

    @classmethod
    def of(cls, *, select: str | None = None, where: list[str] | str | None = None,
           group_by: str | None = None, order_by: str | None = None, limit: int = 10,
           offset: int = 0, refine: list[str] | None = None, exclude: list[str] | None = None,
           lang: str = "fr", timezone: str = "UTC", after: str | None = None,
           include_links: bool = False, include_app_metas: bool = False) -> RecordsParams:
        """The parameters as a route receives them; blank clauses are dropped."""
        def text(value: str | None) -> str | None:
            return value if value and value.strip() else None
        return cls(text(select), tuple(w for w in listed(where) if w.strip()), text(group_by),
                   text(order_by), limit, offset, tuple(refine or ()), tuple(exclude or ()),
                   check_lang(lang), timezone or "UTC", after or None, include_links,
                   include_app_metas)

    def key(self) -> tuple[object, ...]:
        """Plain values naming these parameters: ANDed clauses in any order are the same query
        (``include_app_metas`` changes no record)."""
        return (self.select, tuple(sorted(self.where)), self.group_by, self.order_by, self.limit,
                self.offset, tuple(sorted(self.refine)), tuple(sorted(self.exclude)), self.lang,
                self.timezone, self.after, self.include_links)

    def items(self) -> list[tuple[str, str]]:
        """The query-string items that a ``next`` link repeats (not offset nor after)."""
        out: list[tuple[str, str]] = []
        for name in ("select", "group_by", "order_by"):
            value = getattr(self, name)
            if value is not None:
                out.append((name, value))
        out += [("where", w) for w in self.where]
        out += [("refine", r) for r in self.refine] + [("exclude", e) for e in self.exclude]
        out.append(("limit", str(self.limit)))
        if self.lang != "fr":
            out.append(("lang", self.lang))
        if self.timezone != "UTC":
            out.append(("timezone", self.timezone))
        if self.include_links:
            out.append(("include_links", "true"))
        return out

    @property
    def volatile(self) -> bool:
        """Whether the answer depends on the clock (``now()`` in a clause)."""
        return answers.uses_now(self.select, self.group_by, self.order_by, *self.where)


def access_class(version: Version) -> str:
    """``public`` when anyone may read ``version``, else ``members``: a key part that keeps
    answers checked for members apart from those checked for everyone."""
    return "public" if publicly_readable(version) else "members"


def _query_string(items: list[tuple[str, str]]) -> str:
    return urlencode(items, quote_via=quote, safe="")


@dataclass(frozen=True)
class Page:
    """Where an answer is served: its path (links repeat it) and the portal's public URL."""

    path: str
    base: str


@dataclass(frozen=True)
class RecordsPlan:
    """One /records call planned: the page's SELECT (before geometries are shaped), the count,
    and where the page stands."""

    read: Layout
    page: exp.Select
    count: exp.Select
    limit: int
    offset: int
    position: int | None    # rows before this page (None: an old cursor did not say)
    cursor: Cursor | None
    keyset: bool            # paged by row number: the next cursor resumes after the last row
    with_ids: bool          # the page carries the row numbers (keyset cursors, record links)

    @property
    def known_geometries(self) -> set[str] | None:
        """The geometry columns of ``page`` when they are the version's own (no DESCRIBE)."""
        own = self.page.meta.get("own_columns")
        return self.read.geometries if own else None


def plan_records(settings: Settings, version: Version, params: RecordsParams) -> RecordsPlan:
    """The SQL of a /records call, its limits checked as Opendatasoft checks them."""
    read = layout(settings, version)
    cursor = _decode_cursor(params.after) if params.after else None
    req = QueryRequest(select=params.select, where=list(params.where), group_by=params.group_by,
                       order_by=params.order_by, limit=params.limit, offset=params.offset,
                       refine=list(params.refine), exclude=list(params.exclude),
                       timezone=params.timezone, lang=params.lang, now=clock.now())
    try:
        limit = check_page(req, settings, past_wall=cursor is not None)
    except QueryError as exc:
        if exc.clause != "offset" or "exceed" not in exc.message:
            raise
        raise QueryError(exc.message.rsplit(" (clause", 1)[0] + "; follow the 'next' link "
                         "(after=) to page further", clause="offset", position=0) from exc
    keyset = not params.group_by and not params.order_by and (cursor is None or cursor.kind == "row")
    after_row = cursor.value if cursor and cursor.kind == "row" else None
    offset = params.offset
    if cursor is not None:
        offset = cursor.value if cursor.kind == "offset" else 0  # keyset: the filter skipped them
    position = cursor.position if cursor is not None else offset
    req = replace(req, limit=limit, offset=offset)
    query = build_query(req, read.schema, source(settings, version, after_row=after_row, read=read))
    aggregated = bool(query.meta.get("aggregated"))
    count = build_count(replace(req, order_by=None, limit=None, offset=0), read.schema,
                        source(settings, version, read=read))
    with_ids = not aggregated and (keyset or params.include_links)
    if with_ids:
        query = query.select(exp.column(ROW_ID, quoted=True))
        if keyset:
            query = query.order_by(exp.column(ROW_ID, quoted=True))
    query.meta["own_columns"] = params.select is None and params.group_by is None
    return RecordsPlan(read, query, count, limit, offset, position, cursor, keyset, with_ids)


def records_sql(settings: Settings, version: Version, params: RecordsParams,
                con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The DuckDB SQL of the page and of its count, as ``records_answer`` runs them (the count
    only when the page does not show where the records end)."""
    plan = plan_records(settings, version, params)
    shaped, _ = geometry_as_geojson(plan.page, con, known=plan.known_geometries,
                                    lonlat=plan.read.lonlat)
    return shaped.sql(dialect="duckdb"), plan.count.sql(dialect="duckdb")


def page_query(page: Page, params: RecordsParams) -> tuple[object, ...]:
    """What names a /records answer besides its version: where it is served (its links repeat
    the path) and its parameters."""
    return (page.path, page.base, *params.key())


def records_answer(settings: Settings, version: Version, params: RecordsParams,
                   page: Page) -> dict[str, Any]:
    """The /records answer for one version (``total_count``, ``results``, ``links``)."""
    plan = plan_records(settings, version, params)
    limit, offset = plan.limit, plan.offset
    with budgeted(settings) as con:
        shaped, geo = geometry_as_geojson(plan.page, con, known=plan.known_geometries,
                                          lonlat=plan.read.lonlat)
        rows = fetch_dicts(con, shaped, geo, tz=ZoneInfo(params.timezone))
        if plan.cursor is None and len(rows) < limit and (rows or offset == 0):
            total_count = offset + len(rows)  # the page holds the end: no count query needed
        else:
            total = con.execute(plan.count.sql(dialect="duckdb")).fetchone()
            total_count = int(total[0]) if total else 0
    row_ids = [row.pop(ROW_ID) for row in rows] if plan.with_ids else []
    body: dict[str, Any] = {"total_count": total_count, "results": rows}
    seen = None if plan.position is None else plan.position + len(rows)
    more = len(rows) == limit and limit > 0 and (seen is None or seen < total_count)
    if more:
        token = (_encode_cursor("row", int(row_ids[-1]), seen) if plan.keyset
                 else _encode_cursor("offset", offset + len(rows), seen))
        href = f"{page.path}?{_query_string([*params.items(), ('after', token)])}"
        body["links"] = [{"rel": "next", "href": href}]
    if params.include_links:
        _add_links(body, version, params, page, row_ids, limit, total_count, settings)
    return body


def _add_links(body: dict[str, Any], version: Version, params: RecordsParams, page: Page,
               row_ids: list[int], limit: int, total_count: int, settings: Settings) -> None:
    """Opendatasoft's HATEOAS links: the page's self, first and next (by offset, within the
    wall), each record's self and dataset."""
    here = f"{page.base}{page.path}"
    items = params.items()
    links = [{"rel": "self", "href": f"{here}?{_query_string([*items, ('offset', str(params.offset))])}"},
             {"rel": "first", "href": f"{here}?{_query_string([*items, ('offset', '0')])}"}]
    wall = settings.query_max_group_rows if params.group_by else settings.query_max_rows
    following = params.offset + limit
    if params.after is None and limit and following < total_count and following + limit <= wall:
        links.append({"rel": "next", "href": f"{here}?{_query_string([*items, ('offset', str(following))])}"})
    body["_links"] = links
    dataset = f"{page.base}{EXPLORE}/catalog/datasets/{quote(version.dataset.slug, safe='')}"
    for row, row_id in zip(body["results"], row_ids, strict=True):
        row["_links"] = [{"rel": "self", "href": f"{dataset}/records/{int(row_id) + 1}"},
                         {"rel": "dataset", "href": dataset}]


def dumps(body: Any) -> bytes:
    """A JSON answer's bytes (UTF-8, compact; NaN refused)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def first_page(settings: Settings, version: Version) -> None:
    """Keep the first page of ``version`` (the dataset preview, the most common request) in the
    store, so that every worker answers it from memory from the start (called on import)."""
    params = RecordsParams()
    page = Page(f"{EXPLORE}/catalog/datasets/{version.dataset.slug}/records", "")
    key = answers.answer_key(version.checksum, access_class(version), "records",
                             page_query(page, params))
    started = time.perf_counter()
    body = dumps(records_answer(settings, version, params, page))
    answers.remember(settings, key, body, spent_ms=(time.perf_counter() - started) * 1000,
                     share=True)
