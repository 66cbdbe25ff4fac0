"""The catalogue searched, filtered, faceted and sorted: DuckDB over a copy of the catalogue
entries (``catalog.entries``) that each process keeps, brought up to date at every call by
one ``revision > seen`` query on the catalogue (SQLite or PostgreSQL).

Search reads its text as Opendatasoft's ``search()`` does (``catalog.terms``), also finding
the words of the same French stem, and ranks what it finds with BM25 over an inverted index
(words of titles, keywords, themes, organisation and territory names, field names and labels,
descriptions; each with its weight). Documents matching a term through its stem rank above
those matching it only by a typo or as a prefix, so "écoles", "École", "ecole" and "ecoles"
put the same datasets first.

Visibility is the policy's own SQL filter (``access.policy.visible_datasets``), handed in by
the caller and run here over the copy, whose columns have the names it uses.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
from duckdb.typing import VARCHAR
import pyarrow as pa
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from mutuelle.catalog.entries import ENTRY_COLUMNS, CatalogEntry, build_all, read_state
from mutuelle.catalog.terms import EXACT, FUZZY, PREFIX, WORD_SEPARATORS, Term, french_stem, search_terms
from mutuelle.core.errors import BudgetExceeded, InvalidInput

log = logging.getLogger(__name__)

#: Weight of a word by where it is found (BM25F-like: a title word counts four description words).
WEIGHTS = {"title": 4.0, "keywords": 3.0, "themes": 3.0, "organisation_name": 2.0,
           "territories": 2.0, "field_text": 1.5, "description": 1.0}
#: BM25's saturation and length normalisation.
K1, B = 1.2, 0.75
#: How much a word found only by a typo or as a prefix counts against one of the same stem.
LOOSE_MATCH = 0.3
#: Memory and threads of the copy of the catalogue (about 2 kB per dataset); one thread:
#: its queries are small, and a second one costs more CPU than it saves.
DUCKDB_CONFIG = {"memory_limit": "1GB", "threads": "1"}

#: The facets: value and label (SQL over the entry ``e``), and whether the value is a list.
FACETS: dict[str, tuple[str, str, bool]] = {
    "organisation": ("e.organisation_slug", "e.organisation_name", False),
    "theme": ("unnest(e.themes)", "", True),
    "keyword": ("unnest(e.keywords)", "", True),
    "licence": ("e.licence", "", False),
    "territory": ("unnest(e.territories)", "unnest(e.territory_names)", True),
    "format": ("unnest(e.formats)", "", True),
    "access": ("e.access", "", False),
    "schema": ("e.schema_name", "", False),
    "modified": ("CAST(year(e.modified) AS VARCHAR)", "", False),
}
#: How a selected facet value filters (``?`` is the value).
_FILTERS = {
    "organisation": "dataset.organisation_slug = ?",
    "theme": "list_contains(dataset.themes, ?)",
    "keyword": "list_contains(dataset.keywords, ?)",
    "licence": "dataset.licence = ?",
    "territory": "list_contains(dataset.territories, ?)",
    "format": "list_contains(dataset.formats, ?)",
    "access": "dataset.access = ?",
    "schema": "dataset.schema_name = ?",
    "modified": "CAST(year(dataset.modified) AS VARCHAR) = ?",
}
#: The orders a listing may take, by name (``-`` first: descending).
SORTS = {
    "relevance": "s.exact DESC, s.score DESC, e.title_rank",
    "title": "e.title_rank",
    "-title": "e.title_rank DESC",
    "modified": "e.modified NULLS LAST, e.title_rank",
    "-modified": "e.modified DESC NULLS LAST, e.title_rank",
    "published": "e.published_at NULLS LAST, e.title_rank",
    "-published": "e.published_at DESC NULLS LAST, e.title_rank",
    "popularity": "e.popularity, e.title_rank",
    "-popularity": "e.popularity DESC, e.title_rank",
}
#: Most values listed per facet.
MAX_FACET_VALUES = 1000

_LIST = pa.list_(pa.string())
_TIME = pa.timestamp("us", tz="UTC")
_ARROW_TYPES = {
    "themes": _LIST, "keywords": _LIST, "territories": _LIST, "territory_names": _LIST,
    "formats": _LIST, "records_count": pa.int64(), "version_number": pa.int32(),
    "has_geo": pa.bool_(), "present": pa.bool_(), "revision": pa.int64(),
    "popularity": pa.int32(), "modified": _TIME, "published_at": _TIME, "created_at": _TIME,
}
_ENTRY_DDL = """
CREATE TABLE entry (
    id VARCHAR, slug VARCHAR, title VARCHAR, description VARCHAR, licence VARCHAR,
    frequency VARCHAR, access VARCHAR, status VARCHAR, organisation_id VARCHAR,
    organisation_slug VARCHAR, organisation_name VARCHAR, themes VARCHAR[], keywords VARCHAR[],
    territories VARCHAR[], territory_names VARCHAR[], formats VARCHAR[], schema_name VARCHAR,
    field_text VARCHAR, records_count BIGINT, version_number INTEGER, has_geo BOOLEAN,
    modified TIMESTAMPTZ, published_at TIMESTAMPTZ, created_at TIMESTAMPTZ, popularity INTEGER,
    doc_len DOUBLE DEFAULT 0, title_rank INTEGER DEFAULT 0
);
CREATE TABLE posting (id VARCHAR, word VARCHAR, weight DOUBLE);
CREATE TABLE vocab (word VARCHAR, stem VARCHAR);
"""
#: The copy's columns filled from the catalogue (``dataset_id`` is ``id`` here, as the
#: policy's filter names it).
_COPIED = [c for c in ENTRY_COLUMNS if c not in ("revision", "present")]
#: The catalogue as Opendatasoft's Explore API names its fields (``catalog_datasets``).
ODS_VIEW = """
CREATE VIEW catalog_datasets AS SELECT
    id, status, access, organisation_id, themes, keywords, territories, formats,
    slug AS dataset_id, id AS dataset_uid, title, description,
    array_to_string(themes, ', ') AS theme, array_to_string(keywords, ', ') AS keyword,
    licence AS license, organisation_name AS publisher, organisation_slug AS organisation,
    modified, published_at AS published, records_count, frequency,
    array_to_string(territories, ', ') AS spatial_coverage,
    array_to_string(territory_names, ', ') AS territory,
    array_to_string(formats, ', ') AS format, schema_name AS schema, popularity
FROM entry
"""


def _texts(column: str) -> str:
    if column in ("keywords", "themes"):
        return f"array_to_string({column}, ' ')"
    if column == "territories":
        return "array_to_string(territory_names, ' ') || ' ' || array_to_string(territories, ' ')"
    return f"coalesce({column}, '')"


#: Postings of the entries named in the temporary table ``changed``.
_POSTINGS = "INSERT INTO posting SELECT id, word, sum(weight) FROM (" + " UNION ALL ".join(
    f"SELECT id, unnest(regexp_split_to_array(strip_accents(lower({_texts(col)})), $pattern)) "
    f"AS word, {weight} AS weight FROM entry WHERE id IN (SELECT id FROM changed)"
    for col, weight in WEIGHTS.items()) + ") WHERE word <> '' GROUP BY id, word ORDER BY word"


class CatalogueIndex:
    """This process's copy of one catalogue's entries, with its word index."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.create_function("french_stem", french_stem, [VARCHAR], VARCHAR,
                                 side_effects=False)
        self.con.execute(_ENTRY_DDL)
        self.con.execute(ODS_VIEW)
        self.lock = threading.Lock()
        self.epoch: str | None = None
        self.revision = -1

    def refresh(self, session: Session) -> None:
        """Bring the copy up to the catalogue's revision (as the session sees it)."""
        state = read_state(session)
        if state is None or not state[2]:
            # A catalogue without entries yet: made (and read) in a transaction of its own.
            with Session(bind=session.get_bind()) as builder:
                build_all(builder)
                builder.commit()
                self._sync(builder, read_state(builder))
            return
        self._sync(session, state)

    def _sync(self, session: Session, state: tuple[str, int, bool] | None) -> None:
        if state is None:
            raise RuntimeError("the catalogue has no state row: run its migrations")
        epoch, revision, _ = state
        if epoch == self.epoch and revision <= self.revision:
            return
        with self.lock:
            if epoch == self.epoch and revision <= self.revision:
                return
            entries = CatalogEntry.__table__
            query = select(*(entries.c[c] for c in ENTRY_COLUMNS))
            full = epoch != self.epoch
            query = query.where(entries.c.present) if full else \
                query.where(entries.c.revision > self.revision)
            rows = [dict(r) for r in session.execute(query).mappings()]
            self._apply(rows, full=full)
            self.epoch, self.revision = epoch, revision
            log.info("catalogue_copy_refreshed full=%s entries=%d revision=%d", full, len(rows),
                     revision)

    def _apply(self, rows: list[dict[str, Any]], *, full: bool) -> None:
        con = self.con.cursor()
        try:
            con.execute("BEGIN")
            ids = [r["dataset_id"] for r in rows]
            con.execute("CREATE OR REPLACE TEMP TABLE changed (id VARCHAR)")
            if full:
                con.execute("DELETE FROM entry; DELETE FROM posting; DELETE FROM vocab")
            elif ids:
                con.execute("INSERT INTO changed SELECT unnest($ids)", {"ids": ids})
                con.execute("DELETE FROM entry WHERE id IN (SELECT id FROM changed)")
                con.execute("DELETE FROM posting WHERE id IN (SELECT id FROM changed)")
            present = _arrow([r for r in rows if r.get("present", True)])
            con.register("incoming", present)
            con.execute(f"INSERT INTO entry ({', '.join(['id', *_COPIED[1:]])}) "
                        f"SELECT {', '.join(_COPIED)} FROM incoming")
            con.unregister("incoming")
            if full:
                con.execute("INSERT INTO changed SELECT id FROM entry")
            con.execute(_POSTINGS, {"pattern": WORD_SEPARATORS})
            con.execute("UPDATE entry SET doc_len = l.total FROM (SELECT id, sum(weight) AS total "
                        "FROM posting WHERE id IN (SELECT id FROM changed) GROUP BY id) AS l "
                        "WHERE entry.id = l.id")
            # French collation (ICU) costs: sorted once per change, not at every listing.
            con.execute("UPDATE entry SET title_rank = r.rank FROM (SELECT id, row_number() OVER "
                        "(ORDER BY title COLLATE fr, id) AS rank FROM entry) AS r "
                        "WHERE entry.id = r.id")
            con.execute("INSERT INTO vocab SELECT word, french_stem(word) FROM (SELECT DISTINCT "
                        "word FROM posting WHERE id IN (SELECT id FROM changed)) AS w "
                        "WHERE NOT EXISTS (SELECT 1 FROM vocab v WHERE v.word = w.word)")
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            self.epoch = None   # start again from nothing at the next call
            raise
        finally:
            con.close()


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for name in _COPIED:
        values = [_utc(r.get(name)) for r in rows]
        if name in ("themes", "keywords", "territories", "territory_names", "formats"):
            values = [list(v or []) for v in values]
        columns[name] = pa.array(values, type=_ARROW_TYPES.get(name, pa.string()))
    return pa.table(columns)


def _utc(value: Any) -> Any:
    """SQLite gives back naive datetimes: they are UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_indexes: dict[str, CatalogueIndex] = {}
_indexes_lock = threading.Lock()


def catalogue_index(session: Session) -> CatalogueIndex:
    """The up-to-date copy of the session's catalogue."""
    key = session.get_bind().engine.url.render_as_string(hide_password=False)
    index = _indexes.get(key)
    if index is None:
        with _indexes_lock:
            index = _indexes.setdefault(key, CatalogueIndex())
    index.refresh(session)
    return index


# -- asking ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrganisationRef:
    """The owner of a listed dataset, as cards show it."""

    slug: str
    name: str


@dataclass(frozen=True)
class CatalogueItem:
    """One dataset of a listing (an entry), without loading the dataset itself."""

    id: str
    slug: str
    title: str
    description: str
    licence: str
    frequency: str
    access: str
    status: str
    organisation: OrganisationRef
    themes: list[str]
    keywords: list[str]
    territories: list[str]
    territory_names: list[str]
    formats: list[str]
    schema_name: str
    records_count: int
    version_number: int | None
    has_geo: bool
    modified: datetime | None
    published_at: datetime | None
    created_at: datetime | None
    popularity: int
    score: float = 0.0


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet with the number of datasets holding it."""

    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class CatalogueQuery:
    """What a listing asks: a search text, facet values that must hold, an order, a page,
    and the facets to count."""

    text: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort: str | None = None     # None: relevance with a text, title otherwise
    limit: int = 20
    offset: int = 0
    facets: Sequence[str] = ()
    facet_limit: int = 20


@dataclass
class CatalogueResult:
    """A page of the listing, the number of datasets in all, and the facets counted."""

    total: int
    items: list[CatalogueItem]
    facets: dict[str, list[FacetValue]]
    sort: str


def check_query(query: CatalogueQuery) -> tuple[Term, ...]:
    """The terms of the search, after checking every part of the query (InvalidInput naming
    the part at fault)."""
    unknown = [name for name in [*query.filters, *query.facets] if name not in FACETS]
    if unknown:
        raise InvalidInput(f"unknown facet {unknown[0]!r}: one of {', '.join(FACETS)}")
    if query.sort is not None and query.sort not in SORTS:
        raise InvalidInput(f"unknown sort {query.sort!r}: one of {', '.join(SORTS)}")
    if not 0 <= query.limit <= 1000 or query.offset < 0:
        raise InvalidInput("limit must be between 0 and 1000, offset 0 or more")
    if not 1 <= query.facet_limit <= MAX_FACET_VALUES:
        raise InvalidInput(f"a facet lists between 1 and {MAX_FACET_VALUES} values")
    for name, values in query.filters.items():
        for value in values:
            if not isinstance(value, str) or len(value) > 300:
                raise InvalidInput(f"a value of facet {name!r} is text of at most 300 characters")
    return search_terms(query.text) if query.text.strip() else ()


def visibility_sql(visible: ColumnElement[bool]) -> str:
    """The policy's filter as SQL over the copy (whose table is named ``dataset`` in queries)."""
    compiled = visible.compile(dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
                               compile_kwargs={"literal_binds": True})
    return str(compiled)


def _term_sql(i: int, term: Term) -> tuple[str, dict[str, Any]]:
    """The vocabulary words term ``i`` finds, and whether each has its stem."""
    params = {f"w{i}": term.word, f"s{i}": term.stem}
    rule = {
        EXACT: f"word = $w{i}",
        FUZZY: (f"length(word) BETWEEN {len(term.word) - term.edits} AND "
                f"{len(term.word) + term.edits} AND levenshtein(word, $w{i}) <= {term.edits}"),
        PREFIX: f"starts_with(word, $w{i})",
    }[term.kind]
    return (f"SELECT {i} AS term, word, stem = $s{i} AS exact FROM vocab "
            f"WHERE stem = $s{i} OR ({rule})"), params


def _scored_sql(terms: Sequence[Term]) -> tuple[str, dict[str, Any]]:
    """Datasets holding every term, with their BM25 score and the number of terms matched
    through their stem."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, term in enumerate(terms):
        sql, values = _term_sql(i, term)
        parts.append(sql)
        params |= values
    sql = f"""
    WITH matched AS ({" UNION ALL ".join(parts)}),
    hits AS (
        SELECT p.id, m.term, coalesce(sum(p.weight) FILTER (WHERE m.exact), 0) AS tf_exact,
               sum(p.weight) AS tf_any
        FROM posting p JOIN matched m ON p.word = m.word GROUP BY p.id, m.term),
    freq AS (
        SELECT term, count(*) FILTER (WHERE tf_exact > 0) AS df_exact, count(*) AS df_any
        FROM hits GROUP BY term),
    stats AS (SELECT count(*) AS n, greatest(avg(doc_len), 1) AS avgdl FROM entry),
    weighed AS (
        SELECT h.id, h.term, h.tf_exact > 0 AS exact,
               CASE WHEN h.tf_exact > 0 THEN h.tf_exact ELSE {LOOSE_MATCH} * h.tf_any END AS tf,
               CASE WHEN f.df_exact > 0 THEN f.df_exact ELSE f.df_any END AS df
        FROM hits h JOIN freq f USING (term))
    SELECT w.id, sum(ln(1 + (stats.n - w.df + 0.5) / (w.df + 0.5)) * w.tf * {K1 + 1}
                     / (w.tf + {K1} * ({1 - B} + {B} * e.doc_len / stats.avgdl))) AS score,
           count(*) FILTER (WHERE w.exact) AS exact
    FROM weighed w JOIN entry e ON e.id = w.id CROSS JOIN stats
    GROUP BY w.id HAVING count(*) = {len(terms)}
    """
    return sql, params


class Selection:
    """The visible datasets matching a search and facet values, held in the temporary table
    ``selected(id, score, exact)`` of a cursor on the copy of the catalogue."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, searched: bool) -> None:
        self.cursor = cursor
        self.searched = searched

    def total(self) -> int:
        """How many datasets are selected."""
        row = self.cursor.execute("SELECT count(*) FROM selected").fetchone()
        return int(row[0]) if row else 0

    def page(self, sort: str | None, limit: int, offset: int) -> list[CatalogueItem]:
        """One page of the selection in the given order."""
        order = SORTS[sort or ("relevance" if self.searched else "title")]
        # The order on ids alone, then the page's columns: sorting every column is slower.
        ranked = self.cursor.execute(
            f"SELECT s.id, s.score FROM selected s JOIN entry e ON e.id = s.id "
            f"ORDER BY {order} LIMIT ? OFFSET ?", [limit, offset]).fetchall()
        if not ranked:
            return []
        columns = ", ".join(f"e.{c}" for c in ["id", *_COPIED[1:]])
        # Through Arrow: TIMESTAMPTZ values come back without pytz.
        found = {row["id"]: row for row in self.cursor.execute(
            f"SELECT {columns} FROM entry e WHERE e.id IN (SELECT unnest($ids))",
            {"ids": [i for i, _ in ranked]}).fetch_arrow_table().to_pylist()}
        rows = [{**found[i], "score": score} for i, score in ranked if i in found]
        return [_item(row) for row in rows]

    def facets(self, names: Sequence[str], limit: int,
               selected: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[FacetValue]]:
        """The values of each facet among the selected datasets, most frequent first."""
        if not names:
            return {}
        parts = []
        for name in names:
            value, label, many = FACETS[name]
            count = "count(DISTINCT id)" if many else "count(*)"
            parts.append(
                f"(SELECT '{name}' AS facet, v, any_value(coalesce(l, v)) AS l, {count} AS n FROM "
                f"(SELECT {value} AS v, {label or value} AS l, e.id FROM selected s JOIN entry e "
                f"ON e.id = s.id) WHERE v IS NOT NULL AND v <> '' GROUP BY v "
                f"ORDER BY n DESC, v LIMIT {int(limit)})")
        out: dict[str, list[FacetValue]] = {name: [] for name in names}
        chosen = selected or {}
        for facet, value, label, count in self.cursor.execute(" UNION ALL ".join(parts)).fetchall():
            out[facet].append(FacetValue(str(value), str(label), int(count),
                                         str(value) in chosen.get(facet, ())))
        return out


@contextmanager
def selection(session: Session, *, visible: ColumnElement[bool] | None = None,
              text: str = "", filters: Mapping[str, Sequence[str]] | None = None,
              timeout_ms: int | None = None) -> Iterator[Selection]:
    """The visible datasets matching ``text`` (``search()`` rules and French stems) and every
    facet value of ``filters``, on a cursor of this process's copy of the catalogue; past
    ``timeout_ms`` the cursor is interrupted (BudgetExceeded)."""
    terms = check_query(CatalogueQuery(text=text, filters=filters or {}))
    index = catalogue_index(session)
    cursor = index.con.cursor()
    timer = threading.Timer(timeout_ms / 1000, cursor.interrupt) if timeout_ms else None
    try:
        if timer is not None:
            timer.start()
        where = [f"({visibility_sql(visible if visible is not None else true())})"]
        params: list[Any] = []
        for name, values in (filters or {}).items():
            for value in values:
                where.append(_FILTERS[name])
                params.append(value)
        if terms:
            scored, named = _scored_sql(terms)
            cursor.execute(f"CREATE TEMP TABLE scored AS {scored}", named)
            source = "entry AS dataset JOIN scored s ON s.id = dataset.id"
            columns = "dataset.id, s.score, s.exact"
        else:
            source, columns = "entry AS dataset", "dataset.id, 0.0 AS score, 0 AS exact"
        cursor.execute(f"CREATE TEMP TABLE selected AS SELECT {columns} FROM {source} "
                       f"WHERE {' AND '.join(where)}", params)
        yield Selection(cursor, bool(terms))
    except duckdb.InterruptException as exc:
        raise BudgetExceeded(f"the catalogue query took longer than its budget of {timeout_ms} "
                             "ms; narrow it") from exc
    finally:
        if timer is not None:
            timer.cancel()
        cursor.close()


def _item(values: Mapping[str, Any]) -> CatalogueItem:
    return CatalogueItem(
        id=values["id"], slug=values["slug"], title=values["title"],
        description=values["description"], licence=values["licence"],
        frequency=values["frequency"], access=values["access"], status=values["status"],
        organisation=OrganisationRef(values["organisation_slug"], values["organisation_name"]),
        themes=list(values["themes"] or []), keywords=list(values["keywords"] or []),
        territories=list(values["territories"] or []),
        territory_names=list(values["territory_names"] or []),
        formats=list(values["formats"] or []), schema_name=values["schema_name"] or "",
        records_count=int(values["records_count"] or 0), version_number=values["version_number"],
        has_geo=bool(values["has_geo"]), modified=values["modified"],
        published_at=values["published_at"], created_at=values["created_at"],
        popularity=int(values["popularity"] or 0), score=float(values["score"] or 0))


def search_catalogue(session: Session, query: CatalogueQuery, *,
                     visible: ColumnElement[bool] | None = None,
                     timeout_ms: int | None = None) -> CatalogueResult:
    """A page of the visible catalogue for ``query``, its total and its facets."""
    check_query(query)
    with selection(session, visible=visible, text=query.text, filters=query.filters,
                   timeout_ms=timeout_ms) as chosen:
        sort = query.sort or ("relevance" if chosen.searched else "title")
        return CatalogueResult(
            total=chosen.total(), items=chosen.page(sort, query.limit, query.offset),
            facets=chosen.facets(query.facets, query.facet_limit, query.filters), sort=sort)
