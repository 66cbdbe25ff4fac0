"""Random and mutated ODSQL: every text either compiles to SQL DuckDB runs, or is a QueryError
(the parser and the compiler never raise anything else)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import QueryRequest, build_count, build_facet, build_query

FIELDS = ["id", "title", "city", "salary", "rate", "remote", "published", "created", "geo",
          "`contract type`", "ghost", "`we ird`"]
LITERALS = [
    "1", "0", "-2", "3.5", "1e3", "2500", "99999999999999999999", "9007199254740993", "1e308",
    "'Paris'", '"Lyon"', "'a\\'b'", "''", "'dev*'", "'%_'", "'2024'", "'2024/05'", "'x\\\\'",
    "date'2024'", "date'2024-02-30'", "date'2024-05-03T10:00:00Z'", "date'0001-01-01'",
    "date'9998-12-31T23:59:59-12:00'", "date'9999'", "date'garbage'", "true", "false", "null",
    "geom'POINT(2.35 48.85)'", "geom'POINT(-179.9 89.9)'",
    "geom'POLYGON((2 48, 3 48, 3 49, 2 49, 2 48))'",
    "geom'POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))'", "geom'LINESTRING(1 1, 1 1)'",
    "geom'MULTIPOINT((1 2), (3 4))'", "geom'{\"type\": \"Point\", \"coordinates\": [2, 48]}'",
    "geom'POINT EMPTY'", "geom'nonsense'", "1km", "0.5 mi", "10000000km", "2 days", "1 month",
    "10000 years", "1.5 day", "3 ft", "1M", "1q", "2d", "15m", "3ms", "1 quarter", "20cm",
    "date'2024-02-03T23:00:00Z'", "+1", "'bok of secre'", "'dev* pro'", "'!!'",
]
KEYWORDS = ["and", "or", "not", "in", "like", "is", "null", "as", "asc", "desc", "distinct",
            "is not null", "is true", "not in", "not like", "days=", "year=", "mondays=",
            "weekday=", "INTERSECTS", "WITHIN", "DISJOINT"]
OPERATORS = ["=", "!=", "<>", "<", "<=", ">", ">=", ":", "+", "-", "*", "/", "(", ")", "[",
             "]", ",", "..", ";", "--", "/*", "*/", "'", '"', "`", "?", "%", "\\", "|", "@"]
FUNCTIONS = ["count(", "avg(", "sum(", "min(", "max(", "median(", "percentile(", "bbox(",
             "year(", "month(", "day(", "hour(", "minute(", "second(", "date_format(", "now()",
             "search(", "startswith(", "within_distance(", "in_bbox(", "intersects(",
             "within(", "disjoint(", "range(", "random(", "include(", "exclude(",
             "suggest(", "lower(", "upper(", "length(", "distance(", "geometry(", "envelope(",
             "geo_cluster(", "now(days=-7)", "now(year=2000, months=-1, weekday=2)", "now(",
             "search(*, ", "startswith(*, ",
             "read_csv(", "getenv(", "pg_sleep(", "'; drop table offers; --"]
#: The function atoms that name ODSQL functions (the last ones are hostile text).
ODSQL_FUNCTIONS = FUNCTIONS[:-4]
CALLS = ["count(*)", "count(distinct city)", "avg(salary)", "sum(rate)", "max(published)",
         "median(rate)", "percentile(salary, 10)", "bbox(geo)", "year(created)", "now()",
         "date_format(created, 'yyyy-MM-dd HH:mm')", "search('paris')", "random(3)",
         "range(salary, 500)", "range(created, 2 weeks)", "range(rate, *, 0.5, 1, *)",
         "suggest('dev')", "search(*, 'paris cdi')", "search('bok of secre')",
         "startswith('Pa')", "lower(title)", "upper(city)", "length(title)",
         "distance(geo, geom'POINT(2.35 48.85)')", "distance(geo, geom'POINT(2.35 48.85)', 2km)",
         "geometry(geo, geom'POLYGON((2 48, 3 48, 3 49, 2 49, 2 48))', WITHIN)",
         "envelope(geo)", "geo_cluster(geo, 5)", "geo_cluster(geo, 12, 80)",
         "now(days=-7, hour=0)", "now(year=9999, months=12)", "now(mondays=-1)",
         "now(year=1, days=-1)", "range(published, *, date'2024-01', date'2024-06', *)",
         "range(created, 1M)", "range(created, 1q)", "title like 'dev* pro'"]
ATOMS = FIELDS + LITERALS + KEYWORDS + OPERATORS + FUNCTIONS + CALLS

# A corpus of valid queries per clause, for mutation.
VALID = {
    "where": [
        "salary > 2000 and (city = 'Paris' or city:Lyon)",
        "not remote is true and published >= date'2024-02'",
        "title like 'dév*' or search(title, 'chef') or startswith(city, 'Pa')",
        "salary in [1900..2300[ and city in ('Lyon', \"Paris\")",
        "within_distance(geo, geom'POINT(2.3522 48.8566)', 2km) or in_bbox(geo, 43, -2, 46, 6)",
        "intersects(geo, geom'POLYGON((2 48, 3 48, 3 49, 2 49, 2 48))') and year(created) = 2024",
        "'paris' and published:'2024/05' and rate * 2 >= 1.5 and `contract type` != 'CDD'",
        "search(*, 'developeur pyth') and suggest(city, 'pa') or startswith('CD')",
        "title like 'dev*' and distance(geo, geom'POINT(2.35 48.85)', 10km) and "
        "geometry(geo, geom'POLYGON((2 48, 3 48, 3 49, 2 49, 2 48))', within)",
        "created > now(days=-7, hour=0) and length(title) > 5 and lower(city) = 'paris'",
    ],
    "select": [
        "id, salary * 12 as yearly, title, `contract type`",
        "count(*), avg(salary), sum(rate), min(published), max(created), median(salary)",
        "percentile(salary, 90) as p, count(distinct city), bbox(geo)",
        "include(c*), exclude(geo), year(created) as y, date_format(published, 'yyyy-MM')",
        "lower(title), upper(city) as u, length(title), now(years=-1, weekday=0) as t, "
        "distance(geo, geom'POINT(2.35 48.85)') as d",
        "envelope(geo), bbox(geo) as b, median(salary)",
    ],
    "group_by": [
        "city, range(salary, 1000) as band",
        "range(salary, *, 2000, 3000, *), remote",
        "range(published, 1 month), year(created) as y",
        "date_format(created, 'yyyy') as year, `contract type`",
        "geo_cluster(geo, 5) as c, city",
        "range(published, *, date'2024-01', date'2024-06', *) as r, range(created, 1M)",
        "upper(city), length(title) as n",
    ],
    "order_by": [
        "salary desc, id", "random(42)", "title asc, published desc", "year(created), rate",
        "length(title) desc, distance(geo, geom'POINT(2.35 48.85)')", "lower(city), now()",
    ],
}
SCHEMA = {
    "id": "integer", "title": "text", "city": "text", "salary": "integer", "rate": "decimal",
    "remote": "boolean", "published": "date", "created": "datetime", "geo": "geometry",
    "contract type": "text",
}
SOURCE = exp.to_table("offers")
# Recursive strategies built from long atom lists have huge reprs; hypothesis warns about it.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
FUZZ = settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

soup = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=14).map(" ".join)
tight_soup = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=10).map("".join)
noise = st.text(max_size=60)


@st.composite
def mutated(draw: st.DrawFn, clause: str) -> str:
    """A valid query of ``clause`` with a few random cuts, insertions and swaps."""
    text = draw(st.sampled_from(VALID[clause]))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["cut", "insert", "atom", "dup"]))
        if action == "cut":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        elif action == "insert":
            text = text[:pos] + draw(st.text(min_size=1, max_size=3)) + text[pos:]
        elif action == "atom":
            text = text[:pos] + " " + draw(st.sampled_from(ATOMS)) + " " + text[pos:]
        else:
            end = draw(st.integers(pos, len(text)))
            text = text[:end] + text[pos:end] + text[end:]
    return text


def leaf() -> st.SearchStrategy[str]:
    field = st.sampled_from(FIELDS)
    value = st.sampled_from(LITERALS + FIELDS + CALLS)
    op = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", ":", "+", "-", "*", "/"])
    return st.one_of(
        st.tuples(field, op, value).map(" ".join),
        st.tuples(field, st.sampled_from(["in", "not in"]), st.lists(
            st.sampled_from(LITERALS), min_size=1, max_size=4).map(", ".join)).map(
            lambda t: f"{t[0]} {t[1]} ({t[2]})"),
        st.tuples(field, st.sampled_from("[]"), value, value, st.sampled_from("[]")).map(
            lambda t: f"{t[0]} in {t[1]}{t[2]}..{t[3]}{t[4]}"),
        st.tuples(st.sampled_from(ODSQL_FUNCTIONS), st.lists(value, max_size=5)).map(
            lambda t: t[0] + ", ".join(t[1]) + ("" if t[0].endswith(")") else ")")),
        st.tuples(field, st.sampled_from(["is null", "is not null", "is true",
                                          "like 'a*'", "not like '*'"])).map(" ".join),
        value,
    )


expressions = st.recursive(leaf(), lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["and", "or", "+", "*", "-", "/", "="]), inner).map(
        " ".join),
    inner.map(lambda e: f"not ({e})"),
    inner.map(lambda e: f"({e})"),
), max_leaves=8)


def check(con: duckdb.DuckDBPyConnection, req: QueryRequest) -> None:
    """Either a QueryError while building, or SQL that DuckDB runs without error."""
    try:
        sqls = [build_query(req, SCHEMA, SOURCE).sql("duckdb"),
                build_count(req, SCHEMA, SOURCE).sql("duckdb")]
    except QueryError:
        return
    for sql in sqls:
        try:
            con.execute(sql).fetch_arrow_table()
        except duckdb.Error as exc:  # pragma: no cover - reported with the SQL that failed
            raise AssertionError(f"DuckDB refused SQL built from {req!r}:\n{sql}") from exc


def request(clause: str, text: str) -> QueryRequest:
    if clause == "where":
        return QueryRequest(where=[text])
    if clause == "group_by":
        return QueryRequest(select="count(*)", group_by=text)
    if clause == "select":
        return QueryRequest(select=text)
    return QueryRequest(order_by=text)


def _run(con: duckdb.DuckDBPyConnection, clause: str, text: str) -> None:
    check(con, request(clause, text))


@FUZZ
@given(text=st.one_of(soup, tight_soup, noise, mutated("where"), expressions))
def test_fuzzed_where_clauses(con: duckdb.DuckDBPyConnection, text: str) -> None:
    _run(con, "where", text)


@FUZZ
@given(text=st.one_of(soup, tight_soup, noise, mutated("select"),
                      st.lists(expressions, min_size=1, max_size=3).map(", ".join)))
def test_fuzzed_select_clauses(con: duckdb.DuckDBPyConnection, text: str) -> None:
    _run(con, "select", text)


@FUZZ
@given(text=st.one_of(soup, tight_soup, noise, mutated("group_by"),
                      st.lists(expressions, min_size=1, max_size=2).map(", ".join)))
def test_fuzzed_group_by_clauses(con: duckdb.DuckDBPyConnection, text: str) -> None:
    _run(con, "group_by", text)


@FUZZ
@given(text=st.one_of(soup, tight_soup, noise, mutated("order_by"), expressions))
def test_fuzzed_order_by_clauses(con: duckdb.DuckDBPyConnection, text: str) -> None:
    _run(con, "order_by", text)


@settings(max_examples=400, deadline=None)
@given(select=st.sampled_from([None, *VALID["select"]]),
       group_by=st.sampled_from([None, *VALID["group_by"]]),
       order_by=st.one_of(st.none(), st.sampled_from(VALID["order_by"]), expressions),
       where=st.lists(st.one_of(st.sampled_from(VALID["where"]), expressions), max_size=2),
       timezone=st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati", "Nowhere/City"]))
def test_fuzzed_whole_requests(con: duckdb.DuckDBPyConnection, select: str | None,
                               group_by: str | None, order_by: str | None, where: list[str],
                               timezone: str) -> None:
    check(con, QueryRequest(select=select, group_by=group_by, order_by=order_by, where=where,
                            timezone=timezone, limit=5))


refine_value = st.one_of(st.sampled_from(["2024", "2024/05", "2024/05/03", "2024-13", "true",
                                          "0", "1.5", "Paris", "", "abc", "1e999", "nan"]),
                         st.text(max_size=12))


@settings(max_examples=600, deadline=None)
@given(refine=st.lists(st.tuples(st.sampled_from(list(SCHEMA) + ["ghost", ""]), refine_value)
                       .map(":".join), max_size=2),
       exclude=st.lists(st.tuples(st.sampled_from(list(SCHEMA)), refine_value)
                        .map(":".join), max_size=2),
       facet=st.sampled_from(list(SCHEMA) + ["ghost"]),
       sort=st.sampled_from(["count", "-count", "value", "-value", "alphanum", "bad"]),
       level=st.sampled_from(["year", "month", "day", "week"]))
def test_fuzzed_refines_excludes_and_facets(con: duckdb.DuckDBPyConnection, refine: list[str],
                                            exclude: list[str], facet: str, sort: str,
                                            level: str) -> None:
    req = QueryRequest(refine=refine, exclude=exclude, timezone="Europe/Paris")
    check(con, req)
    try:
        sql = build_facet(facet, req, SCHEMA, SOURCE, sort=sort, limit=3,
                          date_level=level).sql("duckdb")
    except QueryError:
        return
    rows: Any = con.execute(sql).fetch_arrow_table()
    assert rows.num_columns == 2
