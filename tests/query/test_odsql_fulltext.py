"""Full-text ODSQL (search, suggest, startswith, like, bare strings) run on DuckDB, checked
against Opendatasoft's documented rules written again here in plain Python."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import QueryRequest, build_query, text_search
from mutuelle.query.odsql.fulltext import MAX_WORDS

Ids = Callable[..., list[int]]
TEXT_FIELDS = ("title", "city", "contract")


# -- the documented rules, in Python ------------------------------------------------------------

def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.lower())
                   if not unicodedata.combining(c))


def words_of(text: str) -> list[str]:
    return [w for w in re.split(r"[\W_]+", fold(text)) if w]


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def search_matches(query: str, values: list[str | None]) -> bool:
    """search(): every word found, > 5 letters within 2 edits, > 2 within 1, the last word
    as the start of a word."""
    found = words_of(" ".join(v for v in values if v))
    terms = words_of(query)
    for position, term in enumerate(terms):
        if position == len(terms) - 1:
            ok = any(w.startswith(term) for w in found)
        else:
            edits = 2 if len(term) > 5 else 1 if len(term) > 2 else 0
            ok = any(edit_distance(w, term) <= edits for w in found)
        if not ok:
            return False
    return True


def suggest_matches(query: str, values: list[str | None]) -> bool:
    found = words_of(" ".join(v for v in values if v))
    return all(any(w.startswith(t) for w in found) for t in words_of(query))


def text_of(offer: Any, fields: tuple[str, ...] = TEXT_FIELDS) -> list[str | None]:
    return [getattr(offer, f) for f in fields]


# -- search() and bare strings --------------------------------------------------------------------

SEARCHES = ["developpeu", "EDUCATEUR", "paris", "cdd lyon", "boulangr cdd", "devlopeur web", "devlopeuse web",
            "lyn cdi", "infirmer de nuit", "chef de", "de", "nowhere", "", "Chargé d'acceuil",
            "agnt entretien", "data enginer", "x", "paris cdd", "développeurs"]


@pytest.mark.parametrize("query", SEARCHES)
def test_search_finds_words_fuzzily_by_length_with_the_last_one_as_a_prefix(
        query: str, where_ids: Ids, offers: list[Any]) -> None:
    expected = [o.id for o in offers if search_matches(query, text_of(o))]
    quoted = repr(query)
    assert where_ids(f"search(*, {quoted})") == expected
    assert where_ids(f"search({quoted})") == expected
    assert where_ids(quoted) == expected  # a string alone is search() on every text field


def test_search_tolerates_typos_as_documented(where_ids: Ids) -> None:
    assert where_ids("search('boulangr cdd')") == [5]      # 1 edit in a 8-letter word
    assert where_ids("search('devlopeuse web')") == [6]    # 2 edits past 5 letters
    assert where_ids("search('lyn cdi')") == [4]           # 1 edit in a 3-letter word
    assert where_ids("search('cdd lyon')") == [3, 4]       # CDI is one edit from CDD
    assert where_ids("search('lyon cd')") == [3, 4]        # the last word is a prefix
    assert where_ids("search('pqris cdi')") == [1, 2]      # 1 edit in 5 letters
    assert where_ids("search('pqrss cdi')") == []          # but not 2
    assert where_ids("search('de cdi')") == [4, 8]         # 2 letters must be exact


def test_the_reference_example_of_search_matches(con: duckdb.DuckDBPyConnection) -> None:
    assert _book_ids(con, "search(title, \"bok of secret\")") == [1, 3]


def test_search_on_named_fields_and_combined_with_other_filters(where_ids: Ids,
                                                                 offers: list[Any]) -> None:
    assert where_ids("search(title, 'chef')") == [8]
    assert where_ids("search(title, 'paris')") == []
    assert where_ids("search(title, city, 'paris')") == [1, 2, 7, 10]
    assert where_ids("search(city, `contract type`, 'paris cdi')") == [1, 2]
    assert where_ids("'interim' or salary > 4400") == [7, 8]
    assert where_ids("not 'paris'") == [o.id for o in offers
                                        if not search_matches("paris", text_of(o))]
    assert where_ids("search(title, 'dev') and suggest(city, 'nan')") == [6]
    assert where_ids("search('" + "chef " * (MAX_WORDS - 1) + "proj')") == [8]  # the most


# -- suggest() and startswith() ---------------------------------------------------------------------

@pytest.mark.parametrize("query", ["dev", "pa", "CD", "de pro", "d", "zzz", "in", "Éduc"])
def test_suggest_finds_words_starting_with_each_word(query: str, where_ids: Ids,
                                                     offers: list[Any]) -> None:
    expected = [o.id for o in offers if suggest_matches(query, text_of(o))]
    assert where_ids(f"suggest({query!r})") == expected
    assert where_ids(f"suggest(*, {query!r})") == expected
    assert where_ids(f"suggest(title, {query!r})") == [
        o.id for o in offers if suggest_matches(query, text_of(o, ("title",)))]


@pytest.mark.parametrize("prefix", ["Dé", "Développeu", "CD", "Paris", "pa", "Lyo", "In", "Z"])
def test_startswith_compares_whole_values_keeping_case(prefix: str, where_ids: Ids,
                                                       offers: list[Any]) -> None:
    def starts(o: Any, fields: tuple[str, ...]) -> bool:
        return any(v is not None and v.startswith(prefix) for v in text_of(o, fields))

    assert where_ids(f"startswith({prefix!r})") == [o.id for o in offers
                                                    if starts(o, TEXT_FIELDS)]
    assert where_ids(f"startswith(*, {prefix!r})") == [o.id for o in offers
                                                       if starts(o, TEXT_FIELDS)]
    assert where_ids(f"startswith(title, city, {prefix!r})") == [
        o.id for o in offers if starts(o, ("title", "city"))]


def test_the_reference_examples_of_suggest_and_startswith(con: duckdb.DuckDBPyConnection
                                                          ) -> None:
    assert _book_ids(con, "suggest(*, 'film')") == [4, 5, 6]
    assert _book_ids(con, "suggest('film')") == [4, 5, 6]
    assert _book_ids(con, "startswith(title, 'SECRET')") == [2]
    assert _book_ids(con, "startswith(title, 'secret')") == []


# -- like ------------------------------------------------------------------------------------------

def test_like_finds_a_word_and_star_stands_for_letters(where_ids: Ids) -> None:
    assert where_ids("title like 'developp*'") == [1, 6]
    assert where_ids("title like 'DE'") == [4, 8]                 # the word "de", not "Dé..."
    assert where_ids("title like '*de*'") == [1, 4, 6, 8]
    assert where_ids("title like 'boulanger'") == [5]
    assert where_ids("title like 'boulang'") == []                # a word, not a substring
    assert where_ids("title like 'chef projet'") == [8]           # every word, in any place
    assert where_ids("city like 'PARIS'") == [1, 2, 7, 10]
    assert where_ids("title not like '*e*'") == []
    assert where_ids("city not like 'paris'") == [3, 4, 5, 6, 8]  # null cities stay out
    assert where_ids("title like '100%'") == []
    assert where_ids("`contract type` like 'interim'") == [7]


def test_the_reference_examples_of_like(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE schools AS SELECT * FROM (VALUES
        (1, 'high school'), (2, 'school'), (3, 'school bus'), (4, 'schoolbag'),
        (5, 'Schoolbook')) AS t(id, name)""")

    def ids(where: str) -> list[int]:
        sql = build_query(QueryRequest(select="id", where=[where], order_by="id"),
                          {"id": "integer", "name": "text"},
                          exp.to_table("schools")).sql("duckdb")
        return [r[0] for r in con.execute(sql).fetchall()]

    assert ids('name like "school"') == [1, 2, 3]
    assert ids('name like "school*"') == [1, 2, 3, 4, 5]


# -- the compiled form other searches reuse --------------------------------------------------------

def test_text_search_is_a_condition_over_any_columns(con: duckdb.DuckDBPyConnection,
                                                     offers: list[Any]) -> None:
    columns = [exp.column("title"), exp.column("contract type", quoted=True)]
    for query, mode, matches in (("chef cdi", "search", search_matches),
                                 ("dev cd", "suggest", suggest_matches)):
        condition = text_search(query, columns, mode=mode)
        sql = exp.select("id").from_("offers").where(condition).order_by("id").sql("duckdb")
        assert [r[0] for r in con.execute(sql).fetchall()] == [
            o.id for o in offers if matches(query, text_of(o, ("title", "contract")))]


def test_search_text_never_becomes_sql(con: duckdb.DuckDBPyConnection,
                                       where_ids: Ids) -> None:
    for text in ("x'); drop table offers; --", "%", "_", "\\\\", "100% \"chef\""):
        quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        for where in (f"search({quoted})", f"suggest({quoted})", f"startswith({quoted})",
                      f"title like {quoted}", quoted):
            with contextlib.suppress(QueryError):  # like without a word is refused
                where_ids(where)
    assert con.execute("SELECT count(*) FROM offers").fetchone() == (10,)


@pytest.mark.parametrize("where, position, words", [
    ("search(title, 3)", 14, "ends with a quoted text"),
    ("search(salary, 'x')", 7, "search() needs text"),
    ("suggest(*, city, 'x')", 8, "'*' stands alone"),
    ("startswith(published, 'x')", 11, "startswith() needs text"),
    ("title like '!!'", 6, "at least one letter"),
    ("salary like 'x'", 0, "like needs text"),
    ("title = 'a' or search(title, '" + "w " * 33 + "')", 29, "at most 32 words, not 33"),
    ("'" + "w " * 40 + "'", 0, "at most 32 words"),
    ("title like '" + "w* " * 33 + "'", 6, "at most 32 words"),
])
def test_text_filter_errors_say_what_and_where(where: str, position: int, words: str,
                                               schema: dict[str, str],
                                               source: exp.Expression) -> None:
    with pytest.raises(QueryError) as info:
        build_query(QueryRequest(where=[where]), schema, source)
    assert (info.value.clause, info.value.position) == ("where", position)
    assert words in info.value.message


# -- a small table of book titles for the reference's own examples ---------------------------------

def _book_ids(con: duckdb.DuckDBPyConnection, where: str) -> list[int]:
    con.execute("""CREATE OR REPLACE TEMP TABLE books AS SELECT * FROM (VALUES
        (1, 'THE BOOK OF SECRETS'), (2, 'SECRET DEFENSE'), (3, 'book of secret'),
        (4, 'A film'), (5, 'Films of the year'), (6, 'Filmography'), (7, 'Microfilm'))
        AS t(id, title)""")
    sql = build_query(QueryRequest(select="id", where=[where], order_by="id"),
                      {"id": "integer", "title": "text"}, exp.to_table("books")).sql("duckdb")
    return [r[0] for r in con.execute(sql).fetchall()]
