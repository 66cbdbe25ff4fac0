"""The table of a dataset page: what the address asks for (columns, order, filters per column,
page), said as ODSQL for the query layer and for the Explore API calls and exports that repeat
it, and one page of rows read through the query layer at any depth.

Special parameters are visibly special, as in Datasette: ``_col`` (repeated: the columns shown),
``_sort`` / ``_sort_desc``, ``_page``, ``_size``; a filter is ``<column>__<op>`` with the ops
``contains`` (text), ``in`` (repeated: exact values), ``gte`` and ``lte`` (numbers and dates).
What does not fit (an unknown column, a number that is not one, a page past the end) is a
``TableProblem`` whose message is in the page's language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlglot
from sqlglot import exp

from mutuelle.catalog.models import Version
from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput
from mutuelle.query.odsql import QueryRequest, build_count, build_facet, build_query
from mutuelle.query.records import ROW_ID, layout, source
from mutuelle.query.run import budgeted

#: Rows per page offered (the default is the ``preview_rows`` setting).
PAGE_SIZES = (20, 50, 100)
#: Exact values offered as a column's checkboxes when it holds at most this many.
VALUES_OFFERED = 20
#: Columns whose values are offered, per version (one GROUP BY each, kept per process).
VALUES_CACHE_ITEMS = 512
#: Filter operators, and the column types each applies to.
OPS: dict[str, frozenset[str]] = {
    "contains": frozenset({"text"}),
    "in": frozenset({"text", "boolean"}),
    "gte": frozenset({"integer", "decimal", "date", "datetime"}),
    "lte": frozenset({"integer", "decimal", "date", "datetime"}),
}
NUMERIC = frozenset({"integer", "decimal"})
TEMPORAL = frozenset({"date", "datetime"})
#: Parameters of the table (the others of the page, such as ``tab`` or ``lang``, are not).
SPECIAL = ("_col", "_sort", "_sort_desc", "_page", "_size")

Gettext = Callable[..., str]


class TableProblem(InvalidInput):
    """A table parameter the page refuses; the message is in the page's language."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status_code = status


@dataclass(frozen=True)
class Filter:
    """One condition on one column, as typed in the form (``value`` checked for its type)."""

    column: str
    op: str
    value: str


@dataclass(frozen=True)
class TableView:
    """What the table shows: columns, order, filters and page."""

    columns: tuple[str, ...]
    all_columns: tuple[str, ...]
    sort: str | None = None
    desc: bool = False
    filters: tuple[Filter, ...] = ()
    page: int = 1
    size: int = 20
    default_size: int = 20

    @property
    def chosen_columns(self) -> bool:
        """Whether some columns are hidden."""
        return self.columns != self.all_columns

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query-string items of this view (defaults left out), ``changes`` applied."""
        view = replace(self, **changes) if changes else self
        items: list[tuple[str, str]] = []
        if view.chosen_columns:
            items += [("_col", c) for c in view.columns]
        if view.sort:
            items.append(("_sort_desc" if view.desc else "_sort", view.sort))
        items += [(f"{f.column}__{f.op}", f.value) for f in view.filters]
        if view.size != view.default_size:
            items.append(("_size", str(view.size)))
        if view.page != 1:
            items.append(("_page", str(view.page)))
        return items

    def query(self, **changes: Any) -> str:
        """``params`` as a query string (without ``?``)."""
        return urlencode(self.params(**changes))

    def sorted_by(self, column: str) -> str:
        """The query string that sorts by ``column`` (ascending, or descending when it is the
        ascending order already), back to page 1."""
        desc = self.sort == column and not self.desc
        return self.query(sort=column, desc=desc, page=1)

    def filtered(self, column: str, op: str) -> list[str]:
        """The values of one column's filter."""
        return [f.value for f in self.filters if f.column == column and f.op == op]

    def without(self, flt: Filter) -> str:
        """The query string without one filter, back to page 1."""
        return self.query(filters=tuple(f for f in self.filters if f != flt), page=1)


# --- reading the address --------------------------------------------------------------------

def _int_param(_: Gettext, name: str, text: str, low: int) -> int:
    if not text.strip().isdigit() or int(text) < low:
        raise TableProblem(_("Le paramètre %(name)s attend un nombre entier à partir de %(low)s, "
                             "pas « %(value)s ».", name=name, low=low, value=text[:50]))
    return int(text)


def _known(_: Gettext, schema: Mapping[str, str], name: str) -> str:
    if name not in schema:
        names = ", ".join(schema)[:500]
        raise TableProblem(_("Colonne inconnue : « %(name)s ». Les colonnes sont : %(names)s.",
                             name=name[:100], names=names))
    return name


def read_view(params: Sequence[tuple[str, str]], schema: Mapping[str, str], _: Gettext, *,
              labels: Mapping[str, str], default_size: int) -> TableView:
    """The table view asked for by ``params`` (the query string's items), each value checked
    against the version's ``schema``; a ``TableProblem`` says what does not fit."""
    names = tuple(schema)
    view = TableView(columns=names, all_columns=names, size=default_size, default_size=default_size)
    chosen: list[str] = []
    filters: list[Filter] = []
    for key, value in params:
        if key == "_col":
            chosen.append(_known(_, schema, value))
        elif key in ("_sort", "_sort_desc"):
            column = _known(_, schema, value)
            if schema[column] == "geometry":
                raise TableProblem(_("On ne peut pas trier sur une géométrie (« %(name)s »).",
                                     name=labels.get(column) or column))
            view = replace(view, sort=column, desc=key == "_sort_desc")
        elif key == "_page":
            view = replace(view, page=_int_param(_, key, value, 1))
        elif key == "_size":
            size = _int_param(_, key, value, 1)
            if size not in PAGE_SIZES:
                sizes = ", ".join(map(str, PAGE_SIZES))
                raise TableProblem(_("Le paramètre _size vaut %(sizes)s, pas « %(value)s ».",
                                     sizes=sizes, value=value[:50]))
            view = replace(view, size=size)
        elif "__" in key:
            column, _sep, op = key.rpartition("__")
            if op not in OPS:
                raise TableProblem(_("Filtre inconnu : « %(op)s » (contains, in, gte ou lte).",
                                     op=op[:50]))
            _known(_, schema, column)
            if not value.strip():
                continue  # an empty field of the form: no filter
            filters.append(_checked_filter(_, Filter(column, op, value.strip()), schema[column],
                                           labels.get(column) or column))
    if chosen:
        view = replace(view, columns=tuple(dict.fromkeys(chosen)))
    return replace(view, filters=tuple(dict.fromkeys(filters)))


def _checked_filter(_: Gettext, flt: Filter, kind: str, label: str) -> Filter:
    if kind not in OPS[flt.op]:
        raise TableProblem(_("Le filtre « %(op)s » ne s’applique pas à la colonne « %(name)s ».",
                             op=flt.op, name=label))
    if kind in NUMERIC:
        parse_number(_, flt.value, label)
    elif kind in TEMPORAL:
        parse_date(_, flt.value, label)
    elif kind == "boolean" and flt.value not in ("true", "false"):
        raise TableProblem(_("La colonne « %(name)s » vaut oui ou non (true, false), pas "
                             "« %(value)s ».", name=label, value=flt.value[:50]))
    elif flt.op == "contains" and not any(c.isalnum() for c in flt.value):
        raise TableProblem(_("Le filtre de la colonne « %(name)s » doit contenir au moins une "
                             "lettre ou un chiffre.", name=label))
    return flt


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def parse_number(_: Gettext, text: str, label: str) -> float:
    """A number as people write it: ``1 234,5`` (French), ``1,234.5`` or ``1234.5``."""
    cleaned = _SPACES.sub("", text)
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(",", "")
    else:
        cleaned = cleaned.replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not re.fullmatch(r"[+-]?[0-9.eE+-]+", cleaned):
        raise TableProblem(_("La colonne « %(name)s » attend un nombre : « %(value)s » n’en est "
                             "pas un.", name=label, value=text[:50]))
    return number


def parse_date(_: Gettext, text: str, label: str) -> date:
    """A date as ``2021-01-31`` (what a date field sends) or ``31/01/2021``."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise TableProblem(_("La colonne « %(name)s » attend une date (jj/mm/aaaa) : « %(value)s » "
                         "n’en est pas une.", name=label, value=text[:50]))


# --- the view as ODSQL ----------------------------------------------------------------------

def odsql_field(name: str) -> str:
    """A field name in ODSQL (back-quoted, so that any name is one)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def odsql_string(text: str) -> str:
    """A string literal in ODSQL."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number_literal(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _condition(flt: Filter, kind: str, _: Gettext) -> str:
    name = odsql_field(flt.column)
    if flt.op == "contains":
        words = [w.strip("*") for w in flt.value.split()]
        return f"{name} like {odsql_string(' '.join(f'*{w}*' for w in words if w))}"
    if kind in NUMERIC:
        number = _number_literal(parse_number(_, flt.value, flt.column))
        return f"{name} {'>=' if flt.op == 'gte' else '<='} {number}"
    if kind in TEMPORAL:
        day = parse_date(_, flt.value, flt.column)
        if flt.op == "gte":
            return f"{name} >= date'{day.isoformat()}'"
        # the whole last day is in: before the next one
        return f"{name} < date'{(day + timedelta(days=1)).isoformat()}'"
    raise AssertionError(flt.op)


def where_clauses(view: TableView, schema: Mapping[str, str], _: Gettext) -> list[str]:
    """The view's filters as ODSQL conditions (ANDed): values of one column are ORed."""
    clauses: list[str] = []
    values: dict[str, list[str]] = {}
    for flt in view.filters:
        if flt.op == "in":
            values.setdefault(flt.column, []).append(flt.value)
        else:
            clauses.append(_condition(flt, schema[flt.column], _))
    for column, chosen in values.items():
        name = odsql_field(column)
        if schema[column] == "boolean":
            if set(chosen) != {"true", "false"}:
                clauses.append(f"{name} is {chosen[0]}")
        else:
            clauses.append(f"{name} in ({', '.join(odsql_string(v) for v in chosen)})")
    return clauses


def select_clause(columns: Sequence[str]) -> str:
    """The ODSQL select of these columns."""
    return ", ".join(odsql_field(c) for c in columns)


def order_clause(view: TableView) -> str | None:
    """The ODSQL order_by of the view (None: the file's order)."""
    if not view.sort:
        return None
    return f"{odsql_field(view.sort)} {'desc' if view.desc else 'asc'}"


@dataclass(frozen=True)
class Odsql:
    """The view as the Explore API's parameters."""

    select: str | None
    where: tuple[str, ...]
    order_by: str | None

    def items(self, *, with_select: bool = True) -> list[tuple[str, str]]:
        """Query-string items (where ANDed into one clause, as people write it)."""
        items: list[tuple[str, str]] = []
        if self.select and with_select:
            items.append(("select", self.select))
        if self.where:
            items.append(("where", " and ".join(self.where)))
        if self.order_by:
            items.append(("order_by", self.order_by))
        return items


def odsql_of(view: TableView, schema: Mapping[str, str], _: Gettext) -> Odsql:
    """The view as ODSQL (select only when some columns are hidden)."""
    return Odsql(select_clause(view.columns) if view.chosen_columns else None,
                 tuple(where_clauses(view, schema, _)), order_clause(view))


# --- running it -----------------------------------------------------------------------------

@dataclass
class TablePage:
    """One page of the table: its rows, how many rows the view holds, where the page stands."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    size: int
    filtered: bool
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """Number of the first row shown (from 1)."""
        return (self.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        """Number of the last row shown."""
        return self.first + len(self.rows) - 1 if self.rows else 0


#: How a geometry leaves DuckDB for a table cell: its type, and a point's coordinates.
_GEOMETRY_CELL = (
    "CASE WHEN g IS NULL THEN NULL ELSE struct_pack("
    "kind := CAST(ST_GeometryType(g) AS VARCHAR), "
    "lon := CASE WHEN CAST(ST_GeometryType(g) AS VARCHAR) = 'POINT' THEN ST_X(g) END, "
    "lat := CASE WHEN CAST(ST_GeometryType(g) AS VARCHAR) = 'POINT' THEN ST_Y(g) END) END")


def _geometry_cells(select: exp.Select, names: Sequence[str]) -> exp.Select:
    """``select`` with its geometry columns as ``{kind, lon, lat}``: a table never prints a
    shape's GeoJSON."""
    if not names:
        return select
    replaced = []
    for name in names:
        tree = sqlglot.parse_one(_GEOMETRY_CELL, read="duckdb")
        for col in list(tree.find_all(exp.Column)):
            if col.name == "g":
                col.replace(exp.column(exp.to_identifier(name, quoted=True)))
        replaced.append(exp.alias_(tree, exp.to_identifier(name, quoted=True)))
    return exp.select(exp.Star(**{"replace": replaced})).from_(select.subquery("cells"))


def read_page(settings: Settings, version: Version, view: TableView, odsql: Odsql,
              _: Gettext) -> TablePage:
    """The page of rows the view asks for, at any depth: without filters nor order the page
    starts from its row number in the file (no OFFSET scan); a page past the end is a 404."""
    read = layout(settings, version)
    schema = {name: kind for name, kind in read.schema.items() if name in version.schema}
    where = list(odsql.where)
    request = QueryRequest(select=select_clause(view.columns), where=where,
                           order_by=odsql.order_by, limit=view.size)
    offset = (view.page - 1) * view.size
    with budgeted(settings) as con:
        if where:
            counted = con.execute(build_count(request, schema, source(settings, version, read=read))
                                  .sql(dialect="duckdb")).fetchone()
            total = int(counted[0]) if counted else 0
        else:
            total = version.row_count
        pages = max(1, -(-total // view.size))
        if view.page > pages:
            raise TableProblem(_("La page %(page)s est au-delà de la fin : le tableau en a "
                                 "%(pages)s.", page=view.page, pages=pages), status=404)
        keyset = not where and not odsql.order_by
        start = source(settings, version, after_row=offset - 1 if keyset and offset else None,
                       read=read)
        query = build_query(replace(request, offset=0 if keyset else offset), schema, start)
        # the file's order breaks ties, so that pages neither repeat nor skip rows
        query = query.order_by(exp.column(ROW_ID, quoted=True), append=True)
        geometries = [c for c in view.columns if schema.get(c) == "geometry"]
        table = con.execute(_geometry_cells(query, geometries).sql(dialect="duckdb")).fetch_arrow_table()
    return TablePage(rows=table.to_pylist(), total=total, page=view.page, size=view.size,
                     filtered=bool(where))


_values_cache: Cache[tuple[str, str], list[tuple[Any, int]] | None] = Cache(
    "web.dataset_values", max_items=VALUES_CACHE_ITEMS)


def offered_values(settings: Settings, version: Version, column: str) -> list[tuple[Any, int]] | None:
    """The values of a text or boolean column with their counts, most frequent first, when it
    holds at most ``VALUES_OFFERED`` of them (else None: a "contains" filter fits better)."""
    key = (version.checksum, column)
    found = _values_cache.get(key)
    if found is not None or key in _values_cache:
        return found
    read = layout(settings, version)
    schema = {name: kind for name, kind in read.schema.items() if name in version.schema}
    query = build_facet(column, QueryRequest(), schema, source(settings, version, read=read),
                        sort="-count", limit=VALUES_OFFERED + 1)
    with budgeted(settings) as con:
        rows = con.execute(query.sql(dialect="duckdb")).fetchall()
    values = [(value, int(count)) for value, count in rows]
    kept = values if len(values) <= VALUES_OFFERED else None
    _values_cache.put(key, kept)
    return kept
