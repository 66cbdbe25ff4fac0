"""The catalogue searched, filtered, faceted and sorted: DuckDB over a copy of the catalogue
entries (``catalog.entries``) that each process keeps, brought up to date at every call by
one ``revision > seen`` query on the catalogue (SQLite or PostgreSQL).

Search reads its text as Opendatasoft's ``search()`` does (``catalog.terms``), also finding
the words of the same French stem, and ranks what it finds with BM25 over an inverted index
(words of titles, keywords, themes, organisation and territory names, field names and labels,
descriptions; each with its weight). Documents matching a term through its stem rank above
those matching it only by a typo or as a prefix, so "écoles", "École", "ecole" and "ecoles"
put the same datasets first.

Facets are counted over an index too: each facet value numbered once, and one row per entry
and value, so that counting every facet of a listing is one join on integers.

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
import pyarrow as pa
from sqlalchemy import ColumnElement, Text, cast, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from mutuelle.catalog.entries import ENTRY_COLUMNS, CatalogEntry, build_all, read_state
from mutuelle.catalog.terms import EXACT, FUZZY, PREFIX, WORD_SEPARATORS, Term, french_stem, search_terms
from mutuelle.core.errors import BudgetExceeded, InvalidInput

log = logging.getLogger(__name__)

#: Weight of a word by where it is found (BM25F-like: a title word counts four description words).
WEIGHTS = {"title": 4.0, "keywords": 3.0, "themes": 3.0, "organisation_name": 2.0,
           "producer": 2.0, "territories": 2.0, "field_text": 1.5, "description": 1.0}
#: BM25's saturation and length normalisation.
K1, B = 1.2, 0.75
#: How much a word found only by a typo or as a prefix counts against one of the same stem.
LOOSE_MATCH = 0.3
#: Memory and threads of the copy of the catalogue (about 2 kB per dataset); one thread:
#: its queries are small, and a second one costs more CPU than it saves.
DUCKDB_CONFIG = {"memory_limit": "1GB", "threads": "1"}

#: The facets: value and label (SQL over the entry ``e``; no label: the value), counted at
#: every listing over ``entry_facet``, where refreshes put one row per entry and value.
FACETS: dict[str, tuple[str, str]] = {
    "organisation": ("e.organisation_slug", "e.organisation_name"),
    "theme": ("unnest(e.themes)", ""),
    "keyword": ("unnest(e.keywords)", ""),
    "licence": ("e.licence", ""),
    "territory": ("unnest(e.territories)", "unnest(e.territory_names)"),
    "format": ("unnest(e.formats)", ""),
    "access": ("e.access", ""),
    "schema": ("e.schema_name", ""),
    "modified": ("CAST(year(e.modified) AS VARCHAR)", ""),
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

#: The entry columns holding lists, read from the catalogue as their JSON text (DuckDB parses
#: them, far faster than one ``json.loads`` per value).
_LISTS = ("themes", "keywords", "territories", "territory_names", "formats")
_TIME = pa.timestamp("us", tz="UTC")
_ARROW_TYPES = {
    "records_count": pa.int64(), "version_number": pa.int32(), "has_geo": pa.bool_(),
    "present": pa.bool_(), "revision": pa.int64(), "popularity": pa.int32(),
    "modified": _TIME, "published_at": _TIME, "created_at": _TIME,
}
#: ``key`` numbers the entries of the copy (a changed entry gets a new one): the index tables
#: join on it, much faster than on the dataset's id. ``title_key`` is the title's French
#: (ICU) sort key, made once per change so that ranking every title stays cheap.
_ENTRY_DDL = """
CREATE TABLE entry (
    key INTEGER, id VARCHAR, slug VARCHAR, title VARCHAR, description VARCHAR, licence VARCHAR,
    frequency VARCHAR, access VARCHAR, status VARCHAR, organisation_id VARCHAR,
    organisation_slug VARCHAR, organisation_name VARCHAR, producer VARCHAR, themes VARCHAR[],
    keywords VARCHAR[],
    territories VARCHAR[], territory_names VARCHAR[], formats VARCHAR[], schema_name VARCHAR,
    field_text VARCHAR, records_count BIGINT, version_number INTEGER, has_geo BOOLEAN,
    modified TIMESTAMPTZ, published_at TIMESTAMPTZ, created_at TIMESTAMPTZ, popularity INTEGER,
    doc_len DOUBLE DEFAULT 0, title_key VARCHAR, title_rank INTEGER DEFAULT 0
);
CREATE TABLE vocab (word_id INTEGER, word VARCHAR, stem VARCHAR);
CREATE TABLE posting (key INTEGER, word_id INTEGER, weight DOUBLE);
CREATE TABLE facet_value (value_id INTEGER, facet VARCHAR, value VARCHAR, label VARCHAR);
CREATE TABLE entry_facet (key INTEGER, facet VARCHAR, value_id INTEGER);
"""
#: The copy's columns filled from the catalogue (``dataset_id`` is ``id`` here, as the
#: policy's filter names it).
_COPIED = [c for c in ENTRY_COLUMNS if c not in ("revision", "present")]
#: The catalogue as Opendatasoft's Explore API names its fields (``catalog_datasets``);
#: ``publisher`` (Opendatasoft's free text) is the producer, else the publishing organisation.
ODS_VIEW = """
CREATE VIEW catalog_datasets AS SELECT
    id, status, access, organisation_id, themes, keywords, territories, formats,
    organisation_name, producer,
    slug AS dataset_id, id AS dataset_uid, title, description,
    array_to_string(themes, ', ') AS theme, array_to_string(keywords, ', ') AS keyword,
    licence AS license, coalesce(nullif(producer, ''), organisation_name) AS publisher,
    organisation_slug AS organisation,
    modified, published_at AS published, records_count, frequency,
    array_to_string(territories, ', ') AS spatial_coverage,
    array_to_string(territory_names, ', ') AS territory,
    array_to_string(formats, ', ') AS format, schema_name AS schema, popularity
FROM entry
"""


def _text_list(column: str) -> str:
    """A JSON text read as ``TextList`` reads it: the strings of a list, else no value."""
    return (f"CASE WHEN json_valid({column}) AND json_type({column}) = 'ARRAY' THEN "
            f"list_transform(list_filter(json_extract({column}, '$[*]'), "
            f"lambda x: json_type(x) = 'VARCHAR'), lambda x: json_extract_string(x, '$')) "
            f"ELSE [] END")


#: The incoming entries (``incoming``, as read from the catalogue) into the copy, numbered
#: from ``$start`` in title order: a page of a listing by title then reads neighbouring rows.
_INSERT_ENTRIES = (
    f"INSERT INTO entry (key, {', '.join(['id', *_COPIED[1:]])}, title_key) "
    f"SELECT $start + row_number() OVER (ORDER BY title_key, dataset_id), "
    + ", ".join(_text_list(c) if c in _LISTS else c for c in _COPIED)
    + ", title_key FROM (SELECT *, icu_sort_key(title, 'fr') AS title_key FROM incoming "
      "WHERE present) ORDER BY title_key, dataset_id")


def _texts(column: str) -> str:
    if column in ("keywords", "themes"):
        return f"array_to_string({column}, ' ')"
    if column == "territories":
        return "array_to_string(territory_names, ' ') || ' ' || array_to_string(territories, ' ')"
    return f"coalesce({column}, '')"


# Words are cut in two steps: the texts at spaces (cheap), then each distinct piece, folded,
# at anything but letters and digits: the same words as folding and cutting every text, for
# a fraction of the work (there are few distinct pieces).
#: Pieces of the texts of the entries numbered above ``$start``, with their weight.
_PIECES = "CREATE OR REPLACE TEMP TABLE piece AS " + " UNION ALL ".join(
    f"SELECT key, unnest(string_split({_texts(col)}, ' ')) AS piece, {weight} AS weight "
    f"FROM entry WHERE key > $start" for col, weight in WEIGHTS.items())
#: The folded words of each distinct piece.
_PIECE_WORDS = """
CREATE OR REPLACE TEMP TABLE piece_word AS SELECT * FROM (
    SELECT piece, unnest(regexp_split_to_array(strip_accents(lower(piece)), $pattern)) AS word
    FROM (SELECT DISTINCT piece FROM piece)) WHERE word <> ''
"""
#: Postings (weights summed per entry and word) of the pieces, in word order: a search reads
#: the postings of a few words, found by their row groups.
_NEW_POSTINGS = """
INSERT INTO posting
SELECT p.key, v.word_id, sum(p.weight) AS weight
FROM piece p JOIN (SELECT w.piece, v.word_id FROM piece_word w JOIN vocab v USING (word)) v
  USING (piece)
GROUP BY p.key, v.word_id ORDER BY v.word_id
"""
#: One row per entry numbered above ``$start`` and value of each facet, with its label.
_NEW_FACETS = "CREATE OR REPLACE TEMP TABLE new_facet AS SELECT key, facet, value, " \
    "any_value(label) AS label FROM (" + " UNION ALL ".join(
        f"SELECT e.key, '{name}' AS facet, {value} AS value, "
        f"coalesce({label or value}, {value}) AS label FROM entry e WHERE e.key > $start"
        for name, (value, label) in FACETS.items()) \
    + ") WHERE value IS NOT NULL AND value <> '' GROUP BY key, facet, value"


class CatalogueIndex:
    """This process's copy of one catalogue's entries, with its word and facet indexes."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(_ENTRY_DDL)
        self.con.execute(ODS_VIEW)
        self.lock = threading.Lock()
        self.epoch: str | None = None
        self.revision = -1
        #: The last key given to an entry: never given twice, a key names one state of one
        #: entry for the life of the copy.
        self.last_key = 0

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
            full = epoch != self.epoch
            incoming = _read_entries(session, None if full else self.revision)
            self._apply(incoming, full=full)
            self.epoch, self.revision = epoch, revision
            log.info("catalogue_copy_refreshed full=%s entries=%d revision=%d", full,
                     incoming.num_rows, revision)

    def _apply(self, incoming: pa.Table, *, full: bool) -> None:
        con = self.con.cursor()
        try:
            con.execute("BEGIN")
            con.register("incoming", incoming)
            if full:
                for table in ("entry", "posting", "vocab", "facet_value", "entry_facet"):
                    con.execute(f"DELETE FROM {table}")
            else:
                con.execute("CREATE OR REPLACE TEMP TABLE gone AS SELECT key FROM entry "
                            "WHERE id IN (SELECT dataset_id FROM incoming)")
                for table in ("entry", "posting", "entry_facet"):
                    con.execute(f"DELETE FROM {table} WHERE key IN (SELECT key FROM gone)")
            start = self.last_key
            con.execute(_INSERT_ENTRIES, {"start": start})
            con.unregister("incoming")
            self.last_key = max(start, _scalar(con, "SELECT coalesce(max(key), 0) FROM entry"))
            _index_words(con, start)
            _index_facets(con, start)
            # French collation (ICU) costs: titles are ranked once per change, by the sort
            # keys made as entries came in, not at every listing.
            con.execute("UPDATE entry SET title_rank = r.rank FROM (SELECT key, row_number() "
                        "OVER (ORDER BY title_key, id) AS rank FROM entry) AS r "
                        "WHERE entry.key = r.key AND entry.title_rank IS DISTINCT FROM r.rank")
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            self.epoch = None   # start again from nothing at the next call
            raise
        finally:
            con.close()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _index_words(con: duckdb.DuckDBPyConnection, start: int) -> None:
    """Index the words of the entries numbered above ``start``: new words (and their French
    stems) in ``vocab``, their postings and their length (``doc_len``)."""
    con.execute(_PIECES, {"start": start})
    con.execute(_PIECE_WORDS, {"pattern": WORD_SEPARATORS})
    new = [word for (word,) in con.execute(
        "SELECT DISTINCT word FROM piece_word w WHERE NOT EXISTS "
        "(SELECT 1 FROM vocab v WHERE v.word = w.word) ORDER BY word").fetchall()]
    if new:
        # Stems made in one batch: a Python function called by DuckDB once per word costs more.
        words = pa.table({"word": pa.array(new, pa.string()),
                          "stem": pa.array([french_stem(w) for w in new], pa.string())})
        con.register("new_words", words)
        con.execute("INSERT INTO vocab SELECT $first + row_number() OVER (), word, stem "
                    "FROM new_words", {"first": _scalar(con, "SELECT coalesce(max(word_id), 0) "
                                                             "FROM vocab")})
        con.unregister("new_words")
    con.execute(_NEW_POSTINGS)
    con.execute("UPDATE entry SET doc_len = l.total FROM (SELECT key, sum(weight) AS total "
                "FROM posting WHERE key > $start GROUP BY key) AS l WHERE entry.key = l.key",
                {"start": start})
    for table in ("piece", "piece_word"):
        con.execute(f"DROP TABLE {table}")


def _index_facets(con: duckdb.DuckDBPyConnection, start: int) -> None:
    """Index the facet values of the entries numbered above ``start``: values are numbered
    once (``facet_value``, whose label is the newest seen), each entry lists its own
    (``entry_facet``)."""
    con.execute(_NEW_FACETS, {"start": start})
    con.execute("CREATE OR REPLACE TEMP TABLE new_value AS SELECT facet, value, "
                "any_value(label) AS label FROM new_facet GROUP BY facet, value")
    con.execute("UPDATE facet_value SET label = n.label FROM new_value n WHERE "
                "facet_value.facet = n.facet AND facet_value.value = n.value "
                "AND facet_value.label <> n.label")
    con.execute("INSERT INTO facet_value SELECT $first + row_number() OVER (ORDER BY facet, "
                "value), facet, value, label FROM new_value n WHERE NOT EXISTS (SELECT 1 FROM "
                "facet_value v WHERE v.facet = n.facet AND v.value = n.value)",
                {"first": _scalar(con, "SELECT coalesce(max(value_id), 0) FROM facet_value")})
    con.execute("INSERT INTO entry_facet SELECT n.key, n.facet, v.value_id FROM new_facet n "
                "JOIN facet_value v USING (facet, value) ORDER BY n.facet, n.key")
    for table in ("new_facet", "new_value"):
        con.execute(f"DROP TABLE {table}")


def _read_entries(session: Session, since: int | None) -> pa.Table:
    """The entries present (``since`` None), or those written after revision ``since``
    (tombstones too), as an Arrow table; lists stay JSON text."""
    entries = CatalogEntry.__table__
    columns = [cast(entries.c[c], Text).label(c) if c in _LISTS else entries.c[c]
               for c in ENTRY_COLUMNS]
    query = select(*columns).where(entries.c.present if since is None
                                   else entries.c.revision > since)
    rows = session.execute(query).all()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(ENTRY_COLUMNS)
    # Naive datetimes (SQLite's) are taken as UTC, which they are.
    return pa.table({name: pa.array(column, type=_ARROW_TYPES.get(name, pa.string()))
                     for name, column in zip(ENTRY_COLUMNS, values, strict=True)})


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
    return (f"SELECT {i} AS term, word_id, stem = $s{i} AS exact FROM vocab "
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
        SELECT p.key, m.term, coalesce(sum(p.weight) FILTER (WHERE m.exact), 0) AS tf_exact,
               sum(p.weight) AS tf_any
        FROM posting p JOIN matched m ON p.word_id = m.word_id GROUP BY p.key, m.term),
    freq AS (
        SELECT term, count(*) FILTER (WHERE tf_exact > 0) AS df_exact, count(*) AS df_any
        FROM hits GROUP BY term),
    stats AS (SELECT count(*) AS n, greatest(avg(doc_len), 1) AS avgdl FROM entry),
    weighed AS (
        SELECT h.key, h.term, h.tf_exact > 0 AS exact,
               CASE WHEN h.tf_exact > 0 THEN h.tf_exact ELSE {LOOSE_MATCH} * h.tf_any END AS tf,
               CASE WHEN f.df_exact > 0 THEN f.df_exact ELSE f.df_any END AS df
        FROM hits h JOIN freq f USING (term))
    SELECT w.key, sum(ln(1 + (stats.n - w.df + 0.5) / (w.df + 0.5)) * w.tf * {K1 + 1}
                     / (w.tf + {K1} * ({1 - B} + {B} * e.doc_len / stats.avgdl))) AS score,
           count(*) FILTER (WHERE w.exact) AS exact
    FROM weighed w JOIN entry e ON e.key = w.key CROSS JOIN stats
    GROUP BY w.key HAVING count(*) = {len(terms)}
    """
    return sql, params


#: The columns of a page's entries; times as UTC without a zone, which Python reads without
#: pytz (``_item`` gives them their zone back).
_PAGE_COLUMNS = ", ".join(f"CAST(e.{c} AS TIMESTAMP)" if c in ("modified", "published_at",
                                                                 "created_at") else f"e.{c}"
                          for c in ["id", *_COPIED[1:]])


class Selection:
    """The visible datasets matching a search and facet values, held in the temporary table
    ``selected(id, key, score, exact)`` of a cursor on the copy of the catalogue."""

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
        # The order on keys alone, then the page's columns: sorting every column is slower.
        ranked = self.cursor.execute(
            f"SELECT s.key, s.score FROM selected s JOIN entry e ON e.key = s.key "
            f"ORDER BY {order} LIMIT ? OFFSET ?", [limit, offset]).fetchall()
        if not ranked:
            return []
        found = {row[0]: row for row in self.cursor.execute(
            f"SELECT e.key, {_PAGE_COLUMNS} FROM entry e WHERE list_contains($keys, e.key)",
            {"keys": [k for k, _ in ranked]}).fetchall()}
        names = ["id", *_COPIED[1:]]
        rows = [{**dict(zip(names, found[k][1:], strict=True)), "score": score}
                for k, score in ranked if k in found]
        return [_item(row) for row in rows]

    def facets(self, names: Sequence[str], limit: int,
               selected: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[FacetValue]]:
        """The values of each facet among the selected datasets, most frequent first."""
        if not names:
            return {}
        unknown = [name for name in names if name not in FACETS]
        if unknown:
            raise InvalidInput(f"unknown facet {unknown[0]!r}: one of {', '.join(FACETS)}")
        # One pass over the selection's facet values (numbered at refresh). The names, checked,
        # are written in: a list bound as a parameter would not narrow the scan.
        wanted = ", ".join(f"'{name}'" for name in names)
        first = int(limit)
        # The first values of each facet; of the only one asked, a plain LIMIT (cheaper).
        top = f"ORDER BY c.n DESC, v.value LIMIT {first}" if len(set(names)) == 1 else (
            f"QUALIFY row_number() OVER (PARTITION BY v.facet ORDER BY c.n DESC, v.value) "
            f"<= {first} ORDER BY v.facet, c.n DESC, v.value")
        rows = self.cursor.execute(f"""
            SELECT v.facet, v.value, v.label, c.n
            FROM (SELECT f.value_id, count(*) AS n FROM selected s
                  JOIN entry_facet f ON f.key = s.key
                  WHERE f.facet IN ({wanted}) GROUP BY f.value_id) AS c
            JOIN facet_value v USING (value_id) {top}""").fetchall()
        out: dict[str, list[FacetValue]] = {name: [] for name in names}
        chosen = selected or {}
        for facet, value, label, count in rows:
            out[facet].append(FacetValue(str(value), str(label), int(count),
                                         str(value) in chosen.get(facet, ())))
        return out


@contextmanager
def selection(session: Session, *, visible: ColumnElement[bool] | None = None,
              text: str = "", filters: Mapping[str, Sequence[str]] | None = None,
              timeout_ms: int | None = None) -> Iterator[Selection]:
    """The visible datasets matching ``text`` (``search()`` rules and French stems) and every
    facet value of ``filters``, on a cursor of this process's copy of the catalogue (in a
    transaction of its own); past ``timeout_ms`` the cursor is interrupted (BudgetExceeded)."""
    terms = check_query(CatalogueQuery(text=text, filters=filters or {}))
    index = catalogue_index(session)
    cursor = index.con.cursor()
    # One transaction: every question asked of the selection sees the copy as it was when the
    # selection was made, whatever refresh another request commits meanwhile.
    cursor.execute("BEGIN TRANSACTION")
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
            source = "entry AS dataset JOIN scored s ON s.key = dataset.key"
            columns = "dataset.id, dataset.key, s.score, s.exact"
        else:
            source = "entry AS dataset"
            columns = "dataset.id, dataset.key, 0.0 AS score, 0 AS exact"
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
        has_geo=bool(values["has_geo"]), modified=_utc(values["modified"]),
        published_at=_utc(values["published_at"]), created_at=_utc(values["created_at"]),
        popularity=int(values["popularity"] or 0), score=float(values["score"] or 0))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


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
